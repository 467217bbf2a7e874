//! One website's rows as the engine finds them, to compare before and after.

use std::collections::BTreeMap;

use shardmover::tenancy::{self, TenantTable};
use sqlx::PgPool;

use crate::helpers::TestEnv;

/// The tenant tables of a shard, as the engine finds them with `env.settings`.
pub async fn plan_on(env: &TestEnv, pool: &PgPool) -> Vec<TenantTable> {
    let mut conn = pool.acquire().await.unwrap();
    tenancy::discover(&mut conn, &env.settings.tenancy)
        .await
        .unwrap()
}

/// Every row of website `id` in every plan table, by table: each row's columns
/// by name (`to_jsonb`), in primary-key order.
pub async fn rows_of(
    pool: &PgPool,
    plan: &[TenantTable],
    id: i64,
) -> BTreeMap<String, Vec<String>> {
    let mut all = BTreeMap::new();
    for table in plan {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT to_jsonb(t)::text FROM {} t WHERE {} ORDER BY {}",
            table.name.quoted(),
            table.belongs("t", "$1"),
            table.key_of("t")
        )))
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
        all.insert(table.name.name.clone(), rows);
    }
    all
}

/// Rows of website `id` in a table the move leaves alone: by `website_id`,
/// or for Active Storage, whose rows carry no website, by the seed's id range.
pub async fn count_left_alone(pool: &PgPool, table: &str, id: i64) -> i64 {
    let filter = match table {
        "active_storage_attachments"
        | "active_storage_blobs"
        | "active_storage_variant_records" => "id / 1000000 = $1",
        _ => "website_id = $1",
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {table} WHERE {filter}"
    )))
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Table by table, so a difference names its table.
pub fn assert_same_rows(
    moved: &BTreeMap<String, Vec<String>>,
    frozen: &BTreeMap<String, Vec<String>>,
) {
    assert_eq!(
        moved.keys().collect::<Vec<_>>(),
        frozen.keys().collect::<Vec<_>>()
    );
    for (table, rows) in frozen {
        assert!(!rows.is_empty(), "{table} had rows of the website");
        assert_eq!(&moved[table], rows, "{table} on the target");
    }
}

pub async fn assert_no_rows(pool: &PgPool, plan: &[TenantTable], id: i64) {
    let left: Vec<(String, usize)> = rows_of(pool, plan, id)
        .await
        .into_iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(table, rows)| (table, rows.len()))
        .collect();
    assert!(
        left.is_empty(),
        "website {id} left rows on the source: {left:?}"
    );
}

/// The materialized view, refreshed on the target by the application, lists
/// the website's properties: one per asset it moved.
pub async fn assert_properties(target: &PgPool, id: i64) {
    sqlx::query("REFRESH MATERIALIZED VIEW CONCURRENTLY pwb_properties")
        .execute(target)
        .await
        .unwrap();
    let listed: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM pwb_properties WHERE website_id = $1 ORDER BY 1")
            .bind(id)
            .fetch_all(target)
            .await
            .unwrap();
    let assets: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM pwb_realty_assets WHERE website_id = $1 ORDER BY 1",
    )
    .bind(id)
    .fetch_all(target)
    .await
    .unwrap();
    assert_eq!(listed, assets);
    let seeded: String = sqlx::query_scalar("SELECT pwb_fixture_uuid($1, 2, 1)::text")
        .bind(id)
        .fetch_one(target)
        .await
        .unwrap();
    assert!(listed.contains(&seeded), "{listed:?}");
}
