//! The websites the registry places on one shard, a page at a time, or on
//! every shard at once (a fleet plan weighs them all).

use sqlx::PgConnection;

use crate::config::TenancySettings;
use crate::ids::ShardName;
use crate::sql::{QualifiedName, audited, ident};

/// Website ids on `shard` above `after`, ascending, at most `limit`.
pub async fn on_shard(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    shard: &ShardName,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT {id}::int8 FROM {table}
          WHERE ({shard} = $1 OR ({shard} IS NULL AND $2::text IS NOT DISTINCT FROM $1))
            AND {id} > $3
          ORDER BY {id} LIMIT $4",
        id = ident(&tenancy.registry_id_column),
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
    );
    sqlx::query_scalar(audited(&sql))
        .bind(shard.as_str())
        .bind(tenancy.default_shard.as_deref())
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// Every registered website with the shard it lives on (its shard column, or
/// the default shard when NULL); websites on no shard are left out.
pub async fn everywhere(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let sql = format!(
        "SELECT {id}::int8, COALESCE({shard}, $1::text) FROM {table}
          WHERE COALESCE({shard}, $1::text) IS NOT NULL ORDER BY 1",
        id = ident(&tenancy.registry_id_column),
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
    );
    sqlx::query_as(audited(&sql))
        .bind(tenancy.default_shard.as_deref())
        .fetch_all(conn)
        .await
}
