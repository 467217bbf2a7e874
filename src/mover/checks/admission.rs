//! May the target take this move? Its status and capacity (and, for new moves,
//! its stored health) from the control-database catalogue, so a change there
//! applies at once; capacity counts the target's websites and the moves
//! already heading there. `admission` answers; this says which move asks.

use crate::admission::{self as target_admission, Ask};
use crate::app::App;
use crate::ids::ShardName;
use crate::mover::error::MoveError;
use crate::shard_pools::PoolUse;

/// Which move the capacity and health checks are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Being recorded now: holds the catalogue row so requests count in turn.
    NewMove,
    /// Not recorded (a dry run): needs a free slot, takes no lock.
    DryRun,
    /// Recorded already, so it counts itself among the moves heading there.
    Recorded,
}

impl Admission {
    /// A dry run is a read: it never takes the connections running moves count on.
    pub(crate) fn pools(self) -> PoolUse {
        match self {
            Admission::DryRun => PoolUse::Read,
            Admission::NewMove | Admission::Recorded => PoolUse::Move,
        }
    }
}

/// Admits `admission`'s move to `target`, or says why not.
pub(crate) async fn check(
    conn: &mut sqlx::PgConnection,
    app: &App,
    target: &ShardName,
    admission: Admission,
) -> Result<(), MoveError> {
    let (extra, check_health, lock) = match admission {
        Admission::NewMove => (1, true, true),
        Admission::DryRun => (1, true, false),
        Admission::Recorded => (0, false, false),
    };
    let ask = Ask {
        extra,
        check_health,
        lock,
    };
    target_admission::admit(conn, &app.settings, target, ask)
        .await
        .map_err(MoveError::from)
}
