//! Progress of a running move: kept in memory, written to the control database
//! at least once a second while copying, and shown to whoever is watching.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::error::{Context, MoveError};
use crate::control::{migrations, tables};
use crate::domain::Phase;
use crate::ids::MoveId;

/// What a watcher (a terminal progress bar, a log line) sees.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub phase: Phase,
    pub rows_total: u64,
    pub rows_copied: u64,
    pub current_table: Option<String>,
}

pub trait ProgressSink: Send + Sync {
    fn update(&self, snapshot: &Snapshot);
}

/// A sink that shows nothing (workers rely on the control database instead).
pub struct Silent;

impl ProgressSink for Silent {
    fn update(&self, _: &Snapshot) {}
}

const PERSIST_EVERY: Duration = Duration::from_millis(500);

pub struct Tracker<'a> {
    control: &'a PgPool,
    migration: MoveId,
    /// The attempt's ownership token: every write here is conditional on it.
    attempt: i32,
    sink: &'a dyn ProgressSink,
    stopping: &'a AtomicBool,
    snapshot: Snapshot,
    table_rows: i64,
    last_persist: Instant,
}

impl<'a> Tracker<'a> {
    pub fn new(
        control: &'a PgPool,
        migration: MoveId,
        attempt: i32,
        sink: &'a dyn ProgressSink,
        stopping: &'a AtomicBool,
    ) -> Self {
        Self {
            control,
            stopping,
            migration,
            attempt,
            sink,
            snapshot: Snapshot {
                phase: Phase::Queued,
                rows_total: 0,
                rows_copied: 0,
                current_table: None,
            },
            table_rows: 0,
            last_persist: Instant::now(),
        }
    }

    pub fn set_phase(&mut self, phase: Phase) {
        self.snapshot.phase = phase;
        self.sink.update(&self.snapshot);
    }

    pub fn set_totals(&mut self, rows_total: u64, rows_copied: u64) {
        self.snapshot.rows_total = rows_total;
        self.snapshot.rows_copied = rows_copied;
        self.sink.update(&self.snapshot);
    }

    /// Starts a table whose first `already` rows were copied by an earlier attempt
    /// (they count towards the move's total, so a resumed move's progress is true).
    pub fn start_table(&mut self, table: &str, already: u64) {
        self.snapshot.current_table = Some(table.to_owned());
        self.snapshot.rows_copied += already;
        self.table_rows = already as i64;
        self.sink.update(&self.snapshot);
    }

    /// Counts rows streamed to the target; persists when due or when `force`.
    pub async fn add_rows(&mut self, rows: u64, force: bool) -> Result<(), MoveError> {
        self.table_rows += rows as i64;
        self.snapshot.rows_copied += rows;
        self.sink.update(&self.snapshot);
        if force || self.last_persist.elapsed() >= PERSIST_EVERY {
            self.persist().await?;
        }
        Ok(())
    }

    async fn persist(&mut self) -> Result<(), MoveError> {
        let table = self.snapshot.current_table.clone().unwrap_or_default();
        let mut conn = self
            .control
            .acquire()
            .await
            .context(|| "connecting to the control database".into())?;
        let owned = tables::record_copied(
            &mut conn,
            self.migration,
            self.attempt,
            &table,
            self.table_rows,
            self.snapshot.rows_copied as i64,
        )
        .await
        .context(|| "recording copy progress".into())?;
        if !owned {
            return Err(self.lost());
        }
        self.last_persist = Instant::now();
        Ok(())
    }

    /// Fails with `Interrupted` when the process is shutting down, with
    /// `LostOwnership` once a newer attempt owns the move, and with `Cancelled`
    /// once someone has asked for this move to stop.
    pub async fn check_cancel(&self) -> Result<(), MoveError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(MoveError::Interrupted);
        }
        let mut conn = self
            .control
            .acquire()
            .await
            .context(|| "connecting to the control database".into())?;
        let claim = migrations::claim(&mut conn, self.migration, self.attempt, false)
            .await
            .context(|| "reading the cancel flag".into())?;
        if !claim.owned {
            return Err(self.lost());
        }
        if claim.cancel_requested {
            return Err(MoveError::Cancelled);
        }
        Ok(())
    }

    fn lost(&self) -> MoveError {
        MoveError::LostOwnership {
            migration: self.migration,
            attempt: self.attempt,
        }
    }
}
