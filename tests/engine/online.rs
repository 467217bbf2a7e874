//! Online moves under a real concurrent writer: the application keeps writing
//! the moving website (and a neighbour) the whole time; afterwards the target
//! holds exactly what the writer's log says, the source none of it, the
//! neighbour was never refused, and the moving website's writes paused only
//! for the freeze.

use std::time::Duration;

use shardmover::control::Phase;
use shardmover::mover::Silent;

use crate::helpers::{Interlude, TestEnv, block_on, dump, pool, website};
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

#[tokio::test]
async fn a_key_collision_that_appears_during_catch_up_fails_the_move_cleanly_naming_the_key() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    env.seed(9, "shard_2", 300).await;
    let before_source = dump(&env.shard_1, 7).await;
    let before_target = dump(&env.shard_2, 9).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 500).await;
    let urls = env.app_urls.clone();
    // After the copy, before catch-up: website 7 writes order 4242424242 on its
    // shard, and the target's own website 9 takes the same key meanwhile.
    let collide = Interlude::on_entering(Phase::CatchingUp, move || {
        block_on(async move {
            let (source, target) = (pool(&urls[0]).await, pool(&urls[1]).await);
            for (pool, website) in [(&source, 7), (&target, 9)] {
                sqlx::query(
                    "INSERT INTO orders (id, website_id, product_id, quantity, total, ordered_at)
                     SELECT 4242424242, $1, min(id), 1, 1, now() FROM products WHERE website_id = $1",
                )
                .bind(website)
                .execute(pool)
                .await
                .unwrap();
            }
        })
    });

    let error = mover.run(id, &collide).await.unwrap_err();

    assert!(collide.ran());
    assert_eq!(error.code(), "key_collision", "{error}");
    assert!(error.to_string().contains("4242424242"), "{error}");
    let record = env.mover().run_report(id).await.unwrap().record;
    assert_eq!(record.status.as_str(), "failed");
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
    // Rolled back: the target holds none of website 7 and all of website 9.
    assert!(dump(&env.shard_2, 7).await.is_empty());
    let mut target_9 = dump(&env.shard_2, 9).await;
    target_9.retain(|row| !row.contains("4242424242"));
    assert_eq!(target_9, before_target);
    // The source has all it had, plus the order written during the move, and takes writes again.
    let mut source = dump(&env.shard_1, 7).await;
    assert_eq!(source.len(), before_source.len() + 1);
    source.retain(|row| !row.contains("4242424242"));
    assert_eq!(source, before_source);
    sqlx::query("UPDATE orders SET note = 'after' WHERE id = 4242424242")
        .execute(&env.shard_1)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM shardmover.changes) + (SELECT count(*) FROM shardmover.captured_websites)",
    )
    .fetch_one(env.as_mover("shard_1"))
    .await
    .unwrap();
    assert_eq!(left, 0, "capture left behind after the rollback");
}
