//! What `/ready` and `/metrics` know of a supervised worker: its state and
//! how often it was started again. Only `supervise` moves it, apart from
//! marking a worker that is off by configuration.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// A supervised worker's state, as `/ready` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Not started yet.
    Starting,
    /// Off by configuration (mail without an SMTP host): neither up nor down.
    Off,
    Running,
    /// Stopped unexpectedly; waiting to start again or not yet settled after a restart.
    Restarting,
    /// Ended because the process is shutting down.
    Stopped,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Off => "off",
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Stopped => "stopped",
        }
    }

    /// Whether the process can count on this worker: running, or not meant to run.
    pub fn is_ready(self) -> bool {
        matches!(self, Self::Running | Self::Off)
    }

    fn from_u8(value: u8) -> Self {
        [
            Self::Starting,
            Self::Off,
            Self::Running,
            Self::Restarting,
            Self::Stopped,
        ]
        .into_iter()
        .find(|state| *state as u8 == value)
        .unwrap_or(Self::Starting)
    }
}

/// What `/ready` and `/metrics` show about one supervised worker.
#[derive(Debug)]
pub struct WorkerHealth {
    pub name: &'static str,
    state: AtomicU8,
    restarts: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl WorkerHealth {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            state: AtomicU8::new(WorkerState::Starting as u8),
            restarts: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn state(&self) -> WorkerState {
        WorkerState::from_u8(self.state.load(Ordering::SeqCst))
    }

    pub(super) fn set(&self, state: WorkerState) {
        self.state.store(state as u8, Ordering::SeqCst);
    }

    /// Marks a worker this process does not run by configuration (mail off).
    pub fn turned_off(&self) {
        self.set(WorkerState::Off);
    }

    /// Times the worker stopped unexpectedly and was started again.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// The last failure, for the log-reading operator (never sent over HTTP).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("not poisoned").clone()
    }

    pub(super) fn failed(&self, why: String) {
        self.set(WorkerState::Restarting);
        self.restarts.fetch_add(1, Ordering::SeqCst);
        *self.last_error.lock().expect("not poisoned") = Some(why);
    }
}
