//! Which attempt owns the move, kept on the target too, and checked in the
//! target's own transaction by every copy chunk and replayed batch: a stale
//! attempt (its worker presumed dead, a duplicate delivery) cannot commit a
//! single row after a newer attempt has claimed the move. Claiming updates the
//! row that each such transaction reads `FOR SHARE`, so it waits for a stale
//! transaction in flight to end, and every later one sees the new owner.

use sqlx::{PgConnection, PgPool};

use crate::ids::MoveId;
use crate::mover::error::{Context, MoveError};

const CLAIM: &str = "INSERT INTO shardmover.move_owners (migration_id, attempt) VALUES ($1, $2)
     ON CONFLICT (migration_id) DO UPDATE SET attempt = EXCLUDED.attempt, updated_at = now()
      WHERE move_owners.attempt <= EXCLUDED.attempt";

/// Records `attempt` as the move's owner on the shard (the target; the source
/// too for the freeze), unless a newer one is.
pub async fn claim(target: &PgPool, migration: MoveId, attempt: i32) -> Result<(), MoveError> {
    let claimed = sqlx::query(CLAIM)
        .bind(migration.get())
        .bind(attempt)
        .execute(target)
        .await
        .context(|| "claiming the move on the target".into())?
        .rows_affected();
    owned(claimed, migration, attempt)
}

/// `claim`, waiting at most `lock_timeout_ms` for a transaction that holds the
/// owner row: a dead attempt's backend stuck in a lock wait keeps holding it
/// until that wait ends, and the freeze watcher must not wait with it.
pub async fn claim_within(
    shard: &PgPool,
    migration: MoveId,
    attempt: i32,
    lock_timeout_ms: u64,
) -> Result<(), MoveError> {
    let claiming = async {
        let mut tx = shard.begin().await?;
        let timeout = format!("SET LOCAL lock_timeout = {}", lock_timeout_ms.max(1));
        sqlx::query(crate::sql::audited(&timeout))
            .execute(&mut *tx)
            .await?;
        let claimed = sqlx::query(CLAIM)
            .bind(migration.get())
            .bind(attempt)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok::<_, sqlx::Error>(claimed)
    };
    let claimed = claiming
        .await
        .context(|| "claiming the move on a shard".into())?;
    owned(claimed, migration, attempt)
}

fn owned(claimed: u64, migration: MoveId, attempt: i32) -> Result<(), MoveError> {
    if claimed == 1 {
        Ok(())
    } else {
        Err(MoveError::LostOwnership { migration, attempt })
    }
}

/// In a transaction writing the target: fails unless `attempt` still owns the move.
pub async fn check(
    tx: &mut PgConnection,
    migration: MoveId,
    attempt: i32,
) -> Result<(), MoveError> {
    let owner: Option<i32> = sqlx::query_scalar(
        "SELECT attempt FROM shardmover.move_owners WHERE migration_id = $1 FOR SHARE",
    )
    .bind(migration.get())
    .fetch_optional(&mut *tx)
    .await
    .context(|| "checking who owns the move on the target".into())?;
    if owner == Some(attempt) {
        Ok(())
    } else {
        Err(MoveError::LostOwnership { migration, attempt })
    }
}
