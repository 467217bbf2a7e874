//! Moves onto targets that already hold other websites, as every real target
//! does. Preflight compares the website's key range with the target's keys
//! before it compares keys one by one, so these pin down both outcomes: keys
//! that cannot collide (other ranges, or inside the range but never equal)
//! move, keys that do are refused by name and count, and a key taken after
//! preflight is still caught by the copy's own unique index.

use shardmover::domain::Phase;
use shardmover::mover::{MoveError, Silent};

use sqlx::PgPool;

use crate::helpers::{Interlude, TestEnv, block_on, dump, pool};

/// Website 7 (500 rows: orders 700000001..=700000322) on shard_1 and website 9
/// on shard_2, whose own keys lie above website 7's.
async fn seeded() -> TestEnv {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 500).await;
    env.seed(9, "shard_2", 300).await;
    env
}

/// Orders of website 9 with the given ids on `shard` (website 9's).
async fn orders_of_9(shard: &PgPool, ids: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO orders (id, website_id, product_id, quantity, total, ordered_at)
         SELECT g, 9, (SELECT min(id) FROM products WHERE website_id = 9), 1, 1, now()
           FROM {ids} g"
    )))
    .execute(shard)
    .await
    .unwrap();
}

async fn run_move(env: &TestEnv) -> Result<(), MoveError> {
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    mover.run(id, &Silent).await.map(|_| ())
}

/// A key collision, its message starting with `table_count` and naming `key`.
fn assert_collision(error: &MoveError, table_count: &str, key: &str) {
    assert_eq!(error.code(), "key_collision", "{error}");
    let message = error.to_string();
    assert!(message.starts_with(table_count), "{message}");
    assert!(message.contains(key), "{message}");
}

/// The move failed and changed nothing: website 7 still lives on shard_1 and
/// none of its rows are on shard_2.
async fn assert_refused_cleanly(env: &TestEnv, source_before: &[String]) {
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
    assert_eq!(dump(&env.shard_1, 7).await, source_before);
    assert!(dump(&env.shard_2, 7).await.is_empty());
}

#[tokio::test]
async fn a_website_moves_onto_a_target_holding_websites_with_keys_below_and_above_its_own() {
    let env = seeded().await;
    env.seed(3, "shard_2", 300).await;
    let source_before = dump(&env.shard_1, 7).await;
    let neighbours_before = (dump(&env.shard_2, 3).await, dump(&env.shard_2, 9).await);

    run_move(&env).await.unwrap();

    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));
    assert_eq!(dump(&env.shard_2, 7).await, source_before);
    let neighbours_after = (dump(&env.shard_2, 3).await, dump(&env.shard_2, 9).await);
    assert_eq!(neighbours_after, neighbours_before);
}

#[tokio::test]
async fn target_keys_inside_the_websites_range_that_equal_none_of_its_keys_do_not_block_it() {
    let env = seeded().await;
    // Two gaps in website 7's orders, taken on the target by website 9.
    sqlx::raw_sql("DELETE FROM orders WHERE id IN (700000100, 700000200)")
        .execute(&env.shard_1)
        .await
        .unwrap();
    orders_of_9(&env.shard_2, "unnest(ARRAY[700000100, 700000200]::int8[])").await;
    let source_before = dump(&env.shard_1, 7).await;

    run_move(&env).await.unwrap();

    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));
    assert_eq!(dump(&env.shard_2, 7).await, source_before);
    let of_9: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE id IN (700000100, 700000200) AND website_id = 9",
    )
    .fetch_one(&env.shard_2)
    .await
    .unwrap();
    assert_eq!(of_9, 2);
}

#[tokio::test]
async fn keys_that_collide_where_the_ranges_overlap_are_all_counted_and_named() {
    let env = seeded().await;
    // Website 9's orders 700000301..=700000400 on the target: the first 22
    // are website 7's last 22, the rest lie above its range.
    orders_of_9(&env.shard_2, "generate_series(700000301, 700000400)").await;
    let source_before = dump(&env.shard_1, 7).await;

    let error = run_move(&env).await.unwrap_err();

    assert_collision(&error, "public.orders: 22 primary key(s)", "(700000301)");
    assert_refused_cleanly(&env, &source_before).await;
}

#[tokio::test]
async fn a_text_keyed_table_is_checked_key_by_key_and_a_shared_code_is_refused() {
    let env = seeded().await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql("CREATE TABLE coupons (code text PRIMARY KEY, website_id bigint NOT NULL)")
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::raw_sql("INSERT INTO coupons VALUES ('AUTUMN', 7), ('SPRING', 7)")
        .execute(&env.shard_1)
        .await
        .unwrap();
    sqlx::raw_sql("INSERT INTO coupons VALUES ('BLACK FRIDAY', 9), ('SPRING', 9), ('WINTER', 9)")
        .execute(&env.shard_2)
        .await
        .unwrap();
    let source_before = dump(&env.shard_1, 7).await;

    let error = run_move(&env).await.unwrap_err();

    assert_collision(&error, "public.coupons: 1 primary key(s)", "(SPRING)");
    assert_refused_cleanly(&env, &source_before).await;
}

#[tokio::test]
async fn a_key_taken_on_the_target_after_preflight_fails_the_copy_and_the_move_rolls_back() {
    let env = seeded().await;
    let source_before = dump(&env.shard_1, 7).await;
    let target_url = env.app_urls[1].clone();
    // Preflight found no collision; then website 9 takes one of website 7's order ids.
    let collide = Interlude::on_entering(Phase::Copying, move || {
        block_on(async move {
            orders_of_9(&pool(&target_url).await, "unnest(ARRAY[700000005]::int8[])").await
        })
    });
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;

    let error = mover.run(id, &collide).await.unwrap_err();

    assert!(collide.ran());
    assert_eq!(error.code(), "key_collision", "{error}");
    assert!(error.to_string().contains("700000005"), "{error}");
    let record = env.mover().run_report(id).await.unwrap().record;
    assert_eq!(record.status.as_str(), "failed");
    assert_refused_cleanly(&env, &source_before).await;
}
