//! A running move's job delivered again (apalis hands out the job of a worker
//! that stopped beating, though its move goes on): the duplicate ends quietly,
//! queues nothing and touches nothing; and should the owner then die, the
//! sweeper queues the move again, since no one holds its website any more.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::Data;
use shardmover::control::sweeps::WEBSITE_LOCK_CLASS;
use shardmover::domain::Status;
use shardmover::ids::MoveId;
use shardmover::jobs;
use shardmover::jobs::MoveJob;
use shardmover::mover::Mover;
use sqlx::PgPool;

use crate::crash::{attempts, config_file, progress, request_and_enqueue, worker};
use crate::helpers::{Interlude, TestEnv, block_on, dump, pool};

/// What a job could change of a move: when it was written, its retry, its attempts.
async fn move_state(control: &PgPool, id: MoveId) -> String {
    sqlx::query_scalar(
        "SELECT row(updated_at, next_attempt_at, attempts)::text FROM shardmover.migrations WHERE id = $1",
    )
    .bind(id.get())
    .fetch_one(control)
    .await
    .unwrap()
}

/// Jobs waiting, running or to be retried.
async fn live_jobs(control: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE status <> 'Done'")
        .fetch_one(control)
        .await
        .unwrap()
}

/// A worker process, killed (SIGKILL: no cleanup, no goodbye) when dropped.
struct Worker(std::process::Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Delivers the move's one job to `mover` in this process, as apalis would
/// (to a duplicate, once the owner's worker stopped beating); its end marks it done.
async fn deliver(control: &PgPool, mover: Mover) {
    let payload: Vec<u8> = sqlx::query_scalar(
        "UPDATE apalis.jobs SET status = 'Done', done_at = now() WHERE job_type = $1 RETURNING job",
    )
    .bind(<shardmover::jobs::MoveJob as shardmover::jobs::Job>::QUEUE)
    .fetch_one(control)
    .await
    .unwrap();
    let job: MoveJob = serde_json::from_slice(&payload).unwrap();
    jobs::run_move(job, Data::new(Arc::new(mover)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_duplicate_delivery_of_a_running_moves_job_ends_quietly_and_leaves_the_move_to_its_owner()
{
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let seen = Arc::new(Mutex::new(None));
    // Mid-copy, the owner's job runs again beside it.
    let duplicate = Interlude::after(250, {
        let (settings, seen) = (Arc::new(env.settings.clone()), seen.clone());
        move || {
            let found = block_on(async move {
                let control = pool(&settings.database.url).await;
                let before = move_state(&control, id).await;
                let job = MoveJob {
                    migration_id: id,
                    request_id: None,
                };
                let mover = crate::helpers::new_mover(settings, control.clone());
                jobs::run_move(job, Data::new(Arc::new(mover)))
                    .await
                    .unwrap();
                let untouched = move_state(&control, id).await == before;
                let swept = jobs::sweeper::sweep(&control, 0.0).await.unwrap();
                (untouched, live_jobs(&control).await, swept)
            });
            *seen.lock().unwrap() = Some(found);
        }
    });

    let outcome = mover.run(id, &duplicate).await.unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        Some((true, 0, 0)),
        "(the move untouched, jobs queued, moves swept back while the owner runs)"
    );
    assert_eq!(
        (outcome.record.status, outcome.record.attempts),
        (Status::Completed, 1)
    );
    assert_eq!(dump(&env.shard_2, 7).await, original);
}

#[tokio::test]
async fn a_move_whose_duplicate_job_stood_down_is_queued_again_once_its_owner_dies() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 60_000).await;
    let original = dump(&env.shard_1, 7).await;
    let config = config_file(&env);
    let mut tx = env.control.begin().await.unwrap();
    request_and_enqueue(&env.mover(), &mut tx, 7, 200).await;
    tx.commit().await.unwrap();
    let owner = Worker(worker(config.path()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !progress(&env)
        .await
        .is_some_and(|(_, phase, rows)| phase == "copying" && rows >= 2_000)
    {
        assert!(Instant::now() < deadline, "the owner never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    deliver(&env.control, env.mover()).await;

    assert_eq!(
        live_jobs(&env.control).await,
        0,
        "the duplicate queued nothing"
    );
    let swept = jobs::sweeper::sweep(&env.control, 0.0).await.unwrap();
    assert_eq!(swept, 0, "the owner is alive: nothing to sweep");
    drop(owner); // its website lock goes with its sessions
    let deadline = Instant::now() + Duration::from_secs(10);
    while jobs::sweeper::sweep(&env.control, 0.0).await.unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "the orphaned move was never swept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let next = Worker(worker(config.path()));
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress(&env).await.unwrap().0 == "in_progress" {
        assert!(Instant::now() < deadline, "the move was never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(next);

    assert_eq!(progress(&env).await.unwrap().0, "completed");
    assert_eq!(
        attempts(&env).await,
        2,
        "the owner's, then one after the sweep"
    );
    assert_eq!(dump(&env.shard_2, 7).await, original);
    assert!(dump(&env.shard_1, 7).await.is_empty());
}

#[tokio::test]
async fn a_job_that_finds_its_website_still_held_by_the_previous_move_tries_again_shortly() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    let id = env.request(&env.mover(), 7, "shard_2", 100).await;
    // The website's previous move has ended, but its worker has not let go yet.
    let mut previous = env.control.acquire().await.unwrap();
    let website_lock = |sql| sqlx::query(sql).bind(WEBSITE_LOCK_CLASS).bind(7_i64);
    website_lock("SELECT pg_advisory_lock($1, hashint8($2))")
        .execute(&mut *previous)
        .await
        .unwrap();
    let before = move_state(&env.control, id).await;
    let job = MoveJob {
        migration_id: id,
        request_id: None,
    };

    jobs::run_move(job, Data::new(Arc::new(env.mover())))
        .await
        .unwrap();

    assert_eq!(move_state(&env.control, id).await, before, "untouched");
    let due_in: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM run_at - now())::float8 FROM apalis.jobs WHERE status = 'Pending'",
    )
    .fetch_optional(&env.control)
    .await
    .unwrap()
    .expect("the job queued itself again");
    assert!(due_in <= 2.0, "queued again for {due_in} s from now");
    website_lock("SELECT pg_advisory_unlock($1, hashint8($2))")
        .execute(&mut *previous)
        .await
        .unwrap();
    deliver(&env.control, env.mover()).await;
    assert_eq!(progress(&env).await.unwrap().0, "completed");
}
