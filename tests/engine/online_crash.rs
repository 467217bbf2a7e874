//! Online moves killed with SIGKILL in each phase while the application keeps
//! writing: the move resumes, never replays a change twice to a different
//! effect nor misses one, and ends exactly as the writer's log says. A freeze
//! that cannot finish lifts its fence and goes back to catching up.

use std::time::{Duration, Instant};

use shardmover::domain::Phase;
use shardmover::mover::{DDL_LOCK, Silent};

use crate::crash::{config_file, migrate};
use crate::helpers::{Interlude, TestEnv, block_on, dump, fences, pool};
use crate::writer::{Model, Writer};

/// Where the kill lands.
#[derive(Clone, Copy, Debug)]
enum Moment {
    Copying,
    CatchingUp,
    /// Freezing, while the fence waits for the shard's DDL lock, held by another session.
    Freezing,
}

async fn phase(env: &TestEnv) -> Option<(String, i64, i64)> {
    sqlx::query_as("SELECT phase, rows_copied, changes_applied FROM shardmover.migrations")
        .fetch_optional(&env.control)
        .await
        .unwrap_or(None)
}

async fn wait_for(env: &TestEnv, what: &str, until: impl Fn(&str, i64, i64) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some((phase, copied, applied)) = phase(env).await
            && until(&phase, copied, applied)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never reached {what}: {:?}",
            phase(env).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn killed_and_resumed(moment: Moment) {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 60_000).await;
    env.seed(8, "shard_1", 2_000).await;
    let config = config_file(&env);
    let writer = Writer::start(&env, 7, 8).await;
    // One change replayed per batch: catch-up lasts long enough to be hit.
    let batch = if matches!(moment, Moment::CatchingUp) {
        "1"
    } else {
        "2000"
    };
    let mut child = migrate(config.path())
        .env("SHARDMOVER__ENGINE__CATCH_UP_BATCH", batch)
        .spawn()
        .unwrap();

    let mut held = None;
    match moment {
        Moment::Copying => {
            wait_for(&env, "copying", |p, copied, _| {
                p == "copying" && copied >= 2_000
            })
            .await;
        }
        Moment::CatchingUp => {
            wait_for(&env, "catching up", |p, _, applied| {
                p == "catching_up" && applied >= 20
            })
            .await;
        }
        Moment::Freezing => {
            // Once the copy has begun (capture and the shard schema take the
            // same lock first), hold the shard's DDL lock: the freeze's fence
            // waits for it. (A neighbour's open write would keep catch-up from
            // freezing at all.)
            wait_for(&env, "copying", |p, copied, _| p == "copying" && copied > 0).await;
            let mut tx = env.shard_1.begin().await.unwrap();
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(DDL_LOCK)
                .execute(&mut *tx)
                .await
                .unwrap();
            held = Some(tx);
            wait_for(&env, "freezing", |p, _, _| p == "freezing").await;
        }
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, no goodbye
    child.wait().unwrap();
    let (killed_in, _, _) = phase(&env).await.unwrap();
    if let Some(tx) = held {
        tx.rollback().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let resume = migrate(config.path());
    let output = tokio::task::spawn_blocking(move || {
        let mut resume = resume;
        resume.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "resume after a kill in {killed_in} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = writer.stop().await;

    let (status, attempts, mode): (String, i32, String) =
        sqlx::query_as("SELECT status, attempts, mode FROM shardmover.migrations")
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!((status.as_str(), mode.as_str()), ("completed", "online"));
    assert_eq!(attempts, 2, "killed in {killed_in}");
    eprintln!(
        "killed in {killed_in} ({moment:?}): {} writes acknowledged for the moving website",
        log.acknowledged[&7]
    );
    assert_eq!(
        Model::read(&env.shard_2, 7).await.unwrap(),
        log.moving,
        "killed in {killed_in}"
    );
    assert!(dump(&env.shard_1, 7).await.is_empty());
    assert_eq!(Model::read(&env.shard_1, 8).await.unwrap(), log.neighbour);
    assert_eq!(log.refusals.get(&8).copied().unwrap_or(0), 0);
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM shardmover.changes) + (SELECT count(*) FROM shardmover.captured_websites)",
    )
    .fetch_one(env.as_mover("shard_1"))
    .await
    .unwrap();
    assert_eq!(left, 0, "capture left behind after a kill in {killed_in}");
    match moment {
        Moment::Copying => assert_eq!(killed_in, "copying"),
        Moment::CatchingUp => assert_eq!(killed_in, "catching_up"),
        Moment::Freezing => assert_eq!(killed_in, "freezing"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_move_killed_while_copying_under_writes_resumes_exactly() {
    killed_and_resumed(Moment::Copying).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_move_killed_while_catching_up_under_writes_resumes_exactly() {
    killed_and_resumed(Moment::CatchingUp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_move_killed_while_freezing_under_writes_resumes_exactly() {
    killed_and_resumed(Moment::Freezing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_that_cannot_raise_its_fence_goes_back_to_catching_up_and_a_retry_completes() {
    let mut env = TestEnv::new().await;
    env.settings.engine.fence_drain_timeout_secs = 1;
    env.seed(7, "shard_1", 3_000).await;
    // On entering the freeze, another session takes the shard's DDL lock: the
    // fence cannot go up within the drain timeout.
    let (release, let_go) = std::sync::mpsc::channel::<()>();
    let url = env.app_urls[0].clone();
    let interlude = Interlude::on_entering(Phase::Freezing, move || {
        let (held, is_held) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            block_on(async move {
                let pool = pool(&url).await;
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(DDL_LOCK)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                held.send(()).unwrap();
                let _ = let_go.recv();
                tx.rollback().await.unwrap();
            })
        });
        is_held.recv().unwrap();
    });
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 1_000).await;
    let err = mover.run(id, &interlude).await.unwrap_err();
    assert_eq!(err.code(), "fence_drain_timeout", "{err}");
    let record = mover.run_report(id).await.unwrap().record;
    assert_eq!(record.phase.as_str(), "catching_up", "back to catching up");
    assert_eq!(
        record.freeze_started_at, None,
        "the unfinished freeze is not counted as one"
    );
    assert!(
        fences(&env, "shard_1").await.is_empty(),
        "the website takes writes"
    );

    release.send(()).unwrap();
    let outcome = mover.run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status.as_str(), "completed");
    assert!(dump(&env.shard_1, 7).await.is_empty());
}
