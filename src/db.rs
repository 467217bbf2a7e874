//! Connections to the control database and the shards, and our migrations.

mod logged;
mod no_delay;
mod release_check;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres};

use crate::config::{Settings, ShardSettings, parse_url};
use crate::ids::ShardName;

#[cfg(test)]
pub(crate) use logged::fake;
pub use logged::logged;

/// Every connection we open says who it is (in `pg_stat_activity`, to operators).
pub const APPLICATION_NAME: &str = "shardmover";

/// The control database's migrations (schema `shardmover`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Pool options every pool of ours starts from: each new connection's socket
/// sends at once (see `no_delay`), and a connection that comes back inside a
/// transaction is closed rather than reused (see `release_check`).
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .after_connect(|conn, _| Box::pin(no_delay::set(conn)))
        .after_release(|conn, _| Box::pin(release_check::outside_transaction(conn)))
}

/// A lazily connecting pool: nothing is dialled until first use, so one
/// unreachable shard never blocks start-up.
pub fn lazy_pool(options: PgConnectOptions, max: u32, timeout: Duration) -> PgPool {
    pool_options()
        .max_connections(max)
        .acquire_timeout(timeout)
        .connect_lazy_with(options)
}

/// The control database's options, tagged with our application name so operators
/// (and `pg_stat_activity`) can tell shardmover's sessions from the application's.
pub fn control_options(settings: &Settings) -> PgConnectOptions {
    parse_url(&settings.database.url, "database.url")
        .expect("validated at load")
        .application_name(APPLICATION_NAME)
}

/// A shard's options, tagged like the control database's. None of our shard
/// transactions sits idle for long; one that does holds locks a neighbour, or
/// our own next statement on another connection, may queue behind (seen once
/// under heavy load: a pooled connection left inside a transaction blocked a
/// move's cleanup), so the server ends it.
pub fn shard_options(shard: &ShardSettings, name: &ShardName) -> PgConnectOptions {
    parse_url(&shard.url, &format!("shards.{name}.url"))
        .expect("validated at load")
        .application_name(APPLICATION_NAME)
        .options([("idle_in_transaction_session_timeout", "60s")])
}

/// `host:port/database` without user or password, for reports and logs.
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

pub async fn control_pool(settings: &Settings) -> Result<PgPool, sqlx::Error> {
    let pool = pool_options()
        .max_connections(settings.database.max_connections)
        .acquire_timeout(settings.connect_timeout())
        .connect_with(control_options(settings))
        .await?;
    Ok(pool)
}

/// The workers' own pool of control connections (`worker.control_connections`),
/// apart from the API's, so a burst of requests cannot starve a running move
/// nor a busy worker the requests.
pub fn worker_pool(settings: &Settings) -> PgPool {
    lazy_pool(
        control_options(settings),
        settings.worker.control_connections.max(1),
        settings.connect_timeout(),
    )
}

/// An error's text for people: a server error's own message, without the
/// "at line N" sqlx appends (a line of PostgreSQL's C source, of no use to them).
pub fn error_message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// Whether retrying the same work later may succeed: lost connections, a server
/// starting or shutting down, serialization failures, exhausted pools.
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        // A connection cut mid-handshake reads as a protocol error (e.g. "unexpected
        // response from SSLRequest: 0x00" on EOF): the peer went away, not a bug.
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// A lock not granted within the session's `lock_timeout` (lock_not_available).
pub fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || matches!(code, "40001" | "40P01" | "53300" | "55P03")
}

/// Lets the current transaction's writes pass the fence (see `mover::mechanics::fence`);
/// only shardmover's own copy, cleanup and rollback do this.
///
/// Where the role may (`GRANT SET ON PARAMETER session_replication_role`), the
/// transaction also runs as a replica: the application's triggers already
/// fired for these rows on the source and must not fire again (a counter
/// would double). Foreign-key triggers are off with them; the engine keeps
/// integrity itself (parents copied first, children deleted first, the
/// references checked before cutover).
pub async fn bypass_fence(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config('shardmover.bypass_fence', 'on', true),
                CASE WHEN has_parameter_privilege('session_replication_role', 'SET')
                     THEN set_config('session_replication_role', 'replica', true) END",
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Starts a pooled transaction whose writes pass the fence.
pub async fn begin_bypassing_fence(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    bypass_fence(&mut tx).await?;
    Ok(tx)
}
