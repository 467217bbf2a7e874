//! `shardmover bench-fleet`: drains a shard of many websites whose sizes follow
//! a long tail (by default 200 websites, 200,000 rows down to 1,000: rank r
//! holds 200,000 / r) into two other shards with a rebalance plan run by a real
//! worker and the plan driver, and compares its wall time, in the same run,
//! with (1) the sum of a raw binary COPY pipe's times for the same websites and
//! (2) the same websites moved one at a time as `migrate` moves them (back, from
//! where the plan left them). The plan's moves and the one-at-a-time moves both
//! delete their source rows; the raw pipe only copies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::cli::samples::scratch::{Server, settings_with};
use crate::cli::samples::{self, tenant::Scale};
use crate::config::Settings;
use crate::domain::MoveRequest;
use crate::ids::{EmailAddress, ShardName, WebsiteId};
use crate::mover::{Mover, Silent, raw_pipe};
use crate::rebalance::{self, Kind, PlanOptions, PlanRequest};

#[derive(Debug, Args)]
pub struct BenchFleetArgs {
    /// Websites on the drained shard.
    #[arg(long, default_value_t = 200)]
    pub websites: i64,
    /// Rows of the largest; rank r holds this / r (at least 1,000).
    #[arg(long, default_value_t = 200_000)]
    pub largest: i64,
    /// The plan's moves at once (also its per-shard limit and the worker's concurrency).
    #[arg(long, default_value_t = 2)]
    pub concurrency: u32,
}

const DATABASES: [&str; 5] = [
    "shardmover_fleet_control",
    "shardmover_fleet_shard_1",
    "shardmover_fleet_shard_2",
    "shardmover_fleet_shard_3",
    "shardmover_fleet_raw",
];

pub async fn run(base: Settings, args: BenchFleetArgs) -> anyhow::Result<()> {
    let server = Server::from_url(&base.database.url)?;
    let result = run_in(&server, &base, &args).await;
    server.dropping(&DATABASES, result).await
}

fn sizes(args: &BenchFleetArgs) -> Vec<i64> {
    (1..=args.websites)
        .map(|rank| (args.largest / rank).max(1000))
        .collect()
}

async fn run_in(server: &Server, base: &Settings, args: &BenchFleetArgs) -> anyhow::Result<()> {
    let mut urls = Vec::new();
    for name in DATABASES {
        urls.push(server.recreate(name).await?);
    }
    let shards: Vec<(&str, _)> = ["shard_1", "shard_2", "shard_3"]
        .into_iter()
        .zip(urls[1..4].iter().cloned())
        .collect();
    let mut settings = settings_with(base, urls[0].clone(), &shards);
    settings.mail.smtp_host.clear();
    settings.worker.concurrency = args.concurrency as usize;
    let control = crate::db::control_pool(&settings).await?;
    crate::startup::migrate(&control).await?;
    samples::tenant::create_registry(&control).await?;
    let mut pools = Vec::new();
    for url in &urls[1..] {
        let pool = super::pool(url).await?;
        samples::tenant::create_shard_schema(&pool).await?;
        pools.push(pool);
    }
    let sizes = sizes(args);
    eprintln!(
        "seeding {} websites, {} rows ...",
        sizes.len(),
        sizes.iter().sum::<i64>()
    );
    for (i, rows) in sizes.iter().enumerate() {
        let website = WebsiteId::new(i as i64 + 1).map_err(anyhow::Error::msg)?;
        samples::tenant::seed(&pools[0], website, Scale::total_rows(*rows)).await?;
        samples::tenant::register(&control, website, "shard_1").await?;
    }
    sqlx::raw_sql("VACUUM ANALYZE").execute(&pools[0]).await?;
    let mover = Arc::new(crate::startup::mover(crate::app::App::new(
        Arc::new(settings),
        control.clone(),
    )));

    let (raw, rows) = raw_pipes(&mover, &pools[0], &pools[3], sizes.len()).await?;
    let planned = drain(&mover, args).await?;
    let one_by_one = one_at_a_time(&mover, sizes.len()).await?;
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "fleet: {} websites, {rows} rows, long tail {}..{} rows",
        sizes.len(),
        sizes.last().unwrap_or(&0),
        sizes.first().unwrap_or(&0)
    );
    println!("raw binary COPY pipes, summed:        {:>8.1}s", secs(raw));
    println!(
        "drain plan (max_concurrent {c}, per_shard {c}): {:>8.1}s  {:.2}x the raw sum",
        secs(planned),
        secs(planned) / secs(raw),
        c = args.concurrency
    );
    println!(
        "the same websites, one migrate at a time: {:>8.1}s  plan is {:.2}x of it",
        secs(one_by_one),
        secs(planned) / secs(one_by_one)
    );
    println!(
        "per website: plan {:.2}s, one at a time {:.2}s, raw {:.2}s",
        secs(planned) / sizes.len() as f64,
        secs(one_by_one) / sizes.len() as f64,
        secs(raw) / sizes.len() as f64
    );
    Ok(())
}

/// Each website through the raw pipe into a scratch database, timed and summed.
async fn raw_pipes(
    mover: &Mover,
    source: &sqlx::PgPool,
    raw: &sqlx::PgPool,
    websites: usize,
) -> anyhow::Result<(Duration, u64)> {
    let tenancy = &mover.settings().tenancy;
    let (mut total, mut rows) = (Duration::ZERO, 0);
    for id in 1..=websites as i64 {
        let website = WebsiteId::new(id).map_err(anyhow::Error::msg)?;
        let started = Instant::now();
        rows += raw_pipe(source, raw, tenancy, website).await?;
        total += started.elapsed();
    }
    Ok((total, rows))
}

/// The drain plan, started as the API starts it, run by one worker process's
/// worker and plan driver until it ends.
async fn drain(mover: &Arc<Mover>, args: &BenchFleetArgs) -> anyhow::Result<Duration> {
    let options = PlanOptions::parse(Some(args.concurrency), Some(args.concurrency), None, None)?;
    let kind = Kind::Drain {
        shard: "shard_1".into(),
    };
    let request = PlanRequest::new(mover.settings(), kind, "bench@example.com", options)?;
    let preview = rebalance::preview(mover.app(), &request).await?;
    eprintln!(
        "draining shard_1: {} moves, estimated {:.0} s ...",
        preview.moves.len(),
        preview.estimated_secs
    );
    let started = Instant::now();
    let id = rebalance::start(mover.app(), &request, &preview.confirmation_token).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(rebalance::driver::run(
        mover.clone(),
        "bench".into(),
        stopped.clone(),
    ));
    let mut until = stopped.clone();
    let shutdown = async move {
        let _ = until.wait_for(|s| *s).await;
    };
    // The worker side of `serve`: its own control pool, apart from the API's.
    let pool = crate::db::worker_pool(mover.settings());
    let working = Arc::new(mover.with_control_pool(pool.clone()));
    let worker = crate::jobs::worker::run(&pool, working, "bench", shutdown);
    let watch = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let view = rebalance::show(mover.app(), id).await?;
            if view.summary.finished_at.is_some() {
                let _ = stop.send(true);
                anyhow::ensure!(
                    view.summary.status == "completed",
                    "the plan ended {}",
                    view.summary.status
                );
                return Ok(started.elapsed());
            }
        }
    };
    let (worked, took) = tokio::join!(worker, watch);
    worked?;
    took
}

/// Every website moved back to shard_1 one at a time, as `migrate` does.
async fn one_at_a_time(mover: &Mover, websites: usize) -> anyhow::Result<Duration> {
    let target = ShardName::parse("shard_1").map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    for id in 1..=websites as i64 {
        let request = MoveRequest {
            website: WebsiteId::new(id).map_err(anyhow::Error::msg)?,
            target: target.clone(),
            keep_source: false,
            batch_rows: None,
            requested_by: EmailAddress::parse("bench@example.com").ok(),
            notes: None,
            mode: Default::default(),
        };
        let record = mover.request(&request).await?;
        mover.run(record.id, &Silent).await?;
    }
    Ok(started.elapsed())
}
