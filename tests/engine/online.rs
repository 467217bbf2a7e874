//! Online moves under a real concurrent writer: the application keeps writing
//! the moving website (and a neighbour) the whole time; afterwards the target
//! holds exactly what the writer's log says, the source none of it, the
//! neighbour was never refused, and the moving website's writes paused only
//! for the freeze.

use std::time::Duration;

use shardmover::domain::Phase;
use shardmover::mover::Silent;

use crate::helpers::{Interlude, TestEnv, block_on, dump, pool, website};
use crate::writer::{Model, Writer};

/// Settings rows moved in and out by the writer land on the other shards'
/// website ids -1/-2 too; compare the website's own rows only.
async fn assert_holds(env: &TestEnv, shard: &str, id: i64, expected: &Model) {
    let actual = Model::read(env.pool(shard), id).await.unwrap();
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
    // A few hundred thousand rows: the copy takes long enough for thousands of writes.
    env.seed(7, "shard_1", 300_000).await;
    env.seed(8, "shard_1", 2_000).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 20_000).await;
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
    let held_to: Option<i32> =
        sqlx::query_scalar("SELECT freeze_budget_ms FROM shardmover.migrations WHERE id = $1")
            .bind(id.get())
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!(
        held_to,
        Some(budget as i32),
        "the budget is recorded with the freeze"
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

#[tokio::test]
async fn a_move_whose_backlog_cannot_fit_the_freeze_stops_transiently_without_freezing_and_resumes()
{
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 6_000).await;
    let slow = env.mover_with(|s| {
        s.engine.catch_up_batch = 1;
        s.engine.catch_up_timeout_secs = 1;
    });
    let id = env.request(&slow, 7, "shard_2", 1_000).await;
    let url = env.app_urls[0].clone();
    // Thousands of changes arrive just as catch-up starts; one per batch cannot
    // drain them within a second.
    let burst = Interlude::on_entering(Phase::CatchingUp, move || {
        block_on(async move {
            sqlx::query("UPDATE orders SET note = 'burst' WHERE website_id = 7")
                .execute(&pool(&url).await)
                .await
                .unwrap();
        })
    });

    let error = slow.run(id, &burst).await.unwrap_err();

    assert!(burst.ran());
    assert_eq!(error.code(), "catch_up_timeout", "{error}");
    assert!(error.is_transient());
    let record = env.mover().run_report(id).await.unwrap().record;
    assert_eq!(record.status.as_str(), "in_progress");
    assert_eq!(record.phase, Phase::CatchingUp);
    assert!(record.freeze_started_at.is_none(), "never froze");
    assert!(record.changes_waiting > 0);
    // The website still takes writes on its shard.
    sqlx::query("UPDATE orders SET note = 'still writable' WHERE id = (SELECT min(id) FROM orders WHERE website_id = 7)")
        .execute(&env.shard_1)
        .await
        .unwrap();
    let expected = dump(&env.shard_1, 7).await;

    let outcome = env.mover().run(id, &Silent).await.unwrap();

    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(dump(&env.shard_2, 7).await, expected);
    assert!(outcome.record.freeze_ms().is_some());
}

#[tokio::test]
async fn a_changed_row_that_now_points_at_a_parent_later_in_the_log_is_replayed_without_failing() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    // One change per batch: the order's first change comes alone, but its row
    // as it is now references a product whose insert sits later in the log.
    let mover = env.mover_with(|s| s.engine.catch_up_batch = 1);
    let id = env.request(&mover, 7, "shard_2", 1_000).await;
    let url = env.app_urls[0].clone();
    let after_writes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = after_writes.clone();
    let rewire = Interlude::on_entering(Phase::CatchingUp, move || {
        block_on(async move {
            let source = pool(&url).await;
            sqlx::raw_sql(
                "UPDATE orders SET note = 'first' WHERE id = (SELECT min(id) FROM orders WHERE website_id = 7);
                 INSERT INTO products (id, website_id, name, price) VALUES (77000001, 7, 'new', 1.50);
                 UPDATE orders SET product_id = 77000001 WHERE id = (SELECT min(id) FROM orders WHERE website_id = 7);
                 UPDATE orders SET note = 'later' WHERE id IN (SELECT id FROM orders WHERE website_id = 7 ORDER BY id DESC LIMIT 100);",
            )
            .execute(&source)
            .await
            .unwrap();
            *seen.lock().unwrap() = dump(&source, 7).await;
        })
    });

    let outcome = mover.run(id, &rewire).await.unwrap();

    assert!(rewire.ran());
    assert_eq!(outcome.record.status.as_str(), "completed");
    let expected = after_writes.lock().unwrap().clone();
    assert_eq!(dump(&env.shard_2, 7).await, expected);
    assert!(dump(&env.shard_1, 7).await.is_empty());
    let moved: (i64, String) = sqlx::query_as(
        "SELECT o.product_id, p.name FROM orders o JOIN products p ON p.id = o.product_id
          WHERE o.id = (SELECT min(id) FROM orders WHERE website_id = 7)",
    )
    .fetch_one(&env.shard_2)
    .await
    .unwrap();
    assert_eq!(moved, (77000001, "new".to_owned()));
    let later: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE website_id = 7 AND note = 'later'")
            .fetch_one(&env.shard_2)
            .await
            .unwrap();
    assert_eq!(later, 100);
}

#[tokio::test]
async fn a_tree_rewired_while_its_table_is_copied_in_chunks_ends_exact() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 20_000).await;
    let mover = env.mover();
    let report = mover
        .preflight(website(7), &crate::helpers::shard("shard_2"))
        .await
        .unwrap();
    let parts = report
        .tables
        .iter()
        .find(|t| t.name == "public.page_parts")
        .unwrap();
    assert!(parts.self_referencing && parts.links_later, "{parts:?}");
    let pages: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE website_id = 7")
        .fetch_one(&env.shard_1)
        .await
        .unwrap();
    let id = env.request(&mover, 7, "shard_2", 300).await;
    let url = env.app_urls[0].clone();
    let expected = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let slot = expected.clone();
    // While page_parts is being copied (rows first, links after): a new part
    // arrives and existing parts are hung under it; the copy read neither.
    let rewire = Interlude::after(pages as u64 + 600, move || {
        block_on(async move {
            let app = pool(&url).await;
            let mut tx = app.begin().await.unwrap();
            let new: i64 = sqlx::query_scalar(
                "INSERT INTO page_parts (website_id, page_id, content, position)
                 SELECT 7, min(id), 'new root', 9 FROM pages WHERE website_id = 7 RETURNING id",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            sqlx::query(
                "UPDATE page_parts SET parent_id = $1
                  WHERE id IN (SELECT id FROM page_parts WHERE website_id = 7 ORDER BY id LIMIT 50)",
            )
            .bind(new)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
            *slot.lock().unwrap() = dump(&app, 7).await;
        })
    });

    let outcome = mover.run(id, &rewire).await.unwrap();

    assert!(rewire.ran());
    assert_eq!(outcome.record.status.as_str(), "completed");
    assert!(
        outcome.record.changes_applied >= 51,
        "{}",
        outcome.record.changes_applied
    );
    let expected = expected.lock().unwrap().clone();
    assert!(!expected.is_empty());
    assert_eq!(dump(&env.shard_2, 7).await, expected);
    assert!(
        dump(&env.shard_1, 7).await.is_empty(),
        "deleted in batches, tree and all"
    );
}
