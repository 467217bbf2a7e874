//! One attempt at a move, as the phases see it: its ownership token, the move's
//! record, the copy plan and sequences once known, progress, and what it
//! measured. `run` creates it and hands it to the phases in their context.
//! Every control write of the attempt is here, each conditional on its token:
//! a stale attempt's write changes nothing and stops it (`LostOwnership`).

use sqlx::pool::PoolConnection;

use crate::app::App;
use crate::control::migrations::{self, CleanupStep};
use crate::control::tables;
use crate::domain::{MoveRecord, Phase};
use crate::mover::checks::schema_notes::{MaterializedView, follow_up};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::routes::control_conn;
use crate::mover::mechanics::sequences::OwnedSequence;
use crate::mover::mechanics::verify::Fingerprint;
use crate::mover::outcome::Timings;
use crate::mover::progress::{ProgressSink, Tracker};
use crate::tenancy::TenantTable;

/// What one attempt has learned so far.
pub(crate) struct Attempt<'a> {
    /// This attempt's number: the token every write of it is conditional on.
    pub(crate) token: i32,
    pub(crate) record: MoveRecord,
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
    /// Online moves: tables whose rows this attempt's copy verified at its
    /// snapshot (`verify::at_copy`); catch-up's bulk check leaves them out.
    pub(crate) verified_at_copy: Vec<String>,
    /// Online moves: tables whose foreign keys the copy checked once the
    /// table was copied; catch-up checks the others.
    pub(crate) references_checked: Vec<String>,
    /// Where the attempt's records go (the control database).
    app: &'a App,
}

impl<'a> Attempt<'a> {
    /// Attempt `token` at the move `record`, reporting progress to `sink`.
    pub(crate) fn new(
        app: &'a App,
        token: i32,
        record: MoveRecord,
        sink: &'a dyn ProgressSink,
    ) -> Self {
        Self {
            tracker: Tracker::new(&app.control, record.id, token, sink, app.stop_flag()),
            token,
            record,
            plan: None,
            sequences: None,
            timings: Timings::default(),
            source_rows_deleted: 0,
            freeze_drained: 0,
            fenced_at: None,
            cutover_sent: false,
            verified_at_copy: Vec::new(),
            references_checked: Vec::new(),
            app,
        }
    }

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

    /// A pooled connection to the control database.
    pub(crate) async fn control_conn(&self) -> Result<PoolConnection<sqlx::Postgres>, MoveError> {
        control_conn(self.app).await
    }

    /// Records the move in `phase`.
    pub(crate) async fn set_phase(&mut self, phase: Phase) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let moved = migrations::set_phase(&mut conn, self.record.id, self.token, phase)
            .await
            .context(|| "recording the phase".into())?;
        self.owned(moved)?;
        self.record.phase = phase;
        self.tracker.set_phase(phase);
        Ok(())
    }

    /// Both sides' fingerprints of a table, recorded on the move.
    pub(crate) async fn record_checksums(
        &mut self,
        table: &TenantTable,
        src: &Fingerprint,
        dst: &Fingerprint,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let recorded = tables::record_checksums(
            &mut conn,
            self.record.id,
            self.token,
            &table.name.to_string(),
            &src.display(),
            &dst.display(),
        )
        .await
        .context(|| "recording checksums".into())?;
        self.owned(recorded)
    }

    /// Catch-up's progress: changes applied, changes waiting, the replay rate.
    pub(crate) async fn record_catch_up(
        &mut self,
        applied: i64,
        waiting: i64,
        rate: Option<f64>,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let recorded = migrations::record_catch_up(
            &mut conn,
            self.record.id,
            self.token,
            applied,
            waiting,
            rate,
        )
        .await
        .context(|| "recording catch-up progress".into())?;
        self.owned(recorded)?;
        self.record.changes_applied = applied;
        self.record.changes_waiting = waiting;
        Ok(())
    }

    /// What the freeze waits for (sessions whose locks the fence would queue
    /// behind), or nothing.
    pub(crate) async fn record_freeze_wait(
        &mut self,
        waits_for: Option<&str>,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let recorded =
            migrations::record_freeze_wait(&mut conn, self.record.id, self.token, waits_for)
                .await
                .context(|| "recording what the freeze waits for".into())?;
        self.owned(recorded)?;
        self.record.freeze_waits_for = waits_for.map(str::to_owned);
        Ok(())
    }

    /// Records on the move what the operator must do after it (once per attempt).
    pub(crate) async fn record_follow_up(
        &mut self,
        views: &[MaterializedView],
    ) -> Result<(), MoveError> {
        let record = &self.record;
        let text = follow_up(views, record.source.as_str(), record.target.as_str());
        if text == record.follow_up {
            return Ok(());
        }
        let mut conn = self.control_conn().await?;
        let recorded =
            migrations::record_follow_up(&mut conn, self.record.id, self.token, text.as_deref())
                .await
                .context(|| "recording the move's follow-up".into())?;
        self.owned(recorded)?;
        self.record.follow_up = text;
        Ok(())
    }

    /// A cleanup step done.
    pub(crate) async fn record_cleanup_step(&mut self, step: CleanupStep) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let recorded = migrations::record_cleanup_step(&mut conn, self.record.id, self.token, step)
            .await
            .context(|| "recording a cleanup step".into())?;
        self.owned(recorded)
    }
}
