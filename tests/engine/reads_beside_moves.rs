//! Moves never wait on reads: a running move draws on shard connections of
//! its own, so statistics and shard pages holding every read connection of the
//! target cannot push it into pool timeouts (each one an attempt).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use shardmover::domain::Status;
use shardmover::mover::Silent;

use crate::app::{TOKEN, spawn_app_with};
use crate::helpers::{dump, pool};
use crate::operator::Operator;

const READERS: usize = 20;
const READ_CONNECTIONS: u32 = 2;
/// Each reader's requests at most; it stops earlier once the move has ended.
const MOST_ROUNDS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_move_completes_in_one_attempt_while_20_statistics_and_shard_pages_hold_every_read_connection()
 {
    let app = spawn_app_with(|s| s.shard_ops.read_connections_per_shard = READ_CONNECTIONS).await;
    app.env.seed(1, "shard_1", 3000).await;
    let before = dump(&app.env.shard_1, 1).await;
    // A tenant table only the target has: the move never touches it, and every
    // statistics read of the target (exact or not: sizes lock it) waits for it.
    sqlx::raw_sql(
        "CREATE TABLE held_back (id bigint PRIMARY KEY, website_id bigint NOT NULL);
         GRANT SELECT ON held_back TO sm_test_mover",
    )
    .execute(&app.env.shard_2)
    .await
    .unwrap();
    let mut holder = app.env.shard_2.begin().await.unwrap();
    sqlx::query("LOCK TABLE held_back IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let operator = Arc::new(Operator::sign_in(&app).await);
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let (done, operator) = (done.clone(), operator.clone());
            let (client, address) = (app.client.clone(), app.address.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..MOST_ROUNDS {
                    let status = if i % 2 == 0 {
                        let exact = if i % 4 == 0 { "?exact=true" } else { "" };
                        let url = format!("{address}/api/v1/shards/shard_2/statistics{exact}");
                        let sent = client.get(url).bearer_auth(TOKEN).send().await;
                        sent.unwrap().status()
                    } else {
                        operator.get("/ui/shards/shard_2").await.status
                    };
                    answers.push((i % 2 == 0, status));
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                }
                answers
            })
        })
        .collect();
    // Every read connection of the target is taken, waiting for the lock.
    let mut waiting = 0;
    for _ in 0..600 {
        waiting = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_locks WHERE relation = 'held_back'::regclass AND NOT granted",
        )
        .fetch_one(&app.env.shard_2)
        .await
        .unwrap();
        if waiting >= i64::from(READ_CONNECTIONS) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        waiting >= i64::from(READ_CONNECTIONS),
        "reads waiting: {waiting}"
    );

    // As `serve` builds it: the workers' own control pool, the process's shard pools.
    let control = pool(&app.env.settings.database.url).await;
    let worker = app.mover.with_control_pool(control);
    let id = app.env.request(&worker, 1, "shard_2", 500).await;
    let outcome = worker.run(id, &Silent).await;
    done.store(true, Ordering::SeqCst);
    holder.rollback().await.unwrap();
    let outcome = outcome.expect("the move completes");
    assert_eq!(outcome.record.status, Status::Completed);
    assert_eq!(outcome.record.attempts, 1);
    assert_eq!(dump(&app.env.shard_2, 1).await, before);

    for reader in readers {
        let answers = finished(reader).await;
        assert!(!answers.is_empty());
        for (statistics, status) in answers {
            // A read that found no read connection in time says so; pages always render.
            let expected: &[StatusCode] = if statistics {
                &[StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE]
            } else {
                &[StatusCode::OK]
            };
            assert!(expected.contains(&status), "{status}");
        }
    }
}

/// A reader's answers; it ends within a read's own time limits once the lock is gone.
async fn finished<T>(task: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), task)
        .await
        .expect("a reader stopped")
        .expect("a reader panicked")
}
