//! Phase 3: every table copied from its checkpoint (`mechanics::copy` streams
//! each one). An offline move fences the source first; an online one has
//! captured the website's changes since phase 2 and catches up after.

use std::time::Instant;

use super::context::PhaseContext;
use crate::control::tables;
use crate::domain::{MoveMode, Phase};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::copy::{TableCopy, connect, copy_table, two_passes};
use crate::mover::mechanics::routes::current_shard;
use crate::mover::mechanics::{owner_token, shard_schema};
use crate::tenancy::TenantTable;

pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let online = cx.record().mode == MoveMode::Online;
    let started = Instant::now();
    copy_all(cx, !online).await?;
    cx.attempt.timings.copy = started.elapsed();
    let next = if online {
        Phase::CatchingUp
    } else {
        Phase::Verifying
    };
    cx.attempt.set_phase(next).await
}

/// Copies every table from its checkpoint, fencing the source first if `fenced`.
async fn copy_all(cx: &mut PhaseContext<'_, '_>, fenced: bool) -> Result<(), MoveError> {
    let record = cx.record().clone();
    let current = current_shard(cx.app, record.website).await?;
    if current != record.source {
        return Err(MoveError::SourceChanged {
            website: record.website,
            expected: record.source.clone(),
            actual: current.to_string(),
        });
    }
    let plan = cx.plan().await?;
    shard_schema::ensure(cx.source).await?;
    shard_schema::ensure(cx.target).await?;
    owner_token::claim(cx.target, record.id, cx.attempt.token).await?;
    if fenced {
        cx.raise_fence(&plan).await?;
        tracing::debug!("fenced; copying");
    }
    let already = {
        let mut conn = cx.attempt.control_conn().await?;
        tables::list(&mut conn, record.id)
            .await
            .context(|| "reading the plan".into())?
    };
    let total: i64 = already.iter().map(|t| t.rows_total).sum();
    cx.attempt.tracker.set_totals(total as u64, 0);
    let (mut source_conn, mut target_conn) = connect(cx.source, cx.target).await?;
    for table in &plan {
        let job = TableCopy {
            table,
            website: record.website,
            migration: record.id,
            attempt: cx.attempt.token,
            batch_rows: record.batch_rows,
            sort_memory: &cx.engine().sort_memory,
            links_later: two_passes(table, planned_rows(&already, table), record.batch_rows),
        };
        copy_table(
            &mut source_conn,
            &mut target_conn,
            &job,
            &mut cx.attempt.tracker,
        )
        .await?;
    }
    Ok(())
}

fn planned_rows(planned: &[tables::TableProgress], table: &TenantTable) -> i64 {
    let name = table.name.to_string();
    planned
        .iter()
        .find(|t| t.name == name)
        .map_or(0, |t| t.rows_total)
}
