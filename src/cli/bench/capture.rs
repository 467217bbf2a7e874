//! What change capture costs the moving website's own writes: while an online
//! move copies and catches up, every write of the website also records its key
//! in `shardmover.changes`. The same pgbench-style single-row updates and
//! inserts as `fence.rs` (several clients), with the website's changes
//! captured in one round and not captured in the other — the triggers stay in
//! place, only the website's place in their `WHEN` clause changes — so the
//! ratio is the price of the recording alone. Rounds alternate, and the median
//! of the pairs' ratios is reported.

use std::sync::Arc;

use sqlx::PgPool;

use super::fence::{ROUND, ROUNDS, load};
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::mover::Mover;

const CLIENTS: usize = 4;

/// Where the measured website lives now, and the move its capture is recorded under.
pub(super) struct Home<'a> {
    pub shard: &'a ShardName,
    pub pool: &'a PgPool,
    pub url: &'a str,
    pub website: WebsiteId,
    pub migration: MoveId,
}

/// Measures and prints the cost of capture to `home.website`'s writes.
pub(super) async fn report(mover: &Mover, home: &Home<'_>) -> anyhow::Result<()> {
    eprintln!("measuring what capture costs the moving website's writes ({CLIENTS} clients) ...");
    let pages: Arc<Vec<i64>> = Arc::new(
        sqlx::query_scalar("SELECT id FROM pages WHERE website_id = $1")
            .bind(home.website.get())
            .fetch_all(home.pool)
            .await?,
    );
    anyhow::ensure!(!pages.is_empty(), "website {} has no pages", home.website);
    sqlx::raw_sql("VACUUM ANALYZE").execute(home.pool).await?;
    sqlx::raw_sql("CHECKPOINT").execute(home.pool).await?;
    load(home.url, home.website, pages.clone(), CLIENTS, usize::MAX).await?;
    let measured = rounds(mover, home, pages).await;
    // Never leave the website captured, whatever happened.
    set(mover, home, false).await?;
    let pairs = measured?;
    let tps = |n: u64| n as f64 / ROUND.as_secs_f64();
    let mut ratios: Vec<f64> = pairs.iter().map(|[p, c]| tps(*c) / tps(*p)).collect();
    ratios.sort_by(f64::total_cmp);
    let mean = |i: usize| tps(pairs.iter().map(|pair| pair[i]).sum::<u64>()) / ROUNDS as f64;
    println!(
        "moving website's writes, {CLIENTS} clients: {:.0} tps captured, {:.0} tps uncaptured",
        mean(1),
        mean(0)
    );
    println!(
        "ratio captured / uncaptured writes: {:.2}x (median of paired rounds)",
        ratios[ROUNDS / 2]
    );
    Ok(())
}

/// `[uncaptured, captured]` writes per paired round.
async fn rounds(
    mover: &Mover,
    home: &Home<'_>,
    pages: Arc<Vec<i64>>,
) -> anyhow::Result<Vec<[u64; 2]>> {
    let mut pairs = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let mut done = [0u64; 2];
        for captured in [false, true] {
            set(mover, home, captured).await?;
            let i = usize::from(captured);
            done[i] = load(
                home.url,
                home.website,
                pages.clone(),
                CLIENTS,
                round * 2 + i,
            )
            .await?;
        }
        pairs.push(done);
    }
    Ok(pairs)
}

/// Capturing again forgets the changes the last captured round recorded, and
/// releasing deletes them, so the change log never grows between rounds.
async fn set(mover: &Mover, home: &Home<'_>, on: bool) -> anyhow::Result<()> {
    let mut conn = home.pool.acquire().await?;
    let tables = crate::tenancy::discover(&mut conn, &mover.app().settings.tenancy).await?;
    drop(conn);
    mover
        .set_capture(
            (home.pool, home.shard),
            home.website,
            home.migration,
            &tables,
            on,
        )
        .await?;
    Ok(())
}
