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

use crate::ids::WebsiteId;

const ROUNDS: usize = 3;
const ROUND: Duration = Duration::from_secs(3);

pub(super) struct FenceCost {
    pub fenced_tps: f64,
    pub plain_tps: f64,
}

/// `shard` fences some website and holds rows of `website`, which it does not fence.
pub(super) async fn measure(
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
    sqlx::raw_sql("VACUUM ANALYZE").execute(shard).await?;
    let (mut fenced_secs, mut plain_secs) = (0.0, 0.0);
    let (mut fenced_done, mut plain_done) = (0, 0);
    for round in 0..ROUNDS * 2 {
        let fenced = round % 2 == 1;
        let toggle = if fenced { "ENABLE" } else { "DISABLE" };
        for table in &tables {
            let sql = format!("ALTER TABLE {table} {toggle} TRIGGER USER");
            sqlx::raw_sql(crate::sql::audited(&sql))
                .execute(shard)
                .await?;
        }
        let done = load(url, website, pages.clone(), clients, round).await?;
        if fenced {
            (fenced_secs, fenced_done) = (fenced_secs + ROUND.as_secs_f64(), fenced_done + done);
        } else {
            (plain_secs, plain_done) = (plain_secs + ROUND.as_secs_f64(), plain_done + done);
        }
    }
    Ok(FenceCost {
        fenced_tps: fenced_done as f64 / fenced_secs,
        plain_tps: plain_done as f64 / plain_secs,
    })
}

/// `clients` connections each alternating one UPDATE and one INSERT (each its
/// own transaction, as pgbench's simple protocol does) for one round.
async fn load(
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
