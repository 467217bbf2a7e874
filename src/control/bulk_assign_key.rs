//! The secret key bulk assignment signs its previews with (`shardmover.bulk_assign_key`,
//! made by a migration): a confirmation token is only valid for the plan it was shown for.

use sqlx::PgConnection;

/// The hex SHA-256 of the key and `plan` (the plan's canonical text).
pub async fn sign(conn: &mut PgConnection, plan: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT encode(sha256(convert_to(key || E'\\n' || $1, 'UTF8')), 'hex')
           FROM shardmover.bulk_assign_key",
    )
    .bind(plan)
    .fetch_one(conn)
    .await
}
