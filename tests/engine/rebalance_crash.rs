//! A drain of 30 websites run by two real worker processes, both killed with
//! SIGKILL twice mid-plan and started again: the plan goes on where it was,
//! no website ever has two moves, the plan's limit is never exceeded, and
//! every website arrives with exactly its rows.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shardmover::rebalance::{self, Kind, PlanOptions, PlanRequest};

use crate::crash::config_file;
use crate::helpers::{TestEnv, dump};

const WEBSITES: i64 = 30;
const LIMIT: i64 = 3;

fn worker(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shardmover"))
        .args(["--config", config.to_str().unwrap(), "worker"])
        .env("SHARDMOVER__LOG__LEVEL", "warn")
        .env("SHARDMOVER__SHARD_OPS__REBALANCE_STEP_MS", "200")
        .env("SHARDMOVER__MAIL__SMTP_HOST", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Moves of the plan completed, and moves unfinished right now.
async fn counts(env: &TestEnv) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM shardmover.rebalance_moves WHERE state = 'completed'),
                (SELECT count(*) FROM shardmover.migrations WHERE status IN ('pending', 'in_progress'))",
    )
    .fetch_one(&env.control)
    .await
    .unwrap()
}

/// Waits until `done` moves completed, checking the limit all along.
async fn until_completed(env: &TestEnv, done: i64, deadline: Instant) {
    loop {
        let (completed, unfinished) = counts(env).await;
        assert!(
            unfinished <= LIMIT,
            "{unfinished} moves at once, limit {LIMIT}"
        );
        if completed >= done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {completed} of {done} moves completed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn kill(workers: &mut [Child]) {
    for worker in workers {
        worker.kill().unwrap(); // SIGKILL: no cleanup, no goodbye
        worker.wait().unwrap();
    }
}

#[tokio::test]
async fn a_drain_goes_on_where_it_was_after_its_worker_processes_are_killed_twice() {
    let env = TestEnv::new().await;
    let mut originals = Vec::new();
    for website in 1..=WEBSITES {
        env.seed(website, "shard_1", 60).await;
        originals.push(dump(&env.shard_1, website).await);
    }
    let mover = env.mover();
    let options = PlanOptions::parse(Some(LIMIT as u32), Some(LIMIT as u32), None, None).unwrap();
    let kind = Kind::Drain {
        shard: "shard_1".into(),
    };
    let request = PlanRequest::new(&env.settings, kind, "ops@example.com", options).unwrap();
    let preview = rebalance::preview(mover.app(), &request).await.unwrap();
    assert_eq!(preview.moves.len() as i64, WEBSITES);
    let id = rebalance::start(mover.app(), &request, &preview.confirmation_token)
        .await
        .unwrap();

    let config = config_file(&env);
    let deadline = Instant::now() + Duration::from_secs(300);
    for done in [8, 18] {
        let mut workers = [worker(config.path()), worker(config.path())];
        until_completed(&env, done, deadline).await;
        kill(&mut workers);
    }
    let mut workers = [worker(config.path()), worker(config.path())];
    until_completed(&env, WEBSITES, deadline).await;
    loop {
        let view = rebalance::show(mover.app(), id).await.unwrap();
        if view.summary.status == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "the plan never ended: {view:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(&mut workers);

    for (website, original) in (1..=WEBSITES).zip(&originals) {
        assert_eq!(
            &dump(&env.shard_2, website).await,
            original,
            "website {website}"
        );
        assert!(dump(&env.shard_1, website).await.is_empty());
        assert_eq!(env.registry(website).await.as_deref(), Some("shard_2"));
    }
    let moves_per_website: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT website_id, count(*) FROM shardmover.migrations GROUP BY 1 HAVING count(*) <> 1",
    )
    .fetch_all(&env.control)
    .await
    .unwrap();
    assert!(
        moves_per_website.is_empty(),
        "one move per website: {moves_per_website:?}"
    );
    let not_completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM shardmover.migrations WHERE status <> 'completed'",
    )
    .fetch_one(&env.control)
    .await
    .unwrap();
    assert_eq!(not_completed, 0);
}
