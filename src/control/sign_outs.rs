//! Dashboard sessions ended by signing out, so a copied cookie dies with them.
//! Sessions are named by a hash, never by their cookie's secret.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Records the sign-out and forgets those whose cookies have expired anyway.
pub async fn record(
    conn: &mut PgConnection,
    session_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM shardmover.dashboard_sign_outs WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO shardmover.dashboard_sign_outs (session_hash, expires_at) VALUES ($1, $2)
         ON CONFLICT (session_hash) DO NOTHING",
    )
    .bind(session_hash)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn signed_out(conn: &mut PgConnection, session_hash: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM shardmover.dashboard_sign_outs WHERE session_hash = $1)",
    )
    .bind(session_hash)
    .fetch_one(conn)
    .await
}
