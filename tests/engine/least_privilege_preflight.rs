//! Preflight refuses what no table grant covers: row-level security that would
//! hide rows from shardmover (it would copy part of a website and delete all of
//! it), and application triggers its role could not keep from firing.

use shardmover::mover::{MoveError, Mover, privileges};
use sqlx::{Connection, PgPool};

use crate::helpers::{APP_ROLE, TestEnv, shard, website, whole_shard};

async fn run(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

/// The list preflight refuses website 7's move to shard_2 with.
async fn refusal(mover: &Mover) -> String {
    match mover.preflight(website(7), &shard("shard_2")).await {
        Err(MoveError::MissingPrivileges(list)) => list,
        Err(other) => panic!("expected missing privileges, got {other}"),
        Ok(_) => panic!("expected missing privileges, preflight passed"),
    }
}

/// shardmover connected to both shards as the application's role: an owner
/// of every tenant table, without the parameter grant (nor CREATE on the
/// databases, which preflight lists too).
fn mover_as_app(env: &TestEnv) -> Mover {
    env.mover_with(|settings| {
        for (name, url) in ["shard_1", "shard_2"].iter().zip(&env.app_urls) {
            settings.shards.get_mut(*name).unwrap().url = url.clone();
        }
    })
}

async fn schema_shardmover_exists(pool: &PgPool) -> bool {
    sqlx::query_scalar("SELECT to_regnamespace('shardmover') IS NOT NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn preflight_refuses_tables_whose_row_level_security_hides_rows_and_touches_nothing() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    // The application, owner of both tables, filters them; orders even for itself.
    run(
        &env.shard_1,
        "ALTER TABLE pages ENABLE ROW LEVEL SECURITY;
         CREATE POLICY only_website_8 ON pages USING (website_id = 8);
         ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
         ALTER TABLE orders FORCE ROW LEVEL SECURITY;
         CREATE POLICY only_website_8 ON orders USING (website_id = 8);",
    )
    .await;
    let before = [
        whole_shard(&env, "shard_1").await,
        whole_shard(&env, "shard_2").await,
    ];

    let list = refusal(&env.mover()).await;
    let item = list
        .split("; ")
        .find(|item| item.starts_with("BYPASSRLS"))
        .unwrap_or_else(|| panic!("no BYPASSRLS in: {list}"));
    assert!(
        item.contains("pages") && item.contains("orders") && !item.contains("products"),
        "{item}"
    );
    assert!(
        item.ends_with("as a superuser: ALTER ROLE \"sm_test_mover\" BYPASSRLS) (shard_1)"),
        "{item}"
    );
    assert_eq!(list.matches("BYPASSRLS, as").count(), 1, "{list}");

    // An owner is filtered only where the table forces row-level security.
    let list = refusal(&mover_as_app(&env)).await;
    assert!(
        list.contains("row-level security would hide rows of orders from it ("),
        "{list}"
    );
    assert!(!list.contains("rows of pages"), "{list}");

    assert_eq!(whole_shard(&env, "shard_1").await, before[0]);
    assert_eq!(whole_shard(&env, "shard_2").await, before[1]);
    for pool in [&env.shard_1, &env.shard_2] {
        assert!(
            !schema_shardmover_exists(pool).await,
            "preflight created nothing"
        );
    }
}

#[tokio::test]
async fn preflight_refuses_application_triggers_a_role_may_not_turn_off_and_names_the_grant() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    // An enabled trigger, a disabled one, and the foreign keys' internal ones.
    run(
        &env.shard_1,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the application trigger fired'; END $$;
         CREATE TRIGGER audit_pages BEFORE UPDATE ON pages
             FOR EACH ROW EXECUTE FUNCTION refuse();
         CREATE TRIGGER dormant BEFORE UPDATE ON orders
             FOR EACH ROW EXECUTE FUNCTION refuse();
         ALTER TABLE orders DISABLE TRIGGER dormant;",
    )
    .await;

    // The test suite's shardmover role has the grant: nothing to refuse.
    env.mover()
        .preflight(website(7), &shard("shard_2"))
        .await
        .unwrap();

    let list = refusal(&mover_as_app(&env)).await;
    let expected = format!(
        "SET on parameter session_replication_role, as its copies, replays and deletes would \
         fire the application's triggers pages.audit_pages (as a superuser: \
         GRANT SET ON PARAMETER session_replication_role TO \"{APP_ROLE}\") (shard_1)"
    );
    assert!(
        list.contains(&expected),
        "{expected:?} missing from: {list}"
    );
    assert_eq!(
        list.matches("session_replication_role, as").count(),
        1,
        "{list}"
    );
}

#[tokio::test]
async fn a_granted_role_turns_application_triggers_off_for_one_transaction_only() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    run(
        &env.shard_1,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the application trigger fired'; END $$;
         CREATE TRIGGER audit_pages BEFORE UPDATE ON pages
             FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await;
    let mut app = env.shard_1.acquire().await.unwrap();
    assert!(
        !privileges::may_set_replication_role(&mut app)
            .await
            .unwrap()
    );

    let mut conn = env.as_mover("shard_1").acquire().await.unwrap();
    assert!(
        privileges::may_set_replication_role(&mut conn)
            .await
            .unwrap()
    );
    let update = "UPDATE pages SET title = title || '.' WHERE website_id = 7";
    let mut tx = conn.begin().await.unwrap();
    // The engine's own write preamble: through the fence, as a replica.
    shardmover::db::bypass_fence(&mut tx).await.unwrap();
    let done = sqlx::query(update).execute(&mut *tx).await.unwrap();
    assert!(done.rows_affected() > 0);
    tx.commit().await.unwrap();

    let error = sqlx::query(update).execute(&mut *conn).await.unwrap_err();
    assert!(
        error.to_string().contains("the application trigger fired"),
        "the connection went back with triggers on: {error}"
    );
}
