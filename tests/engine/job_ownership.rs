//! Ownership from the job's side: a job acts on a move only under the attempt
//! its own run started, and a cancel answered 202 ends the move `cancelled`
//! however many attempts its rollback takes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shardmover::control::migrations;

use shardmover::domain::{MoveRecord, Phase, Status};
use shardmover::ids::MoveId;
use shardmover::jobs;
use shardmover::jobs::MoveJob;
use shardmover::mover::Silent;
use sqlx::PgPool;

use crate::after_cutover::{allow_deletes, before_each, refuse_deletes};
use crate::helpers::{Interlude, TestEnv, block_on, dump, fences, pool, whole_shard};

/// The advisory lock the target's insert hook waits for while the test holds it.
const HELD: i64 = 4242;

async fn record(env: &TestEnv, id: MoveId) -> MoveRecord {
    let mut conn = env.control.acquire().await.unwrap();
    migrations::find(&mut conn, id).await.unwrap().unwrap()
}

async fn queued_jobs(env: &TestEnv) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE status <> 'Done'")
        .fetch_one(&env.control)
        .await
        .unwrap()
}

/// Whether a session of `shard` waits for the advisory lock `HELD`.
async fn waits_for_held(shard: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                          AND objid = $1::int8::oid)",
    )
    .bind(HELD)
    .fetch_one(shard)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_job_whose_attempt_was_overtaken_neither_gives_up_nor_requeues_the_move() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    // One attempt allowed: the job's first transient failure would give up.
    let mover = Arc::new(env.mover_with(|s| s.worker.max_attempts = 1));
    let id = env.request_offline(&mover, 7, "shard_2", 100).await;
    // The copy's first page on the target waits for the test, then fails transiently.
    let hook = format!(
        "PERFORM pg_advisory_xact_lock({HELD});
         RAISE EXCEPTION 'the target went away' USING ERRCODE = '57P01';"
    );
    before_each(&env.shard_2, "public", "pages", "INSERT", &hook).await;
    let mut holder = env.shard_2.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(HELD)
        .execute(&mut *holder)
        .await
        .unwrap();
    let job = MoveJob {
        migration_id: id,
        request_id: None,
    };
    let stale = tokio::spawn(jobs::run_move(job, apalis::prelude::Data::new(mover)));
    while !waits_for_held(&env.shard_2).await {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Meanwhile another worker starts a newer attempt (the stale one's lock
    // session died, say) ...
    let newer = migrations::start_attempt(&mut env.control.acquire().await.unwrap(), id)
        .await
        .unwrap();
    assert_eq!(newer, Some(2));
    let before = record(&env, id).await;
    // ... and only then does the stale attempt's copy fail.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(HELD)
        .execute(&mut *holder)
        .await
        .unwrap();

    stale.await.unwrap().unwrap();

    let after = record(&env, id).await;
    assert_eq!(
        (
            after.status,
            after.attempts,
            after.rollback_required,
            after.error_code.as_deref(),
            after.next_attempt_at
        ),
        (Status::InProgress, 2, false, None, None),
        "the stale job changed the move the newer attempt runs"
    );
    assert_eq!(after.updated_at, before.updated_at, "nothing was written");
    assert_eq!(queued_jobs(&env).await, 0, "nor was another job queued");
}

#[tokio::test]
async fn a_cancel_whose_rollback_was_cut_short_ends_cancelled_when_the_rollback_resumes() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let source_before = whole_shard(&env, "shard_1").await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    // The rollback's deletes on the target fail as if its connection had dropped.
    refuse_deletes(&env.shard_2, "public", "pages", "57P01").await;
    let accepted = Arc::new(Mutex::new(None));
    let cancel = Interlude::after(250, {
        let (settings, accepted) = (Arc::new(env.settings.clone()), accepted.clone());
        move || {
            let answer = block_on(async move {
                let control = pool(&settings.database.url).await;
                crate::helpers::new_mover(settings, control)
                    .cancel(id)
                    .await
                    .unwrap()
            });
            *accepted.lock().unwrap() = Some(answer);
        }
    });

    let error = mover.run(id, &cancel).await.unwrap_err();

    assert_eq!(*accepted.lock().unwrap(), Some(true), "answered 202");
    assert!(error.is_transient(), "{error}");
    let cut_short = record(&env, id).await;
    assert_eq!(
        (cut_short.status, cut_short.rollback_required),
        (Status::InProgress, true),
        "the rollback waits for the next attempt"
    );

    allow_deletes(&env.shard_2, "public", "pages").await;
    env.mover().run(id, &Silent).await.unwrap_err();

    let ended = record(&env, id).await;
    assert_eq!(
        (ended.status, ended.phase, ended.error_code.as_deref()),
        (Status::Cancelled, Phase::Copying, Some("cancelled"))
    );
    assert_eq!(whole_shard(&env, "shard_1").await, source_before);
    assert!(fences(&env, "shard_1").await.is_empty());
    assert!(dump(&env.shard_2, 7).await.is_empty(), "target rolled back");
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
}
