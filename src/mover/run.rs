//! Drives one move through its phases. Every transition is written to the
//! control database first, so any attempt can pick up where the last one stopped;
//! and every write is conditional on the attempt's number, so only the newest
//! attempt can change anything (a stale one gets `LostOwnership` and stops).

use std::time::Instant;

use tracing::{info, instrument, warn};

use super::attempt::{Attempt, MoveOutcome, Run, Timings};
use super::error::{Context, MoveError};
use super::preflight::Admission;
use super::progress::{ProgressSink, Tracker};
use super::{Mover, lock};
use crate::control::tables;
use crate::control::{MoveMode, Phase, Status, migrations, migrations::MigrationRecord};
use crate::ids::MigrationId;

impl Mover {
    /// Runs (or resumes) a move to its end. Transient errors leave it resumable;
    /// permanent ones before cutover roll it back.
    pub async fn run(
        &self,
        id: MigrationId,
        sink: &dyn ProgressSink,
    ) -> Result<MoveOutcome, MoveError> {
        self.run_attempt(id, sink).await.result
    }

    /// `run`, also saying which attempt it started, for the job layer.
    #[instrument(skip_all, fields(migration_id = %id, website_id))]
    pub async fn run_attempt(&self, id: MigrationId, sink: &dyn ProgressSink) -> Run {
        self.locked_attempt(id, sink)
            .await
            .unwrap_or_else(|error| Run::unstarted(Err(error)))
    }

    /// The move's current state without running it.
    pub async fn run_report(&self, id: MigrationId) -> Result<MoveOutcome, MoveError> {
        let record = self.load(id).await?;
        self.outcome(record, Timings::default()).await
    }

    async fn locked_attempt(
        &self,
        id: MigrationId,
        sink: &dyn ProgressSink,
    ) -> Result<Run, MoveError> {
        let record = self.load(id).await?;
        tracing::Span::current().record("website_id", record.website.get());
        if record.status.is_final() {
            return Ok(Run::unstarted(self.run_report(id).await));
        }
        let guard = lock::acquire(&self.control, record.website, id).await?;
        let run = self.attempt(id, sink).await;
        guard.release().await;
        run
    }

    async fn attempt(&self, id: MigrationId, sink: &dyn ProgressSink) -> Result<Run, MoveError> {
        let mut conn = self.control_conn().await?;
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
        id: MigrationId,
        token: i32,
        sink: &dyn ProgressSink,
    ) -> Result<MoveOutcome, MoveError> {
        let mut attempt = Attempt {
            token,
            record: self.load(id).await?,
            plan: None,
            sequences: None,
            tracker: Tracker::new(&self.control, id, token, sink, self.stop_flag()),
            timings: Timings::default(),
            source_rows_deleted: 0,
            freeze_drained: 0,
            fenced_at: None,
            cutover_sent: false,
        };
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
                if let Ok(mut conn) = self.control.acquire().await {
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

    async fn drive(&self, attempt: &mut Attempt<'_>) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let (source, target) = self.check_route(record.website, &record.source, &record.target)?;
        if record.phase <= Phase::Preflight {
            self.preflight_phase(attempt).await?;
        }
        if attempt.record.phase == Phase::Capturing {
            self.capture(attempt, source, target).await?;
            self.set_phase(attempt, Phase::Copying).await?;
        }
        let online = record.mode == MoveMode::Online;
        if online && attempt.record.phase.is_frozen() {
            // Stopped inside a freeze: never drain what built up since with
            // the fence up; catch up first.
            self.thaw(attempt, source).await?;
        }
        if attempt.record.phase == Phase::Copying {
            let started = Instant::now();
            self.copy_all(attempt, source, target, !online).await?;
            attempt.timings.copy = started.elapsed();
            let next = if online {
                Phase::CatchingUp
            } else {
                Phase::Verifying
            };
            self.set_phase(attempt, next).await?;
        }
        if attempt.record.phase == Phase::CatchingUp {
            let started = Instant::now();
            self.catch_up(attempt, source, target).await?;
            attempt.timings.catch_up = started.elapsed();
            self.set_phase(attempt, Phase::Freezing).await?;
        }
        if online {
            let started = Instant::now();
            if let Err(error) = self.frozen_to_cutover(attempt, source, target).await {
                return Err(self.thaw_after(attempt, source, error).await);
            }
            attempt.timings.freeze = started.elapsed();
        } else {
            self.verify_and_cut_over(attempt, source, target).await?;
        }
        if attempt.record.phase == Phase::Cleanup {
            let started = Instant::now();
            self.clean_up(attempt, source, target).await?;
            attempt.timings.cleanup = started.elapsed();
        }
        let ended = self
            .record_ending(record.id, attempt.token, Status::Completed)
            .await
            .context(|| "recording completion".into())?;
        attempt.owned(ended)?;
        attempt.tracker.set_phase(Phase::Done);
        Ok(())
    }

    /// Preflight of the recorded move, its plan recorded; then the first phase
    /// of its mode.
    async fn preflight_phase(&self, attempt: &mut Attempt<'_>) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let started = Instant::now();
        self.set_phase(attempt, Phase::Preflight).await?;
        let report = self
            .preflight_as(record.website, &record.target, Admission::Recorded)
            .await?;
        if report.source_shard != record.source {
            return Err(MoveError::SourceChanged {
                website: record.website,
                expected: record.source.clone(),
                actual: report.source_shard.to_string(),
            });
        }
        let sizes: Vec<(String, i64)> = report
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.rows))
            .collect();
        let mut conn = self.control_conn().await?;
        let planned = tables::plan(&mut conn, record.id, attempt.token, &sizes)
            .await
            .context(|| "recording the plan".into())?;
        attempt.owned(planned)?;
        self.record_follow_up(attempt, &report.schema.materialized_views)
            .await?;
        attempt.plan = Some(report.plan);
        attempt.timings.preflight = started.elapsed();
        let next = match record.mode {
            MoveMode::Online => Phase::Capturing,
            MoveMode::Offline => Phase::Copying,
        };
        self.set_phase(attempt, next).await
    }

    pub(super) async fn set_phase(
        &self,
        attempt: &mut Attempt<'_>,
        phase: Phase,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let moved = migrations::set_phase(&mut conn, attempt.record.id, attempt.token, phase)
            .await
            .context(|| "recording the phase".into())?;
        attempt.owned(moved)?;
        attempt.record.phase = phase;
        attempt.tracker.set_phase(phase);
        Ok(())
    }

    pub(crate) async fn load(&self, id: MigrationId) -> Result<MigrationRecord, MoveError> {
        let mut conn = self.control_conn().await?;
        migrations::find(&mut conn, id)
            .await
            .context(|| "reading the move".into())?
            .ok_or(MoveError::UnknownMigration(id))
    }

    async fn outcome(
        &self,
        record: MigrationRecord,
        timings: Timings,
    ) -> Result<MoveOutcome, MoveError> {
        let mut conn = self.control_conn().await?;
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
