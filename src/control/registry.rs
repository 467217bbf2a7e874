//! The application's tenant registry (`tenancy.registry_table`): which shard
//! each website lives on. The only application table shardmover writes.

use sqlx::PgConnection;

use crate::config::TenancySettings;
use crate::ids::{ShardName, WebsiteId};
use crate::sql::{QualifiedName, audited, ident};

/// A registered website's row: on a shard (its shard column, or the default
/// shard when NULL), or not yet on any (NULL and no default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Unassigned,
    On(String),
}

impl Registration {
    pub fn shard(&self) -> Option<&str> {
        match self {
            Self::Unassigned => None,
            Self::On(shard) => Some(shard),
        }
    }

    pub fn into_shard(self) -> Option<String> {
        match self {
            Self::Unassigned => None,
            Self::On(shard) => Some(shard),
        }
    }
}

/// Where the website lives: its shard column, or the default shard when NULL.
/// `None` when the website is not in the registry.
pub async fn shard_of(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
) -> Result<Option<String>, sqlx::Error> {
    Ok(lookup(conn, tenancy, website)
        .await?
        .and_then(Registration::into_shard))
}

/// The website's registry row: `None` when it is not registered.
pub async fn lookup(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
) -> Result<Option<Registration>, sqlx::Error> {
    registry_row(conn, tenancy, website, "").await
}

/// `lookup`, with `lock` (a locking clause, or nothing) appended as is.
async fn registry_row(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
    lock: &str,
) -> Result<Option<Registration>, sqlx::Error> {
    let sql = format!(
        "SELECT coalesce({shard}, $2) FROM {table} WHERE {id} = $1 {lock}",
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
        id = ident(&tenancy.registry_id_column),
    );
    sqlx::query_scalar::<_, Option<String>>(audited(&sql))
        .bind(website.get())
        .bind(tenancy.default_shard.as_deref())
        .fetch_optional(conn)
        .await
        .map(|row| row.map(|shard| shard.map_or(Registration::Unassigned, Registration::On)))
}

/// Points the website at `to` if it still points at `from`; returns whether it did.
pub async fn move_website(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
    from: &ShardName,
    to: &ShardName,
) -> Result<bool, sqlx::Error> {
    assign(conn, tenancy, website, Some(from.as_str()), to).await
}

/// Websites per shard name (NULL counted on the default shard).
pub async fn count_by_shard(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT coalesce({shard}, $1, '') AS shard, count(*)::int8 FROM {table} GROUP BY 1 ORDER BY 1",
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
    );
    sqlx::query_as(audited(&sql))
        .bind(tenancy.default_shard.as_deref())
        .fetch_all(conn)
        .await
}

/// Websites on one shard.
pub async fn count_on(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    shard: &ShardName,
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        // Written so an index on the shard column serves it (coalesce would not).
        "SELECT count(*)::int8 FROM {table}
          WHERE {shard} = $1 OR ({shard} IS NULL AND $2::text IS NOT DISTINCT FROM $1)",
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
    );
    sqlx::query_scalar(audited(&sql))
        .bind(shard.as_str())
        .bind(tenancy.default_shard.as_deref())
        .fetch_one(conn)
        .await
}

/// `lookup`, locking the registry row until the transaction ends.
pub async fn lock_shard_of(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
) -> Result<Option<Registration>, sqlx::Error> {
    registry_row(conn, tenancy, website, "FOR UPDATE").await
}

/// Points the website at `to` if it still has shard `from` (`None`: none yet).
pub async fn assign(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    website: WebsiteId,
    from: Option<&str>,
    to: &ShardName,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET {shard} = $2 WHERE {id} = $1 AND coalesce({shard}, $4) IS NOT DISTINCT FROM $3",
        shard = ident(&tenancy.registry_shard_column),
        table = QualifiedName::parse(&tenancy.registry_table, "public").quoted(),
        id = ident(&tenancy.registry_id_column),
    );
    let result = sqlx::query(audited(&sql))
        .bind(website.get())
        .bind(to.as_str())
        .bind(from)
        .bind(tenancy.default_shard.as_deref())
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}
