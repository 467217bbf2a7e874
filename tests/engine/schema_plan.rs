//! What preflight makes of a schema: every table with how its rows are found,
//! the tables left alone and why, the application's triggers, materialized
//! views (recorded on the move as the operator's follow-up), a table keyed by
//! a unique index instead of a primary key, and foreign-key cycles — moved
//! when an edge can be cut, refused by name when none can.

use shardmover::mover::Silent;

use crate::helpers::{TestEnv, shard, website};

const SCHEMA: &str = "
CREATE TABLE g_plans (id bigint PRIMARY KEY, name text);
CREATE TABLE x_audit (id bigserial PRIMARY KEY, website_id bigint NOT NULL, what text);
CREATE TABLE u_items (website_id bigint NOT NULL, code text NOT NULL, plan_id bigint REFERENCES g_plans (id),
                      qty integer, UNIQUE (website_id, code));
CREATE FUNCTION u_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.qty := coalesce(NEW.qty, 0) + 1000; RETURN NEW; END $$;
CREATE TRIGGER u_touch BEFORE INSERT ON u_items FOR EACH ROW EXECUTE FUNCTION u_touch();
CREATE TABLE c_a (id bigint PRIMARY KEY, website_id bigint NOT NULL, b_id bigint);
CREATE TABLE c_b (id bigint PRIMARY KEY, a_id bigint NOT NULL REFERENCES c_a (id));
ALTER TABLE c_a ADD FOREIGN KEY (b_id) REFERENCES c_b (id);
CREATE MATERIALIZED VIEW mv_items AS SELECT website_id, count(*) AS n FROM u_items GROUP BY 1;
CREATE UNIQUE INDEX mv_items_website ON mv_items (website_id);";

async fn plan_env() -> TestEnv {
    let mut env = TestEnv::new().await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql(SCHEMA).execute(pool).await.unwrap();
        sqlx::raw_sql("INSERT INTO g_plans VALUES (1, 'basic'), (2, 'pro')")
            .execute(pool)
            .await
            .unwrap();
    }
    env.settings.tenancy.exclude_tables = vec!["x_audit".into()];
    env
}

async fn seed(env: &TestEnv, id: i64) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO u_items (website_id, code, plan_id) SELECT {id}, 'c' || n, 1 + n % 2 FROM generate_series(1, 300) n;
         INSERT INTO c_a (id, website_id) SELECT {id} * 1000 + n, {id} FROM generate_series(1, 20) n;
         INSERT INTO c_b (id, a_id) SELECT {id} * 1000 + n, {id} * 1000 + n FROM generate_series(1, 20) n;
         UPDATE c_a SET b_id = id WHERE website_id = {id};
         INSERT INTO x_audit (website_id, what) VALUES ({id}, 'stays')"
    )))
    .execute(&env.shard_1)
    .await
    .unwrap();
}

async fn items(pool: &sqlx::PgPool, id: i64) -> Vec<(String, Option<i64>, Option<i32>)> {
    sqlx::query_as("SELECT code, plan_id, qty FROM u_items WHERE website_id = $1 ORDER BY code")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dry_run_names_every_table_its_key_and_path_and_what_is_left_alone_and_the_move_follows_it()
 {
    let env = plan_env().await;
    env.seed(7, "shard_1", 200).await;
    seed(&env, 7).await;
    let mover = env.mover();
    let report = mover
        .preflight(website(7), &shard("shard_2"))
        .await
        .unwrap();
    let table = |name: &str| {
        report
            .tables
            .iter()
            .find(|t| t.name == format!("public.{name}"))
            .unwrap_or_else(|| panic!("{name} in {:?}", report.tables))
    };
    assert_eq!(
        table("u_items").primary_key,
        ["website_id", "code"],
        "keyed by its unique index"
    );
    assert_eq!(table("c_b").owner, "a_id → public.c_a.website_id");
    let left: Vec<(&str, &str)> = report
        .schema
        .left_alone
        .iter()
        .map(|t| (t.name.as_str(), t.why.as_str()))
        .collect();
    assert!(
        left.contains(&("public.x_audit", "excluded (tenancy.exclude_tables)")),
        "{left:?}"
    );
    assert!(
        left.iter()
            .any(|(n, why)| *n == "public.g_plans" && why.starts_with("global")),
        "{left:?}"
    );
    assert_eq!(report.schema.application_triggers, ["u_items.u_touch"]);
    assert!(
        report.schema.triggers_silenced,
        "the test role may run as a replica"
    );
    let views: Vec<String> = report
        .schema
        .materialized_views
        .iter()
        .map(|v| v.refresh_sql())
        .collect();
    assert_eq!(views, ["REFRESH MATERIALIZED VIEW CONCURRENTLY mv_items"]);

    let before = items(&env.shard_1, 7).await;
    let id = env.request(&mover, 7, "shard_2", 50).await;
    let outcome = mover.run(id, &Silent).await.unwrap();
    let record = &outcome.record;
    assert_eq!(
        record.status.as_str(),
        "completed",
        "{:?}",
        record.error_message
    );
    assert_eq!(
        items(&env.shard_2, 7).await,
        before,
        "the trigger did not fire again on the target"
    );
    let follow_up = record.follow_up.as_deref().unwrap_or_default();
    assert!(
        follow_up.contains("REFRESH MATERIALIZED VIEW CONCURRENTLY mv_items"),
        "{follow_up}"
    );
    let cycle: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM c_a WHERE website_id = 7 AND b_id IS NOT NULL),
                (SELECT count(*) FROM c_b JOIN c_a ON c_a.id = c_b.a_id WHERE c_a.website_id = 7)",
    )
    .fetch_one(&env.shard_2)
    .await
    .unwrap();
    assert_eq!(cycle, (20, 20), "both tables of the cycle moved, linked");
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM x_audit WHERE website_id = 7")
        .fetch_one(&env.shard_1)
        .await
        .unwrap();
    assert_eq!(audit, 1, "the excluded table is left alone");
}

#[tokio::test]
async fn a_row_pointing_at_a_global_row_the_target_lacks_fails_the_move_before_cutover() {
    let env = plan_env().await;
    env.seed(7, "shard_1", 200).await;
    seed(&env, 7).await;
    sqlx::raw_sql("DELETE FROM g_plans WHERE id = 2")
        .execute(&env.shard_2)
        .await
        .unwrap();
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 50).await;
    let err = mover.run(id, &Silent).await.unwrap_err();
    assert_eq!(err.code(), "dangling_references", "{err}");
    assert!(err.to_string().contains("public.u_items"), "{err}");
    assert_eq!(
        env.registry(7).await.as_deref(),
        Some("shard_1"),
        "no cutover"
    );
    assert_eq!(items(&env.shard_2, 7).await, vec![], "rolled back");
}

#[tokio::test]
async fn a_cycle_of_foreign_keys_none_of_which_can_wait_is_refused_naming_its_tables() {
    let env = TestEnv::new().await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql(
            "CREATE TABLE h_a (id bigint PRIMARY KEY, website_id bigint NOT NULL, b_id bigint NOT NULL);
             CREATE TABLE h_b (id bigint PRIMARY KEY, website_id bigint NOT NULL, a_id bigint NOT NULL REFERENCES h_a (id));
             ALTER TABLE h_a ADD FOREIGN KEY (b_id) REFERENCES h_b (id);",
        )
        .execute(pool)
        .await
        .unwrap();
    }
    env.seed(7, "shard_1", 100).await;
    let err = env
        .mover()
        .preflight(website(7), &shard("shard_2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "foreign_key_cycle");
    assert!(err.to_string().contains("public.h_a, public.h_b"), "{err}");
}

#[tokio::test]
async fn a_polymorphic_reference_is_refused_naming_it_until_its_table_is_excluded() {
    let mut env = plan_env().await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql(
            "CREATE TABLE attachments (id bigserial PRIMARY KEY, record_type text, record_id bigint, blob text)",
        )
        .execute(pool)
        .await
        .unwrap();
    }
    env.seed(7, "shard_1", 100).await;
    seed(&env, 7).await;
    let err = env
        .mover()
        .preflight(website(7), &shard("shard_2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unmoved_references");
    assert!(
        err.to_string()
            .contains("public.attachments (record_type, record_id)"),
        "{err}"
    );
    env.settings
        .tenancy
        .exclude_tables
        .push("attachments".into());
    env.mover()
        .preflight(website(7), &shard("shard_2"))
        .await
        .expect("an excluded table is the operator's decision");
}
