//! What the fence costs the application: pgbench-style single-row updates and
//! inserts of a website that is not moving, by several clients at once, on the
//! old shard of a move (its tenant tables carry the fence's triggers) with the
//! triggers enabled against the same tables with them disabled. Rounds
//! alternate between the two so drift in the machine's speed hits both alike;
//! toggling the triggers takes the tables' owner (the bench runs as superuser).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, PgPool};

use crate::cli::samples::{self, tenant::Scale};
use crate::ids::WebsiteId;

pub(super) const ROUNDS: usize = 9;
pub(super) const ROUND: Duration = Duration::from_secs(1);

struct FenceCost {
    fenced_tps: f64,
    plain_tps: f64,
    /// Of the rounds' fenced/unfenced ratios: one round hit by a checkpoint or
    /// another process on the machine moves it less than the means.
    median_ratio: f64,
}

/// Seeds a neighbour that stays put on `shard` (the old shard of a move, which
/// fences the moved website now), then measures and prints what the fence costs it.
pub(super) async fn report(shard: &PgPool, url: &str) -> anyhow::Result<()> {
    let neighbour = WebsiteId::new(2).expect("positive");
    samples::tenant::seed(shard, neighbour, Scale::total_rows(20_000)).await?;
    let clients = 4;
    eprintln!("measuring the fence's cost to a neighbour's writes ({clients} clients) ...");
    let cost = measure(shard, url, neighbour, clients).await?;
    println!(
        "neighbour writes, {clients} clients: {:.0} tps with the fence's triggers, {:.0} tps with them disabled",
        cost.fenced_tps, cost.plain_tps
    );
    println!(
        "ratio fenced / unfenced writes: {:.2}x (median of paired rounds; target >= 0.95x)",
        cost.median_ratio
    );
    Ok(())
}

/// `shard` fences some website and holds rows of `website`, which it does not fence.
async fn measure(
    shard: &PgPool,
    url: &str,
    website: WebsiteId,
    clients: usize,
) -> anyhow::Result<FenceCost> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'shardmover%'",
    )
    .fetch_all(shard)
    .await?;
    anyhow::ensure!(!tables.is_empty(), "no fence triggers on the old shard");
    let pages: Arc<Vec<i64>> = Arc::new(
        sqlx::query_scalar("SELECT id FROM pages WHERE website_id = $1")
            .bind(website.get())
            .fetch_all(shard)
            .await?,
    );
    anyhow::ensure!(
        !pages.is_empty(),
        "website {website} has no pages to update"
    );
    // Settle the old shard after the move's deletes, and warm it, before timing.
    sqlx::raw_sql("VACUUM ANALYZE").execute(shard).await?;
    sqlx::raw_sql("CHECKPOINT").execute(shard).await?;
    load(url, website, pages.clone(), clients, usize::MAX).await?;
    let mut pairs = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let mut done = [0u64; 2];
        for (fenced, toggle) in [(0, "DISABLE"), (1, "ENABLE")] {
            for table in &tables {
                let sql = format!("ALTER TABLE {table} {toggle} TRIGGER USER");
                sqlx::raw_sql(crate::sql::audited(&sql))
                    .execute(shard)
                    .await?;
            }
            done[fenced] = load(url, website, pages.clone(), clients, round * 2 + fenced).await?;
        }
        pairs.push(done);
    }
    let tps = |n: u64| n as f64 / ROUND.as_secs_f64();
    let mut ratios: Vec<f64> = pairs.iter().map(|[p, f]| tps(*f) / tps(*p)).collect();
    ratios.sort_by(f64::total_cmp);
    Ok(FenceCost {
        fenced_tps: tps(pairs.iter().map(|[_, f]| f).sum::<u64>()) / ROUNDS as f64,
        plain_tps: tps(pairs.iter().map(|[p, _]| p).sum::<u64>()) / ROUNDS as f64,
        median_ratio: ratios[ROUNDS / 2],
    })
}

/// `clients` connections each alternating one UPDATE and one INSERT (each its
/// own transaction, as pgbench's simple protocol does) for one round.
pub(super) async fn load(
    url: &str,
    website: WebsiteId,
    pages: Arc<Vec<i64>>,
    clients: usize,
    round: usize,
) -> anyhow::Result<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + ROUND;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let mut conn = PgConnection::connect(url).await?;
        let (pages, done) = (pages.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                let page = pages[(n * 7919 + client) % pages.len()];
                sqlx::query("UPDATE pages SET title = 'bench ' || $2 WHERE id = $1")
                    .bind(page)
                    .bind(n as i64)
                    .execute(&mut conn)
                    .await?;
                sqlx::query("INSERT INTO website_settings (website_id, key) VALUES ($1, $2)")
                    .bind(website.get())
                    .bind(format!("bench-{round}-{client}-{n}"))
                    .execute(&mut conn)
                    .await?;
                done.fetch_add(2, Ordering::Relaxed);
                n += 1;
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed))
}
