//! Moves refused by preflight: each fails with a clear message and leaves both
//! shards, the registry and the fences exactly as they were.

use shardmover::mover::{MoveError, Silent};

use shardmover::domain::MoveRequest;
use shardmover::shard_status::ShardStatus;

use crate::helpers::{TestEnv, shard, website, whole_shard};

struct Before {
    shard_1: Vec<String>,
    shard_2: Vec<String>,
    registry: Option<String>,
}

async fn snapshot(env: &TestEnv) -> Before {
    Before {
        shard_1: whole_shard(env, "shard_1").await,
        shard_2: whole_shard(env, "shard_2").await,
        registry: env.registry(7).await,
    }
}

async fn assert_untouched(env: &TestEnv, before: &Before) {
    assert_eq!(
        whole_shard(env, "shard_1").await,
        before.shard_1,
        "source changed"
    );
    assert_eq!(
        whole_shard(env, "shard_2").await,
        before.shard_2,
        "target changed"
    );
    assert_eq!(env.registry(7).await, before.registry, "registry changed");
}

/// Requests and runs a move of website 7 to shard_2 and returns its error.
async fn failed_move(env: &TestEnv) -> MoveError {
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 500).await;
    let error = mover.run(id, &Silent).await.unwrap_err();
    let status: String =
        sqlx::query_scalar("SELECT status FROM shardmover.migrations WHERE id = $1")
            .bind(id.get())
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    error
}

#[tokio::test]
async fn a_schema_difference_is_refused_with_a_readable_diff() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 500).await;
    sqlx::raw_sql("ALTER TABLE orders ALTER COLUMN note TYPE varchar(50); ALTER TABLE pages ADD COLUMN extra int")
        .execute(&env.shard_2)
        .await
        .unwrap();
    let before = snapshot(&env).await;
    let error = failed_move(&env).await;
    assert_eq!(error.code(), "schema_mismatch");
    let message = error.to_string();
    assert!(
        message
            .contains("public.orders.note: type text on source, character varying(50) on target"),
        "{message}"
    );
    assert!(
        message.contains("public.pages.extra: column exists only on target"),
        "{message}"
    );
    assert_untouched(&env, &before).await;
}

#[tokio::test]
async fn a_primary_key_collision_is_refused_naming_table_count_and_keys() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 500).await;
    // Another website on the target already uses two of website 7's page ids.
    sqlx::raw_sql(
        "INSERT INTO pages (id, website_id, slug, title) VALUES (700000001, 99, 'a', 'x'), (700000002, 99, 'b', 'y')",
    )
    .execute(&env.shard_2)
    .await
    .unwrap();
    let before = snapshot(&env).await;
    let error = failed_move(&env).await;
    assert_eq!(error.code(), "key_collision");
    let message = error.to_string();
    assert!(
        message.starts_with("public.pages: 2 primary key(s)"),
        "{message}"
    );
    assert!(
        message.contains("(700000001)") && message.contains("(700000002)"),
        "{message}"
    );
    assert_untouched(&env, &before).await;
}

#[tokio::test]
async fn a_tenant_table_without_primary_key_is_refused_by_name() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 500).await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql("CREATE TABLE visits (website_id bigint NOT NULL, path text)")
            .execute(pool)
            .await
            .unwrap();
    }
    let before = snapshot(&env).await;
    let error = failed_move(&env).await;
    assert_eq!(error.code(), "missing_primary_key");
    assert!(error.to_string().contains("public.visits"), "{error}");
    assert_untouched(&env, &before).await;
}

#[tokio::test]
async fn rows_of_the_website_already_on_the_target_are_refused() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 500).await;
    sqlx::query("INSERT INTO website_settings (website_id, key) VALUES (7, 'leftover')")
        .execute(&env.shard_2)
        .await
        .unwrap();
    let before = snapshot(&env).await;
    let error = failed_move(&env).await;
    assert_eq!(error.code(), "target_not_empty");
    assert!(
        error
            .to_string()
            .contains("1 rows in public.website_settings"),
        "{error}"
    );
    assert_untouched(&env, &before).await;
}

#[tokio::test]
async fn bad_routes_are_refused_before_anything_is_recorded() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 200).await;
    let before = snapshot(&env).await;
    let request = |id: i64, target: &str| MoveRequest {
        website: website(id),
        target: shard(target),
        keep_source: false,
        batch_rows: None,
        requested_by: None,
        notes: None,
        mode: Default::default(),
    };
    let mover = env.mover();
    let cases = [
        (
            request(7, "shard_9"),
            "unknown_shard",
            "shard \"shard_9\" is not configured",
        ),
        (
            request(7, "shard_1"),
            "same_shard",
            "website 7 already lives on shard shard_1",
        ),
        (
            request(404, "shard_2"),
            "unknown_website",
            "website 404 is not in the registry",
        ),
    ];
    for (req, code, message) in cases {
        let error = mover.request(&req).await.unwrap_err();
        assert_eq!((error.code(), error.to_string().as_str()), (code, message));
        assert_eq!(
            mover
                .preflight(req.website, &req.target)
                .await
                .unwrap_err()
                .code(),
            code,
            "dry run agrees"
        );
    }
    let maintenance =
        env.mover_with(|s| s.shards.get_mut("shard_2").unwrap().status = ShardStatus::Maintenance);
    let error = maintenance
        .request(&request(7, "shard_2"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "shard shard_2 is maintenance and does not accept websites"
    );
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM shardmover.migrations")
        .fetch_one(&env.control)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    assert_untouched(&env, &before).await;
}

#[tokio::test]
async fn a_dry_run_reports_the_plan_and_changes_nothing() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 1_000).await;
    let before = snapshot(&env).await;
    let report = env
        .mover()
        .preflight(website(7), &shard("shard_2"))
        .await
        .unwrap();
    let order: Vec<&str> = report.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "public.pages",
            "public.page_parts",
            "public.products",
            "public.orders",
            "public.website_settings"
        ]
    );
    assert_eq!(
        report.rows_total,
        crate::helpers::dump(&env.shard_1, 7).await.len() as i64
    );
    assert!(
        report
            .tables
            .iter()
            .any(|t| t.name == "public.page_parts" && t.self_referencing)
    );
    assert_untouched(&env, &before).await;
}

#[tokio::test]
async fn a_second_move_of_the_same_website_is_refused_while_one_is_active() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 200).await;
    let mover = env.mover();
    let first = env.request(&mover, 7, "shard_2", 100).await;
    let request = MoveRequest {
        website: website(7),
        target: shard("shard_2"),
        keep_source: false,
        batch_rows: None,
        requested_by: None,
        notes: None,
        mode: Default::default(),
    };
    match mover.request(&request).await.unwrap_err() {
        MoveError::Busy { existing, .. } => assert_eq!(existing, first),
        other => panic!("expected Busy, got {other}"),
    }
}
