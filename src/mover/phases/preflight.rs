//! Phase 1, for a recorded move: preflight's checks (`checks`) again, now that
//! the move is about to start; its plan recorded (each table's size, for
//! progress), then the first phase of its mode.

use std::time::Instant;

use super::context::PhaseContext;
use crate::control::tables;
use crate::domain::{MoveMode, Phase};
use crate::mover::checks::{self, admission::Admission};
use crate::mover::error::{Context, MoveError};

pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let started = Instant::now();
    cx.attempt.set_phase(Phase::Preflight).await?;
    let record = cx.record();
    let (website, target, id, mode) = (
        record.website,
        record.target.clone(),
        record.id,
        record.mode,
    );
    let report = checks::preflight(cx.app, website, &target, Admission::Recorded).await?;
    if report.source_shard != cx.record().source {
        return Err(MoveError::SourceChanged {
            website,
            expected: cx.record().source.clone(),
            actual: report.source_shard.to_string(),
        });
    }
    let sizes: Vec<(String, i64)> = report
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.rows))
        .collect();
    let mut conn = cx.attempt.control_conn().await?;
    let planned = tables::plan(&mut conn, id, cx.attempt.token, &sizes)
        .await
        .context(|| "recording the plan".into())?;
    cx.attempt.owned(planned)?;
    cx.attempt
        .record_follow_up(&report.schema.materialized_views)
        .await?;
    cx.attempt.plan = Some(report.plan);
    cx.attempt.timings.preflight = started.elapsed();
    let next = match mode {
        MoveMode::Online => Phase::Capturing,
        MoveMode::Offline => Phase::Copying,
    };
    cx.attempt.set_phase(next).await
}
