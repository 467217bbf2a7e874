//! The application's tenant registry (`tenancy.registry_table`): which shard
//! each website lives on. The only application table shardmover writes.

use sqlx::PgConnection;

use crate::config::TenancySettings;
use crate::ids::{ShardName, WebsiteId};
use crate::sql::{QualifiedName, audited, ident};

/// Where the website lives: its shard column, or the default shard when NULL.
/// `None` when the website is not in the registry.
pub async fn shard_of(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
) -> Result<Option<String>, sqlx::Error> {
    let sql = format!(
        "SELECT coalesce({shard}, $2) FROM {table} WHERE {id} = $1",
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
        id = ident(&tenancy.registry_id_column),
    );
    sqlx::query_scalar::<_, Option<String>>(audited(&sql))
        .bind(website.get())
        .bind(tenancy.default_shard.as_deref())
        .fetch_optional(conn)
        .await
        .map(Option::flatten)
}

/// Points the website at `to` if it still points at `from`; returns whether it did.
pub async fn move_website(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
    from: &ShardName,
    to: &ShardName,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET {shard} = $2 WHERE {id} = $1 AND coalesce({shard}, $4) = $3",
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
        id = ident(&tenancy.registry_id_column),
    );
    let result = sqlx::query(audited(&sql))
        .bind(website.get())
        .bind(to.as_str())
        .bind(from.as_str())
        .bind(tenancy.default_shard.as_deref())
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}
