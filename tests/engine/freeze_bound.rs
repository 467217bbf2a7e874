//! The freeze is bounded whatever happens: a mover killed with its fence up has
//! it lifted by another process's freeze watcher within about the freeze budget
//! (not the orphan window), and the move still ends exactly as the writer's
//! log says; a live mover that cannot cut over within `engine.freeze_limit_ms`
//! lifts its own fence. Every freeze is kept, however it ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shardmover::domain::Phase;
use shardmover::mover::{DDL_LOCK, Silent};

use crate::crash::{config_file, migrate};
use crate::helpers::{Interlude, TestEnv, dump, fences, pool};
use crate::writer::{Model, Writer};

async fn phase(env: &TestEnv) -> String {
    sqlx::query_scalar("SELECT phase FROM shardmover.migrations")
        .fetch_optional(&env.control)
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done().await {
        assert!(Instant::now() < deadline, "never reached {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How each of the move's freezes ended, oldest first.
async fn freezes(env: &TestEnv) -> Vec<String> {
    sqlx::query_scalar("SELECT ended_by FROM shardmover.freezes ORDER BY started_at, id")
        .fetch_all(&env.control)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mover_killed_with_its_fence_up_has_it_lifted_by_another_process_within_the_budget() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 20_000).await;
    env.seed(8, "shard_1", 2_000).await;
    let config = config_file(&env);
    let writer = Writer::start(&env, 7, 8).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(shardmover::jobs::freeze_watch::run(
        Arc::new(env.mover()),
        stopped,
    ));
    let mut child = migrate(config.path()).spawn().unwrap();

    // Hold the fence back (the shard's DDL lock) until the target is locked
    // whole: once raised, the freeze's drain then waits on the target with
    // the website's writes refused, and that is where the mover dies.
    // Once rows are copied: the copy's start takes the same lock first.
    let copying = async || {
        let copied: Option<i64> = sqlx::query_scalar(
            "SELECT rows_copied FROM shardmover.migrations WHERE phase = 'copying'",
        )
        .fetch_optional(&env.control)
        .await
        .unwrap();
        copied.is_some_and(|rows| rows > 0)
    };
    until("copying", copying).await;
    let mut ddl = env.shard_1.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(DDL_LOCK)
        .execute(&mut *ddl)
        .await
        .unwrap();
    until("freezing", async || phase(&env).await == "freezing").await;
    let mut target = env.shard_2.begin().await.unwrap();
    let tables: String = sqlx::query_scalar(
        "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables WHERE schemaname = 'public'",
    )
    .fetch_one(&mut *target)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *target)
    .await
    .unwrap();
    ddl.rollback().await.unwrap();
    until("the fence up", async || {
        fences(&env, "shard_1").await == [7]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await; // inside the drain, waiting on the target
    child.kill().unwrap(); // SIGKILL: the fence stays up
    child.wait().unwrap();
    let killed = Instant::now();

    let app = pool(&env.app_urls[0]).await;
    let refused_for = loop {
        let write = sqlx::query("UPDATE website_settings SET value = value WHERE website_id = 7")
            .execute(&app)
            .await;
        match write {
            Ok(_) => break killed.elapsed(),
            Err(e) => assert!(
                e.to_string().contains("SMF01") || e.to_string().contains("refuse"),
                "{e}"
            ),
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the fence was never lifted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("website refused for {refused_for:?} after its mover was killed");
    let limit = Duration::from_millis(env.settings.engine.freeze_limit_ms);
    assert!(
        refused_for < limit,
        "refused for {refused_for:?}: the watcher should lift it within the budget and a tick"
    );
    // The watcher records the thaw just after the lift the write saw.
    until("the move back in catch-up", async || {
        phase(&env).await == "catching_up"
    })
    .await;
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM shardmover.migrations")
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("in_progress", 2),
        "taken over by the watcher"
    );
    assert_eq!(freezes(&env).await, ["expired"]);

    target.rollback().await.unwrap();
    let output = tokio::task::spawn_blocking(move || migrate(config.path()).output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = writer.stop().await;
    stop.send(true).unwrap();
    watcher.await.unwrap();
    assert_eq!(
        Model::read(&env.shard_2, 7).await.unwrap(),
        log.moving,
        "every acknowledged write arrived"
    );
    assert!(dump(&env.shard_1, 7).await.is_empty());
    assert_eq!(Model::read(&env.shard_1, 8).await.unwrap(), log.neighbour);
    assert_eq!(freezes(&env).await, ["expired", "cutover"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_past_its_limit_lifts_its_own_fence_and_is_counted_over_budget() {
    let mut env = TestEnv::new().await;
    env.settings.engine.freeze_limit_ms = 1_000;
    env.seed(7, "shard_1", 2_000).await;
    // Inside the freeze, fence up, the move is held for longer than its limit.
    let hold = Interlude::on_entering(Phase::Verifying, || {
        std::thread::sleep(Duration::from_millis(1_500));
    });
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 500).await;
    let error = mover.run(id, &hold).await.unwrap_err();
    assert!(hold.ran());
    assert_eq!(error.code(), "freeze_over_limit", "{error}");
    let record = mover.run_report(id).await.unwrap().record;
    assert_eq!(record.phase.as_str(), "catching_up");
    assert!(
        fences(&env, "shard_1").await.is_empty(),
        "the website takes writes"
    );
    assert_eq!(freezes(&env).await, ["thaw"]);

    let outcome = mover.run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(freezes(&env).await, ["thaw", "cutover"]);
    let metrics = shardmover::shard_ops::ShardOps::new(mover.app())
        .metrics()
        .await
        .unwrap();
    assert!(
        metrics.contains("shardmover_move_freezes_over_budget_total 1\n"),
        "the thawed freeze overran its budget: {metrics}"
    );
    assert!(
        metrics.contains("shardmover_move_freeze_seconds_count 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shardmover_move_freezes_total{ended_by=\"thaw\"} 1\n"),
        "{metrics}"
    );
}
