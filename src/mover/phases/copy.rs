//! Phase 3: every table copied from its checkpoint (`mechanics::copy` streams
//! each one). An offline move fences the source first; an online one has
//! captured the website's changes since phase 2 and catches up after.

use std::time::Instant;

use super::context::PhaseContext;
use crate::control::tables;
use crate::domain::{MoveMode, Phase};
use crate::mover::error::{Context, MoveError};
use tokio::sync::mpsc;

use crate::mover::mechanics::copy::{TableCopy, connect, copy_at_snapshot, copy_table, two_passes};
use crate::mover::mechanics::routes::current_shard;
use crate::mover::mechanics::sequences::{self, OwnedSequence};
use crate::mover::mechanics::verify::at_copy::{self, AtSnapshot};
use crate::mover::mechanics::{owner_token, references, shard_schema};
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
    shard_schema::ensure_both(cx.source, cx.target).await?;
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
    let owned = cx.owned_sequences(&plan).await?;
    let checked = copy_tables(cx, &plan, &already, fenced, &owned).await?;
    let target = cx.target;
    for (index, at, copied) in checked {
        if !plan[index].before_parents {
            cx.attempt.references_checked.push(at.table.clone());
        }
        if at.source != copied.fingerprint {
            tracing::info!(table = %at.table, source = %at.source.display(), target = %copied.fingerprint.display(),
                "fingerprints at the copy's snapshot differ; left to catch-up's verification");
            continue;
        }
        cx.attempt
            .record_checksums(&plan[index], &at.source, &copied.fingerprint)
            .await?;
        // Past the copied rows now, rather than catch-up reading them again.
        for (sequence, extremes) in owned[index].iter().zip(copied.extremes) {
            sequences::advance_to(target, sequence, extremes).await?;
        }
        cx.attempt.verified_at_copy.push(at.table);
    }
    Ok(())
}

/// A table copied at its snapshot: its index in the plan, the source's
/// fingerprint there, and the target's once copied.
type Checked = (usize, AtSnapshot, at_copy::Copied);

/// Copies every table. An online move's tables are verified as they are
/// copied: the source's rows at the copy's snapshot beside the copy, the
/// target's once copied, while the next table copies (`verify::at_copy`);
/// beside the target's, the table's foreign keys are checked (unless a cycle
/// put a parent after it, its parents were copied before it), so the last
/// table's check shares the copy's tail rather than following it.
async fn copy_tables(
    cx: &mut PhaseContext<'_, '_>,
    plan: &[TenantTable],
    already: &[tables::TableProgress],
    fenced: bool,
    owned: &[Vec<OwnedSequence>],
) -> Result<Vec<Checked>, MoveError> {
    let (mut source_conn, mut target_conn) = connect(cx.source, cx.target).await?;
    let (source, target, record) = (cx.source, cx.target, cx.record().clone());
    let (token, sort_memory) = (cx.attempt.token, &cx.engine().sort_memory);
    let verify_while_copying = cx.engine().verify_while_copying;
    let tracker = &mut cx.attempt.tracker;
    let (copied, mut receiver) = mpsc::unbounded_channel();
    let copying = async {
        for (index, table) in plan.iter().enumerate() {
            let job = TableCopy {
                table,
                website: record.website,
                migration: record.id,
                attempt: token,
                batch_rows: record.batch_rows,
                sort_memory,
                links_later: two_passes(table, planned_rows(already, table), record.batch_rows),
            };
            if fenced || !verify_while_copying {
                copy_table(&mut source_conn, &mut target_conn, &job, tracker).await?;
                continue;
            }
            let source_side = (&mut source_conn, source);
            if let Some(at) = copy_at_snapshot(source_side, &mut target_conn, &job, tracker).await?
            {
                let _ = copied.send((index, at));
            }
        }
        drop(copied);
        Ok::<_, MoveError>(())
    };
    let checking = async {
        let mut checked = Vec::new();
        while let Some((index, at)) = receiver.recv().await {
            let columns: Vec<String> = owned[index].iter().map(|s| s.column.clone()).collect();
            let table = &plan[index];
            let rows = [planned_rows(already, table)];
            let references = async {
                if table.before_parents {
                    return Ok(()); // a parent is copied after it: catch-up checks it
                }
                references::check(target, std::slice::from_ref(table), &rows, record.website).await
            };
            let (now, ()) = tokio::try_join!(
                at_copy::target_now(target, table, record.website, at.hash, &columns),
                references,
            )?;
            checked.push((index, at, now));
        }
        Ok(checked)
    };
    let ((), checked) = tokio::try_join!(copying, checking)?;
    Ok(checked)
}

fn planned_rows(planned: &[tables::TableProgress], table: &TenantTable) -> i64 {
    let name = table.name.to_string();
    planned
        .iter()
        .find(|t| t.name == name)
        .map_or(0, |t| t.rows_total)
}
