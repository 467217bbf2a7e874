//! Drives one move through its phases. Every transition is written to the
//! control database first, so any attempt can pick up where the last one stopped;
//! and every write is conditional on the attempt's number, so only the newest
//! attempt can change anything (a stale one gets `LostOwnership` and stops).

use tracing::{info, instrument, warn};

use super::Mover;
use super::error::{Context, MoveError};
use super::mechanics::lock;
use super::mechanics::routes::{check_route, control_conn};
use super::outcome::{MoveOutcome, Run, Timings};
use super::phases::{self, Attempt, PhaseContext};
use super::progress::ProgressSink;
use crate::control::migrations;
use crate::control::tables;
use crate::domain::{MoveRecord, Phase, Status};
use crate::ids::MoveId;

impl Mover {
    /// Runs (or resumes) a move to its end. Transient errors leave it resumable;
    /// permanent ones before cutover roll it back.
    pub async fn run(&self, id: MoveId, sink: &dyn ProgressSink) -> Result<MoveOutcome, MoveError> {
        self.run_attempt(id, sink).await.result
    }

    /// `run`, also saying which attempt it started, for the job layer.
    #[instrument(skip_all, fields(migration_id = %id, website_id))]
    pub async fn run_attempt(&self, id: MoveId, sink: &dyn ProgressSink) -> Run {
        self.locked_attempt(id, sink)
            .await
            .unwrap_or_else(|error| Run::unstarted(Err(error)))
    }

    /// The move's current state without running it.
    pub async fn run_report(&self, id: MoveId) -> Result<MoveOutcome, MoveError> {
        let record = self.load(id).await?;
        self.outcome(record, Timings::default()).await
    }

    async fn locked_attempt(&self, id: MoveId, sink: &dyn ProgressSink) -> Result<Run, MoveError> {
        let record = self.load(id).await?;
        tracing::Span::current().record("website_id", record.website.get());
        if record.status.is_final() {
            return Ok(Run::unstarted(self.run_report(id).await));
        }
        let guard = lock::acquire(&self.app.control, record.website, id).await?;
        let run = self.attempt(id, sink).await;
        guard.release().await;
        run
    }

    async fn attempt(&self, id: MoveId, sink: &dyn ProgressSink) -> Result<Run, MoveError> {
        let mut conn = control_conn(&self.app).await?;
        let token = migrations::start_attempt(&mut conn, id)
            .await
            .context(|| "starting the attempt".into())?;
        drop(conn);
        let Some(token) = token else {
            // Ended while we waited for the lock (cancelled in the queue, say).
            return Ok(Run::unstarted(self.run_report(id).await));
        };
        Ok(Run {
            attempt: Some(token),
            result: self.attempt_as(id, token, sink).await,
        })
    }

    /// Drives the move as attempt `token`.
    async fn attempt_as(
        &self,
        id: MoveId,
        token: i32,
        sink: &dyn ProgressSink,
    ) -> Result<MoveOutcome, MoveError> {
        let mut attempt = Attempt::new(&self.app, token, self.load(id).await?, sink);
        // Past cutover nothing is rolled back, whatever an older version recorded.
        if attempt.record.rollback_required && attempt.record.phase < Phase::Cleanup {
            let error = MoveError::Previously {
                code: attempt.record.error_code.clone().unwrap_or_default(),
                message: attempt.record.error_message.clone().unwrap_or_default(),
            };
            return Err(self.fail(&attempt.record, token, error).await);
        }
        match self.drive(&mut attempt).await {
            Ok(()) => {
                info!(website_id = %attempt.record.website, "move completed");
                let mut outcome = self.outcome(self.load(id).await?, attempt.timings).await?;
                outcome.source_rows_deleted = attempt.source_rows_deleted;
                Ok(outcome)
            }
            Err(error @ MoveError::LostOwnership { .. }) => {
                // Benign: the newer attempt carries the move on; touch nothing more.
                warn!(error = %error, "a newer attempt owns the move; this one stops");
                Err(error)
            }
            Err(error) if error.is_transient() => {
                warn!(error = %error, "move interrupted; it resumes from its last checkpoint");
                if let Ok(mut conn) = self.app.control.acquire().await {
                    let _ = migrations::record_error(
                        &mut conn,
                        id,
                        token,
                        error.code(),
                        &error.one_line(),
                        false,
                    )
                    .await;
                }
                Err(error)
            }
            Err(error) => {
                // The phase and cleanup steps this attempt reached.
                let record = self.load(id).await.unwrap_or(attempt.record);
                Err(self.fail(&record, token, error).await)
            }
        }
    }

    /// The phases (`phases::walk`) on the move's route, then its completion.
    async fn drive(&self, attempt: &mut Attempt<'_>) -> Result<(), MoveError> {
        let (id, token) = (attempt.record.id, attempt.token);
        let record = &attempt.record;
        let route = check_route(&self.app, record.website, &record.source, &record.target)?;
        phases::walk(&mut PhaseContext::new(&self.app, attempt, route)).await?;
        let ended = self
            .record_ending(id, token, Status::Completed)
            .await
            .context(|| "recording completion".into())?;
        attempt.owned(ended)?;
        attempt.tracker.set_phase(Phase::Done);
        Ok(())
    }

    async fn load(&self, id: MoveId) -> Result<MoveRecord, MoveError> {
        let mut conn = control_conn(&self.app).await?;
        migrations::find(&mut conn, id)
            .await
            .context(|| "reading the move".into())?
            .ok_or(MoveError::UnknownMigration(id))
    }

    async fn outcome(
        &self,
        record: MoveRecord,
        timings: Timings,
    ) -> Result<MoveOutcome, MoveError> {
        let mut conn = control_conn(&self.app).await?;
        let tables = tables::list(&mut conn, record.id)
            .await
            .context(|| "reading table results".into())?;
        Ok(MoveOutcome {
            record,
            tables,
            timings,
            source_rows_deleted: 0,
        })
    }
}
