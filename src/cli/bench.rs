//! `shardmover bench`: builds a tenant of ~1,000,000 rows and measures, in one
//! run, the engine's full move against a raw binary COPY pipe of the same rows,
//! then what the fence left on the old shard costs other websites' writes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::{MoveOutcome, MoveRequest, Mover, Silent, raw_pipe};
use crate::sample_tenant::{self, Scale};
use crate::scratch::{Server, settings_with};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Rows of the tenant.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Rows per copy chunk for the engine.
    #[arg(long)]
    pub batch_rows: Option<u32>,
}

const DATABASES: [&str; 4] = [
    "shardmover_bench_control",
    "shardmover_bench_source",
    "shardmover_bench_raw",
    "shardmover_bench_target",
];

pub async fn run(base: Settings, args: BenchArgs) -> anyhow::Result<()> {
    let server = Server::from_url(&base.database.url)?;
    let mut urls = Vec::new();
    for name in DATABASES {
        urls.push(server.recreate(name).await?);
    }
    let settings = settings_with(
        &base,
        urls[0].clone(),
        &[("source", urls[1].clone()), ("target", urls[3].clone())],
    );
    let control = crate::db::control_pool(&settings).await?;
    crate::startup::migrate(&control).await?;
    sample_tenant::create_registry(&control).await?;
    let pools = [
        pool(&urls[1]).await?,
        pool(&urls[2]).await?,
        pool(&urls[3]).await?,
    ];
    for shard in &pools {
        sample_tenant::create_shard_schema(shard).await?;
    }
    let website = WebsiteId::new(1).expect("positive");
    let scale = Scale::total_rows(args.rows);
    eprintln!("seeding {} rows ...", scale.rows());
    sample_tenant::seed(&pools[0], website, scale).await?;
    sample_tenant::register(&control, website, "source").await?;

    // Warm the source's cache once so neither contender pays for cold reads.
    raw_pipe(&pools[0], &pools[1], &settings.tenancy, website).await?;
    sqlx::raw_sql("TRUNCATE pages, page_parts, products, orders, website_settings")
        .execute(&pools[1])
        .await?;
    let started = Instant::now();
    let raw_rows = raw_pipe(&pools[0], &pools[1], &settings.tenancy, website).await?;
    let raw = started.elapsed();

    let mover = Mover::new(Arc::new(settings), control);
    let request = MoveRequest {
        website,
        target: ShardName::parse("target").expect("valid"),
        keep_source: true,
        batch_rows: args.batch_rows,
        requested_by: Some("bench".into()),
        notes: None,
        mode: Default::default(),
    };
    let record = mover.request(&request).await?;
    let started = Instant::now();
    let outcome = mover.run(record.id, &Silent).await?;
    let engine = started.elapsed();
    let started = Instant::now();
    let (_, deleted) = mover.finalize(website).await?;
    let cleanup = started.elapsed();

    print_move(&Measured {
        rows: raw_rows,
        raw,
        engine,
        cleanup,
        deleted,
        batch_rows: record.batch_rows,
        outcome: &outcome,
    });
    super::bench_fence::report(&pools[0], urls[1].expose_secret()).await?;
    for name in DATABASES {
        server.drop_database(name).await?;
    }
    Ok(())
}

/// One run of the move against the raw pipe, as `print_move` reports it.
struct Measured<'a> {
    rows: u64,
    raw: Duration,
    engine: Duration,
    cleanup: Duration,
    deleted: u64,
    batch_rows: u32,
    outcome: &'a MoveOutcome,
}

fn print_move(m: &Measured<'_>) {
    let t = &m.outcome.timings;
    let rate = |secs: f64| m.rows as f64 / secs;
    println!(
        "tenant rows: {} in {} tables, chunk {} rows",
        m.rows,
        m.outcome.tables.len(),
        m.batch_rows
    );
    println!(
        "raw binary COPY pipe:      {:>7.2}s  {:>9.0} rows/s",
        m.raw.as_secs_f64(),
        rate(m.raw.as_secs_f64())
    );
    println!(
        "shardmover move (no cleanup): {:>4.2}s  {:>9.0} rows/s",
        m.engine.as_secs_f64(),
        rate(m.engine.as_secs_f64())
    );
    println!(
        "  preflight {:.2}s, copy {:.2}s, verify {:.2}s, cutover {:.2}s",
        t.preflight.as_secs_f64(),
        t.copy.as_secs_f64(),
        t.verify.as_secs_f64(),
        t.cutover.as_secs_f64()
    );
    println!(
        "cleanup (delete {} source rows): {:.2}s",
        m.deleted,
        m.cleanup.as_secs_f64()
    );
    println!(
        "ratio move / raw pipe: {:.2}x (target <= 1.30x)",
        m.engine.as_secs_f64() / m.raw.as_secs_f64()
    );
}

async fn pool(url: &secrecy::SecretString) -> anyhow::Result<sqlx::PgPool> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url.expose_secret())
        .await?)
}
