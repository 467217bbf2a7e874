//! The engine's full move against a raw binary COPY pipe of the same rows:
//! the pipe into one target, the online move (no writes) into the other, both
//! targets already holding another website, as every real target does.

use std::time::Instant;

use sqlx::PgPool;

use super::engine::Scratch;
use super::move_print::{Measured, print_move};
use crate::cli::samples::{self, tenant::Scale};
use crate::domain::MoveRequest;
use crate::ids::{EmailAddress, ShardName, WebsiteId};
use crate::mover::{Mover, Silent, raw_pipe};

/// Seeds a website of `neighbour_rows` rows on both targets, then measures
/// and prints the raw pipe and the move of `website`.
pub(super) async fn report(
    mover: &Mover,
    scratch: &Scratch,
    website: WebsiteId,
    neighbour_rows: i64,
    batch_rows: Option<u32>,
) -> anyhow::Result<()> {
    let neighbour = Neighbour {
        website: WebsiteId::new(2).expect("positive"),
        rows: neighbour_rows,
    };
    eprintln!(
        "seeding a neighbour of {} rows on the targets ...",
        neighbour.rows
    );
    seed_on(&scratch.pools[2], &scratch.control, &neighbour).await?;
    move_against_raw_pipe(mover, scratch, website, &neighbour, batch_rows).await
}

/// A website living on the engine's target before the move (and seeded on the
/// raw pipe's target too, so both write into indexes of the same size).
struct Neighbour {
    website: WebsiteId,
    rows: i64,
}

/// Seeds the neighbour on `shard` and registers it on the engine's target.
async fn seed_on(shard: &PgPool, control: &PgPool, neighbour: &Neighbour) -> anyhow::Result<()> {
    samples::tenant::seed(shard, neighbour.website, Scale::total_rows(neighbour.rows)).await?;
    samples::tenant::register(control, neighbour.website, "target").await?;
    Ok(())
}

/// The raw pipe into one target, then the engine's online move (no writes)
/// into the other, both targets holding `neighbour`; the website ends on the
/// target, its source rows deleted.
async fn move_against_raw_pipe(
    mover: &Mover,
    scratch: &Scratch,
    website: WebsiteId,
    neighbour: &Neighbour,
    batch_rows: Option<u32>,
) -> anyhow::Result<()> {
    let [source, raw_target, _] = &scratch.pools;
    let tenancy = &mover.settings().tenancy;
    // Warm the source's cache once so neither contender pays for cold reads.
    raw_pipe(source, raw_target, tenancy, website).await?;
    sqlx::raw_sql("TRUNCATE pages, page_parts, products, orders, website_settings")
        .execute(raw_target)
        .await?;
    seed_on(raw_target, &scratch.control, neighbour).await?;
    let started = Instant::now();
    let raw_rows = raw_pipe(source, raw_target, tenancy, website).await?;
    let raw = started.elapsed();

    // The pipe's connections were warm when it was timed (it ran once before);
    // so are a running worker's, and its shards have hosted moves before.
    warm_up(mover, scratch).await?;
    let record = mover.request(&to_target(website, batch_rows)).await?;
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
    Ok(())
}

/// A move of `website` to the target, its source rows kept (deleted apart).
fn to_target(website: WebsiteId, batch_rows: Option<u32>) -> MoveRequest {
    MoveRequest {
        website,
        target: ShardName::parse("target").expect("valid"),
        keep_source: true,
        batch_rows,
        requested_by: EmailAddress::parse("bench").ok(),
        notes: None,
        mode: Default::default(),
    }
}

/// Moves a small website first: the mover's connections open and its schema
/// on both shards, as in a worker that has moved websites before.
async fn warm_up(mover: &Mover, scratch: &Scratch) -> anyhow::Result<()> {
    // Not one of the other parts' websites (1 to 7).
    let website = WebsiteId::new(9).expect("positive");
    samples::tenant::seed(&scratch.pools[0], website, Scale::total_rows(1_000)).await?;
    samples::tenant::register(&scratch.control, website, "source").await?;
    let record = mover.request(&to_target(website, None)).await?;
    mover.run(record.id, &Silent).await?;
    Ok(())
}
