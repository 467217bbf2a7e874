//! Cancel requests: a move still queued ends at once; a running one is asked to
//! stop and roll back, unless its cutover has committed.

use sqlx::PgConnection;

use super::{COLUMNS, MoveRecord, from_row};
use crate::domain::{Phase, Status};
use crate::ids::MoveId;
use crate::sql::audited;

/// Cancels a move still waiting in the queue; `None` if it has started or ended.
pub async fn cancel_pending(
    conn: &mut PgConnection,
    id: MoveId,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = 'cancelled', cancel_requested = true, finished_at = now(),
                   error_code = 'cancelled', error_message = 'cancelled before it started'
             WHERE id = $1 AND status = 'pending' RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs SET status = 'cancelled' WHERE migration_id IN (SELECT id FROM m))
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Asks a running move to stop and roll back; false once it has ended or its
/// cutover committed. One conditional statement on the move's row, which the
/// cutover transaction locks and re-reads: either the cancel lands first and the
/// cutover refuses, or the cutover lands first and this finds phase `cleanup`.
pub async fn request_cancel(conn: &mut PgConnection, id: MoveId) -> Result<bool, sqlx::Error> {
    let before_cleanup: Vec<&str> = Phase::ALL
        .iter()
        .filter(|p| **p < Phase::Cleanup)
        .map(|p| p.as_str())
        .collect();
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET cancel_requested = true
          WHERE id = $1 AND status = ANY($2) AND phase = ANY($3)",
    )
    .bind(id.get())
    .bind([Status::Pending.as_str(), Status::InProgress.as_str()])
    .bind(before_cleanup)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
