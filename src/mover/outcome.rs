//! How a move's run ended, as the engine's callers see it: the move's record,
//! its tables, the time each phase took, and which attempt the run started.

use std::time::Duration;

use crate::control::tables::TableProgress;
use crate::domain::MoveRecord;
use crate::mover::error::MoveError;

/// Wall time per phase of this attempt (phases skipped on resume stay zero).
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub preflight: Duration,
    pub copy: Duration,
    /// Online moves: catching up, and the freeze (fence to registry switch).
    pub catch_up: Duration,
    pub freeze: Duration,
    pub verify: Duration,
    pub cutover: Duration,
    pub cleanup: Duration,
}

#[derive(Debug, Clone)]
pub struct MoveOutcome {
    pub record: MoveRecord,
    pub tables: Vec<TableProgress>,
    pub timings: Timings,
    /// Source rows this attempt's cleanup deleted.
    pub source_rows_deleted: u64,
}

/// One run of a move as the job layer sees it: the attempt the run started (none
/// if it stopped before, e.g. because another process holds the website) and
/// how it ended. The job acts on the move only under that attempt's number.
#[derive(Debug)]
pub struct Run {
    pub attempt: Option<i32>,
    pub result: Result<MoveOutcome, MoveError>,
}

impl Run {
    pub(super) fn unstarted(result: Result<MoveOutcome, MoveError>) -> Self {
        Self {
            attempt: None,
            result,
        }
    }
}
