//! The real binary killed with SIGKILL mid-copy, then run again: the move
//! resumes from its checkpoint and ends with exactly the right rows.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use crate::helpers::{TestEnv, dump};

pub fn config_file(env: &TestEnv) -> tempfile_path::Path {
    let text = format!(
        "[database]\nurl = \"{}\"\n[shards.shard_1]\nurl = \"{}\"\n[shards.shard_2]\nurl = \"{}\"\n",
        env.settings.database.url.expose_secret(),
        env.shard_urls[0].expose_secret(),
        env.shard_urls[1].expose_secret()
    );
    tempfile_path::Path::with_contents(&text)
}

pub fn migrate(config: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shardmover"));
    command
        .args([
            "--config",
            config.to_str().unwrap(),
            "migrate",
            "--website",
            "7",
            "--to",
            "shard_2",
            "--batch-rows",
            "200",
        ])
        .env("SHARDMOVER__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test]
async fn a_move_killed_mid_copy_resumes_and_completes_exactly() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 60_000).await;
    let original = dump(&env.shard_1, 7).await;
    let config = config_file(&env);

    let mut child = migrate(config.path()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copied: Option<i64> = sqlx::query_scalar(
            "SELECT rows_copied FROM shardmover.migrations WHERE phase = 'copying'",
        )
        .fetch_optional(&env.control)
        .await
        .unwrap_or(None);
        if copied.is_some_and(|rows| rows >= 2_000) {
            break;
        }
        assert!(Instant::now() < deadline, "the move never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, no goodbye
    child.wait().unwrap();
    let (status, phase): (String, String) =
        sqlx::query_as("SELECT status, phase FROM shardmover.migrations")
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), phase.as_str()),
        ("in_progress", "copying"),
        "killed mid-copy"
    );

    let output = migrate(config.path()).output().unwrap();

    assert!(
        output.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("resuming move 1"));
    assert_eq!(dump(&env.shard_2, 7).await, original);
    assert!(dump(&env.shard_1, 7).await.is_empty());
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));
}

/// A temporary file removed on drop (no extra crate needed for one file).
pub mod tempfile_path {
    pub struct Path(std::path::PathBuf);

    impl Path {
        pub fn with_contents(text: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "shardmover-test-{:016x}.toml",
                rand::random::<u64>()
            ));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }

        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Records a move of `website` to shard_2 and its queue job, as the API does.
pub(crate) async fn request_and_enqueue(
    mover: &shardmover::mover::Mover,
    tx: &mut sqlx::PgConnection,
    website: i64,
    batch_rows: u32,
) {
    let request = shardmover::domain::MoveRequest {
        website: crate::helpers::website(website),
        target: crate::helpers::shard("shard_2"),
        keep_source: false,
        batch_rows: Some(batch_rows),
        requested_by: shardmover::ids::EmailAddress::parse("ops@example.com").ok(),
        notes: None,
        mode: Default::default(),
    };
    let record = mover.request_in(tx, &request).await.unwrap();
    let job = shardmover::jobs::MoveJob {
        migration_id: record.id,
        request_id: None,
    };
    job.enqueue(tx, Duration::ZERO).await.unwrap();
}

pub(crate) fn worker(config: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_shardmover"))
        .args(["--config", config.to_str().unwrap(), "worker"])
        .env("SHARDMOVER__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub(crate) async fn progress(env: &TestEnv) -> Option<(String, String, i64)> {
    sqlx::query_as("SELECT status, phase, rows_copied FROM shardmover.migrations")
        .fetch_optional(&env.control)
        .await
        .unwrap_or(None)
}

pub(crate) async fn attempts(env: &TestEnv) -> i32 {
    sqlx::query_scalar("SELECT attempts FROM shardmover.migrations")
        .fetch_one(&env.control)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_copy_is_replaced_and_the_move_completes_exactly() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 60_000).await;
    let original = dump(&env.shard_1, 7).await;
    let config = config_file(&env);
    let mover = env.mover();
    let mut tx = env.control.begin().await.unwrap();
    request_and_enqueue(&mover, &mut tx, 7, 200).await;
    tx.commit().await.unwrap();

    let mut first = worker(config.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !progress(&env)
        .await
        .is_some_and(|(_, phase, rows)| phase == "copying" && rows >= 2_000)
    {
        assert!(
            Instant::now() < deadline,
            "the first worker never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL mid-copy
    first.wait().unwrap();
    let killed_at = Instant::now();
    assert_eq!(progress(&env).await.unwrap().0, "in_progress");

    let mut second = worker(config.path());
    // Recovery: the dead worker's job returns to the queue after the orphan
    // window (worker.heartbeat_secs x worker.missed_heartbeats) and the second
    // worker resumes the move (its second attempt).
    let deadline = Instant::now() + Duration::from_secs(60);
    while attempts(&env).await < 2 {
        assert!(Instant::now() < deadline, "the move was never resumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resumed_in = killed_at.elapsed();
    eprintln!("a killed worker's move was resumed {resumed_in:?} after the kill");
    let window = shardmover::config::Settings::load(Some(config.path()))
        .unwrap()
        .worker
        .orphan_window();
    // The window, plus at most one heartbeat of the dead worker and a poll.
    assert!(
        resumed_in < window * 2 + Duration::from_secs(5),
        "resumed after {resumed_in:?} (orphan window {window:?})"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, _, _) = progress(&env).await.unwrap();
        if status != "in_progress" {
            assert_eq!(status, "completed");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the move was never picked up again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in = killed_at.elapsed();
    eprintln!("a killed worker's move completed {recovered_in:?} after the kill");
    second.kill().unwrap();
    second.wait().unwrap();

    assert!(
        recovered_in < Duration::from_secs(60),
        "took {recovered_in:?}"
    );
    assert_eq!(dump(&env.shard_2, 7).await, original);
    assert!(dump(&env.shard_1, 7).await.is_empty());
    assert_eq!(attempts(&env).await, 2);
}

#[tokio::test]
async fn two_worker_processes_move_ten_websites_each_exactly_once() {
    let env = TestEnv::new().await;
    let mover = env.mover();
    let mut originals = Vec::new();
    let mut tx = env.control.begin().await.unwrap();
    for website in 1..=10 {
        env.seed(website, "shard_1", 800).await;
        originals.push(dump(&env.shard_1, website).await);
        request_and_enqueue(&mover, &mut tx, website, 300).await;
    }
    tx.commit().await.unwrap();
    let config = config_file(&env);
    let mut workers = [worker(config.path()), worker(config.path())];

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM shardmover.migrations WHERE status <> 'completed'",
        )
        .fetch_one(&env.control)
        .await
        .unwrap();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} moves never completed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for worker in &mut workers {
        worker.kill().unwrap();
        worker.wait().unwrap();
    }

    for (website, original) in (1..=10).zip(&originals) {
        assert_eq!(
            &dump(&env.shard_2, website).await,
            original,
            "website {website}"
        );
        assert!(dump(&env.shard_1, website).await.is_empty());
    }
    let attempts: Vec<(i32, Option<String>)> =
        sqlx::query_as("SELECT attempts, error_message FROM shardmover.migrations ORDER BY id")
            .fetch_all(&env.control)
            .await
            .unwrap();
    assert!(
        attempts.iter().all(|(n, _)| *n == 1),
        "no move ran twice: {attempts:?}"
    );
}
