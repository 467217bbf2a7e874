//! Online moves under write load: a website of each size is moved back and
//! forth between the bench's two shards while the application keeps writing
//! its rows at a steady rate (`writer.rs`). Per size it reports the freeze
//! (from the move records), the changes drained inside it, the writer's
//! longest wait, the whole move's time, and the writes lost: the website's
//! rows on the target after the move, compared with the writer's model of
//! every acknowledged write. Then whether the freeze grows with the tenant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::model::Model;
use super::writer::{Route, Writer, WriterStats};
use crate::domain::MoveRequest;
use crate::ids::{EmailAddress, MoveId, ShardName, WebsiteId};
use crate::mover::{MoveOutcome, Mover, ProgressSink, Silent};

/// The writer runs this long before each move starts and after it ends.
const SETTLE: Duration = Duration::from_millis(500);

/// One website to move, and how many rows it holds.
pub(super) struct Tenant {
    pub website: WebsiteId,
    pub rows: i64,
}

/// How the moves are driven.
pub(super) struct Load {
    pub moves: usize,
    /// Writes per second of the moving website, in all.
    pub rate: u32,
}

/// One online move under load.
struct Measured {
    from: String,
    to: String,
    total: Duration,
    catch_up: Duration,
    changes_applied: i64,
    freeze_ms: i64,
    freeze_changes: i64,
    writer: WriterStats,
    /// The website's rows on the target unlike the writer's model.
    lost: usize,
}

/// Moves every tenant `load.moves` times and prints what each move and each
/// size showed. Returns the last move's id (the capture measurement records
/// its capture under it).
pub(super) async fn report(
    mover: &Mover,
    route: &Arc<Route>,
    tenants: &[Tenant],
    load: &Load,
) -> anyhow::Result<MoveId> {
    let mut p50s = Vec::new();
    let mut last = None;
    for tenant in tenants {
        eprintln!(
            "online moves of a {}-row website under {} writes/s ...",
            tenant.rows, load.rate
        );
        let mut runs = Vec::new();
        for round in 0..load.moves {
            let (measured, id) = one_move(mover, route, tenant, load.rate, round).await?;
            print_move(round, &measured);
            runs.push(measured);
            last = Some(id);
        }
        p50s.push((tenant.rows, print_size(tenant.rows, &runs)));
    }
    if let [(small_rows, small), .., (big_rows, big)] = p50s.as_slice() {
        println!(
            "freeze grows with the tenant? p50 at {big_rows} rows / p50 at {small_rows} rows: {:.2}x (~1x: it does not)",
            *big as f64 / (*small).max(1) as f64
        );
    }
    last.ok_or_else(|| anyhow::anyhow!("no online move was run"))
}

/// One move of `tenant` to the shard it is not on, the writer running throughout.
async fn one_move(
    mover: &Mover,
    route: &Arc<Route>,
    tenant: &Tenant,
    rate: u32,
    round: usize,
) -> anyhow::Result<(Measured, MoveId)> {
    let from = route.shard_of(tenant.website).await?;
    let to = route
        .shards
        .keys()
        .find(|name| **name != from)
        .ok_or_else(|| anyhow::anyhow!("the bench needs two shards"))?
        .clone();
    let model = Model::read(&route.shards[&from], tenant.website.get()).await?;
    let writer = Writer::start(route.clone(), tenant.website, model, rate, round);
    tokio::time::sleep(SETTLE).await;
    let started = Instant::now();
    let outcome = online_move(mover, tenant.website, &to, &Silent).await?;
    let total = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let (writer, model) = writer.stop().await?;
    let done = &outcome.record;
    anyhow::ensure!(
        route.shard_of(tenant.website).await? == to,
        "move {} ended without moving website {}",
        done.id,
        tenant.website
    );
    let ended = Model::read(&route.shards[&to], tenant.website.get()).await?;
    let measured = Measured {
        from,
        to,
        total,
        catch_up: outcome.timings.catch_up,
        changes_applied: done.changes_applied,
        freeze_ms: done.freeze_ms().unwrap_or(-1),
        freeze_changes: done.freeze_changes.unwrap_or(0),
        writer,
        lost: model.differences(&ended),
    };
    Ok((measured, done.id))
}

/// The bench's request to move `website` to `to` online, its source rows
/// deleted afterwards.
pub(super) fn online_request(website: WebsiteId, to: &str) -> anyhow::Result<MoveRequest> {
    Ok(MoveRequest {
        website,
        target: ShardName::parse(to).map_err(anyhow::Error::msg)?,
        keep_source: false,
        batch_rows: None,
        requested_by: EmailAddress::parse("bench").ok(),
        notes: None,
        mode: crate::domain::MoveMode::Online,
    })
}

/// Requests an online move of `website` to `to` and runs it to the end here,
/// reporting to `sink`.
pub(super) async fn online_move(
    mover: &Mover,
    website: WebsiteId,
    to: &str,
    sink: &dyn ProgressSink,
) -> anyhow::Result<MoveOutcome> {
    let record = mover.request(&online_request(website, to)?).await?;
    Ok(mover.run(record.id, sink).await?)
}

fn print_move(round: usize, m: &Measured) {
    let w = &m.writer;
    println!(
        "  move {} {} -> {}: {:.2}s, catch-up {:.2}s ({} changes), freeze {} ms ({} changes); \
         writer {} acked ({:.0}/s), {} refused+retried, longest wait {} ms; {} rows unlike the model",
        round + 1,
        m.from,
        m.to,
        m.total.as_secs_f64(),
        m.catch_up.as_secs_f64(),
        m.changes_applied,
        m.freeze_ms,
        m.freeze_changes,
        w.acked,
        w.acked as f64 / w.elapsed.as_secs_f64().max(1e-9),
        w.refused,
        w.longest_wait().as_millis(),
        m.lost
    );
}

/// Prints the size's summary and returns its freeze p50 in ms.
fn print_size(rows: i64, runs: &[Measured]) -> i64 {
    let freezes = sorted(runs.iter().map(|m| m.freeze_ms));
    let drained = sorted(runs.iter().map(|m| m.freeze_changes));
    let totals = sorted(runs.iter().map(|m| m.total.as_millis() as i64));
    let longest = runs
        .iter()
        .map(|m| m.writer.longest_wait().as_millis())
        .max()
        .unwrap_or(0);
    let lost: usize = runs.iter().map(|m| m.lost).sum();
    let missed: u64 = runs.iter().map(|m| m.writer.missed).sum();
    let p50 = median(&freezes);
    println!(
        "{rows} rows, {} moves: freeze p50 {p50} ms, max {} ms; drained in the freeze p50 {}, max {}; \
         writer's longest wait {longest} ms; move p50 {:.2}s, max {:.2}s; \
         lost writes {lost} (rows unlike the writer's model; {missed} updates/deletes found no row)",
        runs.len(),
        freezes.last().copied().unwrap_or(0),
        median(&drained),
        drained.last().copied().unwrap_or(0),
        median(&totals) as f64 / 1000.0,
        totals.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    p50
}

fn sorted(values: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut values: Vec<i64> = values.collect();
    values.sort_unstable();
    values
}

/// The middle value (the lower of the two middles for an even count).
fn median(sorted: &[i64]) -> i64 {
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}
