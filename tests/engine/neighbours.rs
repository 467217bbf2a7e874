//! A good neighbour: an application session idle in a transaction that wrote
//! one row of *another* website (a pool or ORM mistake) holds a write lock on
//! a tenant table for as long as it lives. A lock request queued behind it
//! would make every other writer of that table wait behind the request, so
//! shardmover queues at most one short try (`fence_lock_timeout_ms`, 50 ms)
//! and then waits for such a transaction without queueing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use shardmover::mover::Silent;

use crate::helpers::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_idle_in_a_transaction_has_shardmover_queue_behind_it_for_one_short_try_at_most()
{
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    env.seed(8, "shard_1", 300).await;
    // The neighbour's session writes one row and goes idle in its transaction.
    let mut idle = env.shard_1.begin().await.unwrap();
    sqlx::query("UPDATE orders SET note = 'idle' WHERE id = (SELECT min(id) FROM orders WHERE website_id = 8)")
        .execute(&mut *idle)
        .await
        .unwrap();

    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 500).await;
    let running = tokio::spawn(async move { mover.run(id, &Silent).await });

    // Meanwhile: the neighbour keeps writing, and every look at pg_locks asks
    // whether one of shardmover's sessions is waiting for a lock.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (pool, stop, writes) = (env.shard_1.clone(), stop.clone(), writes.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sqlx::query("INSERT INTO website_settings (website_id, key) VALUES (8, $1)")
                    .bind(format!("n{}", writes.fetch_add(1, Ordering::Relaxed)))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        })
    };
    let mut queued = 0;
    for _ in 0..60 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE NOT l.granted AND a.usename = 'sm_test_mover' AND a.datname = current_database()",
        )
        .fetch_one(&env.shard_1)
        .await
        .unwrap();
        queued += waiting;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        !running.is_finished(),
        "the move waits for the idle transaction"
    );
    idle.commit().await.unwrap();
    let outcome = running.await.unwrap().unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    assert_eq!(
        outcome.record.status.as_str(),
        "completed",
        "{:?}",
        outcome.record.error_message
    );
    // 60 looks 25 ms apart over the idle transaction's life: one 50 ms try
    // shows in a few of them; tries over and over (500 ms each, as before)
    // in most.
    assert!(
        queued <= 4,
        "shardmover kept queueing behind the idle transaction ({queued} looks)"
    );
    assert!(
        writes.load(Ordering::Relaxed) > 10,
        "the neighbour kept writing"
    );
}
