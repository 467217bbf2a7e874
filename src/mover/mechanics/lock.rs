//! A per-website lock held by whoever runs a move, in the control database, so
//! two processes normally never drive the same website's move at once.
//!
//! It is an advisory lock on one idle session, which can die under it
//! (idle_session_timeout, a failover, a pooler) without the holder noticing.
//! So it only keeps attempts from colliding; safety does not rest on it: every
//! write of an attempt is conditional on its number (see
//! `control::migrations::start_attempt`), and an attempt that finds a newer one
//! owns the move stops with `LostOwnership` before touching either shard again.

use sqlx::{Connection, PgConnection, PgPool};

use crate::control::sweeps::WEBSITE_LOCK_CLASS as LOCK_CLASS;
use crate::ids::{MoveId, WebsiteId};
use crate::mover::error::{Context, MoveError};

/// Held while the move runs. The connection is detached from the pool: if the
/// process dies or the guard is dropped, the socket closes and Postgres frees the lock.
pub struct WebsiteLock {
    conn: PgConnection,
}

pub async fn acquire(
    control: &PgPool,
    website: WebsiteId,
    migration: MoveId,
) -> Result<WebsiteLock, MoveError> {
    let mut conn = control
        .acquire()
        .await
        .context(|| "connecting to the control database".into())?
        .detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashint8($2))")
        .bind(LOCK_CLASS)
        .bind(website.get())
        .fetch_one(&mut conn)
        .await
        .context(|| "taking the website lock".into())?;
    if !locked {
        return Err(MoveError::Busy {
            website,
            existing: migration,
        });
    }
    Ok(WebsiteLock { conn })
}

impl WebsiteLock {
    pub async fn release(self) {
        // Closing the session releases the lock; an error here changes nothing.
        let _ = self.conn.close().await;
    }
}
