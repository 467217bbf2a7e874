//! A pooled connection that comes back inside a transaction sqlx does not
//! know of (a cancelled `begin()` leaves one) is closed, never handed out again.

use std::time::Duration;

use secrecy::ExposeSecret;
use shardmover::db::pool_options;
use sqlx::Row;

use crate::helpers::TestEnv;

#[tokio::test]
async fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
    let env = TestEnv::new().await;
    let pool = pool_options()
        .max_connections(1)
        .connect(env.shard_urls[0].expose_secret())
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let stranded: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    // A BEGIN sqlx did not count, as a cancelled `begin()` leaves behind.
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await.unwrap();
    drop(conn);

    let mut next = pool.acquire().await.unwrap();
    let row = sqlx::raw_sql("SELECT pg_backend_pid(), now() = statement_timestamp()")
        .fetch_one(&mut *next)
        .await
        .unwrap();
    let (pid, outside): (i32, bool) = (row.get(0), row.get(1));
    assert_ne!(
        pid, stranded,
        "the stranded connection was handed out again"
    );
    assert!(outside, "the next statement ran inside a transaction");
    drop(next);
    // A connection that comes back clean is kept and handed out again.
    let mut again = pool.acquire().await.unwrap();
    let reused: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *again)
        .await
        .unwrap();
    assert_eq!(reused, pid, "a clean connection was closed on release");
    drop(again);

    // And its session, with the transaction, is gone from the server.
    let mut gone = false;
    for _ in 0..50 {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(stranded)
            .fetch_one(&env.shard_1)
            .await
            .unwrap();
        if left == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the session left inside a transaction still exists");
}
