//! One attempt at a move, as the phases see it: its ownership token, the move's
//! record, the copy plan once known, progress, and what it measured. `run`
//! creates it and hands it to each phase.

use std::time::Duration;

use super::error::MoveError;
use super::progress::Tracker;
use super::sequences::OwnedSequence;
use crate::control::migrations::MigrationRecord;
use crate::control::tables::TableProgress;
use crate::tenancy::TenantTable;

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
    pub record: MigrationRecord,
    pub tables: Vec<TableProgress>,
    pub timings: Timings,
    /// Source rows this attempt's cleanup deleted.
    pub source_rows_deleted: u64,
}

/// What one attempt has learned so far.
pub(super) struct Attempt<'a> {
    /// This attempt's number: the token every write of it is conditional on.
    pub(super) token: i32,
    pub(super) record: MigrationRecord,
    pub(super) plan: Option<Vec<TenantTable>>,
    /// The target's sequences owned by each planned table, read once per attempt.
    pub(super) sequences: Option<Vec<Vec<OwnedSequence>>>,
    pub(super) tracker: Tracker<'a>,
    pub(super) timings: Timings,
    pub(super) source_rows_deleted: u64,
    /// Online moves: captured changes this attempt replayed inside the freeze.
    pub(super) freeze_drained: i64,
    /// Online moves: when this attempt's fence went up.
    pub(super) fenced_at: Option<std::time::Instant>,
    /// The cutover's commit was sent: whether it landed only the control
    /// database knows, so nothing may lift the fence on this attempt's word.
    pub(super) cutover_sent: bool,
}

impl Attempt<'_> {
    /// `FreezeOverLimit` once the fence this attempt raised has been up for
    /// `limit_ms`: the freeze gives up (and thaws) rather than go on.
    pub(super) fn within_freeze_limit(&self, limit_ms: u64) -> Result<(), MoveError> {
        match self.fenced_at {
            Some(at) if at.elapsed().as_millis() >= u128::from(limit_ms) => {
                Err(MoveError::FreezeOverLimit { limit_ms })
            }
            _ => Ok(()),
        }
    }

    /// `Ok` if a conditional write happened, `LostOwnership` if it did not.
    pub(super) fn owned(&self, written: bool) -> Result<(), MoveError> {
        if written {
            Ok(())
        } else {
            Err(MoveError::LostOwnership {
                migration: self.record.id,
                attempt: self.token,
            })
        }
    }
}
