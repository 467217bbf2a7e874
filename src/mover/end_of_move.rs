//! What the engine tells when a move ends, implemented outside it: apart from
//! `ending.rs` (which records the end) so the engine's root can hold one
//! without importing the code that uses it.

use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use crate::domain::MoveRecord;

/// Told of every end of a move (and of a cleanup left pending), on the
/// transaction that records it: the engine's one way out to the notices,
/// which it does not know (`jobs::MailNotices` writes them to the outbox).
pub trait EndOfMove: Send + Sync {
    fn announce<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        record: &'c MoveRecord,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;
}
