//! Online moves under a real concurrent writer: the application keeps writing
//! the moving website (and a neighbour) the whole time; afterwards the target
//! holds exactly what the writer's log says, the source none of it, the
//! neighbour was never refused, and the moving website's writes paused only
//! for the freeze.

use std::time::Duration;

use shardmover::mover::Silent;

use crate::helpers::{TestEnv, dump, website};
use crate::writer::{Model, Writer};

/// Settings rows moved in and out by the writer land on the other shards'
/// website ids -1/-2 too; compare the website's own rows only.
async fn assert_holds(env: &TestEnv, shard: &str, id: i64, expected: &Model) {
    let actual = Model::read(env.pool(shard), id).await;
    assert_eq!(
        actual.orders.len(),
        expected.orders.len(),
        "orders of {id} on {shard}"
    );
    assert!(
        actual.orders == expected.orders,
        "orders of {id} on {shard} differ from the writer's log"
    );
    assert_eq!(
        actual.products, expected.products,
        "products of {id} on {shard}"
    );
    assert_eq!(
        actual.settings, expected.settings,
        "settings of {id} on {shard}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_move_under_a_concurrent_writer_loses_no_write_and_freezes_only_briefly() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 100_000).await;
    env.seed(8, "shard_1", 2_000).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 5_000).await;
    let writer = Writer::start(&env, 7, 8).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let outcome = mover.run(id, &Silent).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = writer.stop().await;

    let record = &outcome.record;
    assert_eq!(record.status.as_str(), "completed");
    let freeze = record.freeze_ms().expect("the freeze is recorded");
    let budget = env.settings.engine.freeze_budget_ms;
    eprintln!(
        "online move: {} writes to the moving website ({} refused), {} to its neighbour; \
         freeze {freeze} ms, {} changes drained in it, {} replayed in all; longest write {:?}",
        log.acknowledged[&7],
        log.refusals.get(&7).copied().unwrap_or(0),
        log.acknowledged[&8],
        record.freeze_changes.unwrap_or(0),
        record.changes_applied,
        log.longest_wait
    );
    assert!(
        log.acknowledged[&7] > 200,
        "the writer kept writing: {log:?}"
    );
    assert!(record.changes_applied > 0, "changes were replayed");
    assert_holds(&env, "shard_2", 7, &log.moving).await;
    assert!(
        dump(&env.shard_1, 7).await.is_empty(),
        "the source keeps none of the website"
    );
    assert_holds(&env, "shard_1", 8, &log.neighbour).await;
    assert_eq!(
        log.refusals.get(&8).copied().unwrap_or(0),
        0,
        "the neighbour was refused"
    );
    assert!(
        freeze < budget as i64,
        "froze {freeze} ms, budget {budget} ms"
    );
    assert!(
        log.longest_wait < Duration::from_millis(budget),
        "a write of the moving website waited {:?}",
        log.longest_wait
    );
    // Nothing of the capture is left behind.
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM shardmover.changes) + (SELECT count(*) FROM shardmover.captured_websites)",
    )
    .fetch_one(env.as_mover("shard_1"))
    .await
    .unwrap();
    assert_eq!(left, 0, "capture left behind on the source");
    let touched: i64 = sqlx::query_scalar("SELECT count(*) FROM shardmover.touched_rows")
        .fetch_one(env.as_mover("shard_2"))
        .await
        .unwrap();
    assert_eq!(touched, 0, "touched keys left behind on the target");
    let _ = website(7);
}
