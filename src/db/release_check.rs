//! A pooled connection must come back outside any transaction. sqlx 0.9's
//! `begin()` guards its `BEGIN` with a rollback that looks at a depth it has
//! not raised yet, so a `begin()` cancelled after the `BEGIN` went out (a
//! `try_join!` whose other arm failed, a timeout) leaves the server inside a
//! transaction that sqlx does not know of. Back in the pool, every later
//! autocommit statement on that connection runs inside it and never commits,
//! and its row locks stay until the session ends: seen as a move's progress
//! update holding the move's row while the next one waited for ever. Such a
//! connection is closed on release instead.

use sqlx::{PgConnection, Row};
use tracing::warn;

/// True when the connection is outside any transaction, as it should be.
pub(super) async fn outside_transaction(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    // Sent as a simple query: in autocommit `now()` is then this statement's
    // own start, and inside a transaction opened earlier that transaction's.
    // (Under the extended protocol the two differ even in autocommit: the
    // statement's time is taken again at Bind and Execute.)
    let row = sqlx::raw_sql("SELECT now() = statement_timestamp()")
        .fetch_one(conn)
        .await?;
    let outside: bool = row.try_get(0)?;
    if !outside {
        warn!("a pooled connection came back inside a transaction; closing it");
    }
    Ok(outside)
}
