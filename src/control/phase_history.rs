//! When a move entered each phase (written by a trigger on `migrations`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::ids::MoveId;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct PhaseEntry {
    pub phase: String,
    pub entered_at: DateTime<Utc>,
}

/// In the order entered (a resumed move may enter a phase again).
pub async fn list(conn: &mut PgConnection, id: MoveId) -> Result<Vec<PhaseEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT phase, entered_at FROM shardmover.migration_phases
          WHERE migration_id = $1 ORDER BY id",
    )
    .bind(id.get())
    .fetch_all(conn)
    .await
}
