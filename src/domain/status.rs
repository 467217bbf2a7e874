//! A move's status, phase and mode, and a notice's delivery state, as the
//! control database stores them (`shardmover.migrations`, `.notifications`).
//!
//! `pending` → `in_progress` → `completed`, or before cutover `failed` /
//! `cancelled` (rolled back). Past cutover a move only goes forward: a cleanup
//! that stops on a permanent error or exhausted retries leaves it
//! `cleanup_pending` (the website lives on the target; `finalize` resumes the
//! cleanup, which runs `in_progress` again and ends `completed`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    InProgress,
    /// Past cutover, the cleanup stopped: the website lives on the target.
    CleanupPending,
    Completed,
    Failed,
    Cancelled,
}

/// An email notice's delivery state in `shardmover.notifications`:
/// `pending` → `sent`, or `failed` once given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    Pending,
    Sent,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Preflight,
    /// Online moves: change capture is being installed on the source.
    Capturing,
    Copying,
    /// Online moves: captured changes are replayed until few enough wait.
    CatchingUp,
    /// Online moves: the website's writes are fenced and the last changes drained.
    Freezing,
    Verifying,
    Cutover,
    Cleanup,
    Done,
}

impl Phase {
    /// An online move in one of these phases has (or may have) its fence up:
    /// from the freeze to the registry switch.
    pub fn is_frozen(self) -> bool {
        matches!(self, Self::Freezing | Self::Verifying | Self::Cutover)
    }
}

/// How a move treats the website's writes: online keeps taking them until a
/// short final freeze; offline fences them for the whole move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MoveMode {
    #[default]
    Online,
    Offline,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($ty).to_lowercase())),
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        /// For reading the text column into the type (`#[sqlx(try_from = "String")]`).
        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
    };
}

text_enum!(Status {
    Pending => "pending",
    InProgress => "in_progress",
    CleanupPending => "cleanup_pending",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

text_enum!(NoticeStatus {
    Pending => "pending",
    Sent => "sent",
    Failed => "failed",
});

text_enum!(Phase {
    Queued => "queued",
    Preflight => "preflight",
    Capturing => "capturing",
    Copying => "copying",
    CatchingUp => "catching_up",
    Freezing => "freezing",
    Verifying => "verifying",
    Cutover => "cutover",
    Cleanup => "cleanup",
    Done => "done",
});

text_enum!(MoveMode {
    Online => "online",
    Offline => "offline",
});

impl Status {
    /// Ended for good: nothing will run again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Worth a notice: the final statuses, and a cleanup left pending (the
    /// website moved, but someone must resume its cleanup).
    pub fn is_announced(self) -> bool {
        self.is_final() || self == Self::CleanupPending
    }
}
