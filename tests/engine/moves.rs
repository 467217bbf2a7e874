//! Moves that succeed.

use shardmover::domain::Phase;
use shardmover::mover::Silent;

use crate::helpers::{Interlude, TestEnv, block_on, dump, fences, pool, website};

#[tokio::test]
async fn a_tenant_moves_exactly_and_its_neighbours_are_untouched() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 5_000).await;
    env.seed(8, "shard_1", 500).await;
    env.seed(9, "shard_2", 500).await;
    let before = dump(&env.shard_1, 7).await;
    let (neighbour, other) = (dump(&env.shard_1, 8).await, dump(&env.shard_2, 9).await);
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 700).await;

    let outcome = mover.run(id, &Silent).await.unwrap();

    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(
        dump(&env.shard_2, 7).await,
        before,
        "every row, generated column included, arrives as it was"
    );
    assert!(
        dump(&env.shard_1, 7).await.is_empty(),
        "the source rows are cleaned up"
    );
    assert_eq!(dump(&env.shard_1, 8).await, neighbour);
    assert_eq!(dump(&env.shard_2, 9).await, other);
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));
    assert!(
        outcome
            .tables
            .iter()
            .all(|t| t.verified && t.source_checksum == t.target_checksum)
    );
    assert_eq!(
        outcome.tables.iter().map(|t| t.rows_copied).sum::<i64>(),
        before.len() as i64
    );
    assert_eq!(
        fences(&env, "shard_1").await,
        vec![7],
        "the old source stays fenced against stale writes"
    );
}

#[tokio::test]
async fn sequences_on_the_target_are_advanced_past_the_moved_keys_offline() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 2_000).await;
    let mover = env.mover();
    let id = env.request_offline(&mover, 7, "shard_2", 10_000).await;
    mover.run(id, &Silent).await.unwrap();

    assert_sequences_past_rows(&env).await;
}

#[tokio::test]
async fn sequences_on_the_target_are_advanced_past_keys_written_during_an_online_move() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 2_000).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 500).await;
    let url = env.app_urls[0].clone();
    // Just before the fence: an order with a key far past every sequence,
    // written after the copy and after catch-up's first advance, so only the
    // replay of the last changes can carry the target's sequence past it.
    let late = Interlude::on_entering(Phase::Freezing, move || {
        block_on(async move {
            sqlx::query(
                "INSERT INTO orders (id, website_id, product_id, quantity, total, ordered_at)
                 SELECT 9000000000, 7, min(id), 1, 1, now() FROM products WHERE website_id = 7",
            )
            .execute(&pool(&url).await)
            .await
            .unwrap();
        })
    });
    mover.run(id, &late).await.unwrap();

    assert!(late.ran());
    assert_sequences_past_rows(&env).await;
    let next: i64 = sqlx::query_scalar("SELECT nextval('orders_id_seq')")
        .fetch_one(&env.shard_2)
        .await
        .unwrap();
    assert!(next > 9_000_000_000, "orders_id_seq gave {next}");
}

/// Each serial column's next value on shard 2 is past every key it holds.
async fn assert_sequences_past_rows(env: &TestEnv) {
    for (table, sequence) in [
        ("pages", "pages_id_seq"),
        ("orders", "orders_id_seq"),
        ("page_parts", "page_parts_id_seq"),
    ] {
        let max: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT max(id) FROM {table}")))
                .fetch_one(&env.shard_2)
                .await
                .unwrap();
        let next: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT nextval('{sequence}')")))
                .fetch_one(&env.shard_2)
                .await
                .unwrap();
        assert!(
            next > max,
            "{sequence} gave {next}, but {table} already holds {max}"
        );
    }
}

#[tokio::test]
async fn a_website_can_move_back_and_the_fences_follow_it() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 1_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = env.mover();
    let there = env.request(&mover, 7, "shard_2", 300).await;
    mover.run(there, &Silent).await.unwrap();
    let back = env.request(&mover, 7, "shard_1", 300).await;
    mover.run(back, &Silent).await.unwrap();

    assert_eq!(dump(&env.shard_1, 7).await, original);
    assert!(dump(&env.shard_2, 7).await.is_empty());
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
    assert!(
        fences(&env, "shard_1").await.is_empty(),
        "home again: writes are allowed"
    );
    assert_eq!(fences(&env, "shard_2").await, vec![7]);
    sqlx::query("INSERT INTO website_settings (website_id, key) VALUES (7, 'after-return')")
        .execute(&env.shard_1)
        .await
        .expect("the website's own shard accepts its writes");
}

#[tokio::test]
async fn keep_source_leaves_fenced_rows_that_finalize_deletes() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 1_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = env.mover();
    let request = shardmover::domain::MoveRequest {
        website: website(7),
        target: crate::helpers::shard("shard_2"),
        keep_source: true,
        batch_rows: None,
        requested_by: None,
        notes: None,
        mode: Default::default(),
    };
    let id = mover.request(&request).await.unwrap().id;
    mover.run(id, &Silent).await.unwrap();
    assert_eq!(dump(&env.shard_1, 7).await, original, "kept");
    assert_eq!(dump(&env.shard_2, 7).await, original, "and copied");

    let (finalized, deleted) = mover.finalize(website(7)).await.unwrap();

    assert_eq!(finalized, id);
    assert_eq!(deleted as usize, original.len());
    assert!(dump(&env.shard_1, 7).await.is_empty());
    assert_eq!(dump(&env.shard_2, 7).await, original);
    assert_eq!(
        mover.finalize(website(7)).await.unwrap_err().code(),
        "cleanup_refused",
        "nothing left to finalize"
    );
}

#[tokio::test]
async fn an_empty_website_moves_too() {
    let env = TestEnv::new().await;
    shardmover::cli::samples::tenant::register(&env.app_control, website(5), "shard_1")
        .await
        .unwrap();
    let mover = env.mover();
    let id = env.request(&mover, 5, "shard_2", 100).await;
    let outcome = mover.run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(env.registry(5).await.as_deref(), Some("shard_2"));
}

#[tokio::test]
async fn a_table_whose_types_lack_hash_functions_is_verified_by_its_text_form() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql("CREATE TABLE legacy_notes (id bigint PRIMARY KEY, website_id bigint NOT NULL, payload json, spot point)")
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "INSERT INTO legacy_notes SELECT g, 7, json_build_object('n', g, 'ü', 'ß'), point(g, -g) FROM generate_series(1, 500) g",
    )
    .execute(&env.shard_1)
    .await
    .unwrap();
    let before: Vec<String> =
        sqlx::query_scalar("SELECT ROW(t.*)::text FROM legacy_notes t ORDER BY id")
            .fetch_all(&env.shard_1)
            .await
            .unwrap();
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;

    let outcome = mover.run(id, &Silent).await.unwrap();

    let after: Vec<String> =
        sqlx::query_scalar("SELECT ROW(t.*)::text FROM legacy_notes t ORDER BY id")
            .fetch_all(&env.shard_2)
            .await
            .unwrap();
    assert_eq!(after, before);
    let notes = outcome
        .tables
        .iter()
        .find(|t| t.name == "public.legacy_notes")
        .unwrap();
    assert!(notes.verified && notes.rows_copied == 500);
}

#[tokio::test]
async fn every_move_leaves_an_audit_entry_that_follows_its_status() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let filter = shardmover::control::audit_logs::AuditFilter {
        website: Some(website(7)),
        limit: 10,
        ..Default::default()
    };
    let audit = || mover.audit_log(&filter);
    let pending = audit().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].status, "pending",
        "recorded with the request, before any work"
    );

    mover.run(id, &Silent).await.unwrap();

    let done = audit().await.unwrap();
    assert_eq!(done.len(), 1);
    let entry = &done[0];
    assert_eq!(
        (
            entry.old_shard_name.as_deref(),
            entry.new_shard_name.as_str(),
            entry.status.as_str()
        ),
        (Some("shard_1"), "shard_2", "completed")
    );
    assert_eq!(entry.changed_by_email.as_deref(), Some("test@example.com"));
    assert_eq!(entry.migration_id, Some(id.get()));
}
