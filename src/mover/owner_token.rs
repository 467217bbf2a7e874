//! Which attempt owns the move, kept on the target too, and checked in the
//! target's own transaction by every copy chunk and replayed batch: a stale
//! attempt (its worker presumed dead, a duplicate delivery) cannot commit a
//! single row after a newer attempt has claimed the move. Claiming updates the
//! row that each such transaction reads `FOR SHARE`, so it waits for a stale
//! transaction in flight to end, and every later one sees the new owner.

use sqlx::{PgConnection, PgPool};

use super::error::{Context, MoveError};
use crate::ids::MigrationId;

/// Records `attempt` as the move's owner on the target, unless a newer one is.
pub async fn claim(target: &PgPool, migration: MigrationId, attempt: i32) -> Result<(), MoveError> {
    let claimed = sqlx::query(
        "INSERT INTO shardmover.move_owners (migration_id, attempt) VALUES ($1, $2)
         ON CONFLICT (migration_id) DO UPDATE SET attempt = EXCLUDED.attempt, updated_at = now()
          WHERE move_owners.attempt <= EXCLUDED.attempt",
    )
    .bind(migration.0)
    .bind(attempt)
    .execute(target)
    .await
    .context(|| "claiming the move on the target".into())?
    .rows_affected();
    if claimed == 1 {
        Ok(())
    } else {
        Err(MoveError::LostOwnership { migration, attempt })
    }
}

/// In a transaction writing the target: fails unless `attempt` still owns the move.
pub async fn check(
    tx: &mut PgConnection,
    migration: MigrationId,
    attempt: i32,
) -> Result<(), MoveError> {
    let owner: Option<i32> = sqlx::query_scalar(
        "SELECT attempt FROM shardmover.move_owners WHERE migration_id = $1 FOR SHARE",
    )
    .bind(migration.0)
    .fetch_optional(&mut *tx)
    .await
    .context(|| "checking who owns the move on the target".into())?;
    if owner == Some(attempt) {
        Ok(())
    } else {
        Err(MoveError::LostOwnership { migration, attempt })
    }
}
