//! Repository for `shardmover.shards` (the catalogue's run-time state) and
//! `shardmover.shard_audit_logs` (every change of it, with who asked).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{PgConnection, Row, postgres::PgRow};

use crate::config::Settings;
use crate::ids::ShardName;
use crate::shard_status::ShardStatus;

/// A shard's operational state as stored (or as configured, before the first write).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardState {
    pub status: ShardStatus,
    pub capacity: Option<i64>,
    pub labels: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ShardChange {
    pub id: i64,
    pub shard_name: String,
    pub changed_by_email: Option<String>,
    #[schema(value_type = Object)]
    pub before: Value,
    #[schema(value_type = Object)]
    pub after: Value,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn state_from(row: &PgRow) -> Result<ShardState, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let status =
        serde_json::from_value(Value::String(status)).map_err(|e| sqlx::Error::ColumnDecode {
            index: "status".into(),
            source: e.into(),
        })?;
    let labels = match row.try_get::<Value, _>("labels")? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Ok(ShardState {
        status,
        capacity: row.try_get("capacity")?,
        labels,
    })
}

/// Every stored shard, by name.
pub async fn all(conn: &mut PgConnection) -> Result<Vec<(String, ShardState)>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, status, capacity, labels FROM shardmover.shards")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("name")?, state_from(row)?)))
        .collect()
}

/// One shard's stored state; `FOR UPDATE` when changing it.
pub async fn find(
    conn: &mut PgConnection,
    name: &str,
    for_update: bool,
) -> Result<Option<ShardState>, sqlx::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let sql =
        format!("SELECT status, capacity, labels FROM shardmover.shards WHERE name = $1{lock}");
    let row = sqlx::query(crate::sql::audited(&sql))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(state_from).transpose()
}

/// Inserts configured shards that have no row; never overwrites run-time changes.
pub async fn seed(conn: &mut PgConnection, settings: &Settings) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for (name, shard) in &settings.shards {
        inserted += sqlx::query(
            "INSERT INTO shardmover.shards (name, status, capacity) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(shard.status.as_str())
        .bind(shard.capacity.map(|c| c.min(i64::MAX as u64) as i64))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

/// Writes the new state and its audit entry (call inside a transaction).
pub async fn save(
    conn: &mut PgConnection,
    name: &str,
    before: &ShardState,
    after: &ShardState,
    changed_by: Option<&str>,
    notes: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shardmover.shards (name, status, capacity, labels) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE
            SET status = EXCLUDED.status, capacity = EXCLUDED.capacity, labels = EXCLUDED.labels",
    )
    .bind(name)
    .bind(after.status.as_str())
    .bind(after.capacity)
    .bind(Value::Object(after.labels.clone()))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO shardmover.shard_audit_logs (shard_name, changed_by_email, before, after, notes)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(name)
    .bind(changed_by)
    .bind(serde_json::to_value(before).expect("a shard state serialises"))
    .bind(serde_json::to_value(after).expect("a shard state serialises"))
    .bind(notes)
    .execute(conn)
    .await?;
    Ok(())
}

/// The shard's recent catalogue changes, newest first.
pub async fn changes(
    conn: &mut PgConnection,
    name: &str,
    limit: i64,
) -> Result<Vec<ShardChange>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, shard_name, changed_by_email, before, after, notes, created_at
           FROM shardmover.shard_audit_logs WHERE shard_name = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The configured state of a shard that has no stored row yet.
pub(crate) fn configured_state(settings: &Settings, name: &ShardName) -> Option<ShardState> {
    settings.shard(name).map(|s| ShardState {
        status: s.status,
        capacity: s.capacity.map(|c| c.min(i64::MAX as u64) as i64),
        labels: Map::new(),
    })
}

/// One configured shard's current state; `None` when not configured.
pub(crate) async fn current_state(
    conn: &mut PgConnection,
    settings: &Settings,
    name: &ShardName,
    for_update: bool,
) -> Result<Option<ShardState>, sqlx::Error> {
    if settings.shard(name).is_none() {
        return Ok(None);
    }
    if for_update {
        // Materialise the row so concurrent writers serialise on its lock.
        seed(conn, settings).await?;
    }
    Ok(find(conn, name.as_str(), for_update)
        .await?
        .or_else(|| configured_state(settings, name)))
}
