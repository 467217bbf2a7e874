//! One attempt at a move, as the phases see it: its ownership token, the move's
//! record, the copy plan and sequences once known, progress, and what it
//! measured. `run` creates it and hands it to each phase, and tells the job
//! layer which attempt it started (`Run`).

use std::time::Duration;

use sqlx::PgPool;

use crate::control::migrations::MigrationRecord;
use crate::control::tables::TableProgress;
use crate::mover::Mover;
use crate::mover::error::MoveError;
use crate::mover::progress::Tracker;
use crate::mover::sequences::{self, OwnedSequence};
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

/// One run of a move as the job layer sees it: the attempt the run started (none
/// if it stopped before, e.g. because another process holds the website) and
/// how it ended. The job acts on the move only under that attempt's number.
#[derive(Debug)]
pub struct Run {
    pub attempt: Option<i32>,
    pub result: Result<MoveOutcome, MoveError>,
}

impl Run {
    pub(crate) fn unstarted(result: Result<MoveOutcome, MoveError>) -> Self {
        Self {
            attempt: None,
            result,
        }
    }
}

/// What one attempt has learned so far.
pub(crate) struct Attempt<'a> {
    /// This attempt's number: the token every write of it is conditional on.
    pub(crate) token: i32,
    pub(crate) record: MigrationRecord,
    pub(crate) plan: Option<Vec<TenantTable>>,
    /// The target's sequences owned by each planned table, read once per attempt.
    pub(crate) sequences: Option<Vec<Vec<OwnedSequence>>>,
    pub(crate) tracker: Tracker<'a>,
    pub(crate) timings: Timings,
    pub(crate) source_rows_deleted: u64,
    /// Online moves: captured changes this attempt replayed inside the freeze.
    pub(crate) freeze_drained: i64,
    /// Online moves: when this attempt's fence went up.
    pub(crate) fenced_at: Option<std::time::Instant>,
    /// The cutover's commit was sent: whether it landed only the control
    /// database knows, so nothing may lift the fence on this attempt's word.
    pub(crate) cutover_sent: bool,
}

impl Attempt<'_> {
    /// `FreezeOverLimit` once the fence this attempt raised has been up for
    /// `limit_ms`: the freeze gives up (and thaws) rather than go on.
    pub(crate) fn within_freeze_limit(&self, limit_ms: u64) -> Result<(), MoveError> {
        match self.fenced_at {
            Some(at) if at.elapsed().as_millis() >= u128::from(limit_ms) => {
                Err(MoveError::FreezeOverLimit { limit_ms })
            }
            _ => Ok(()),
        }
    }

    /// `Ok` if a conditional write happened, `LostOwnership` if it did not.
    pub(crate) fn owned(&self, written: bool) -> Result<(), MoveError> {
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

impl Mover {
    /// The copy plan, discovered once per attempt (and re-checked against the target).
    pub(crate) async fn plan(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<Vec<TenantTable>, MoveError> {
        if attempt.plan.is_none() {
            let plan = self.discover_plan(source, target).await?;
            let views = self.views_reading(source, &plan).await?;
            self.record_follow_up(attempt, &views).await?;
            attempt.plan = Some(plan);
        }
        Ok(attempt.plan.clone().unwrap_or_default())
    }

    /// The target's sequences owned by each table of `plan`, read once per attempt
    /// (the freeze replays twice; the catalogue is not read again inside it).
    pub(crate) async fn owned_sequences(
        &self,
        attempt: &mut Attempt<'_>,
        target: &PgPool,
        plan: &[TenantTable],
    ) -> Result<Vec<Vec<OwnedSequence>>, MoveError> {
        if attempt.sequences.is_none() {
            let mut owned = Vec::with_capacity(plan.len());
            for table in plan {
                owned.push(sequences::owned(target, table).await?);
            }
            attempt.sequences = Some(owned);
        }
        Ok(attempt.sequences.clone().unwrap_or_default())
    }
}
