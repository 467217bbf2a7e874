//! Throttling on replication lag, against a real streaming replica: a plan
//! starts no move touching a shard whose replica replays too far behind (read
//! from `pg_stat_replication` on the shard), says so, and goes on once the
//! replica catches up; a role that may not read replication statistics gets
//! "unknown", never a silent pass.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use shardmover::config::ShardSettings;
use shardmover::shard_status::ShardStatus;

use crate::app::spawn_app_with;
use crate::replica::Replicated;

fn shard(url: String) -> ShardSettings {
    ShardSettings {
        url: SecretString::from(url),
        status: ShardStatus::Available,
        capacity: None,
    }
}

/// The primary's largest replay lag in seconds (0 when none is measured).
async fn replay_lag(primary: &sqlx::PgPool) -> f64 {
    sqlx::query_scalar(
        "SELECT coalesce(max(extract(epoch FROM replay_lag)), 0)::float8 FROM pg_stat_replication",
    )
    .fetch_one(primary)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_plan_waits_while_a_shards_replica_lags_and_goes_on_once_it_catches_up() {
    let replicated = Replicated::start();
    let primary = replicated.streaming().await;
    sqlx::raw_sql("CREATE ROLE sm_plain LOGIN; CREATE TABLE wal_maker (x int)")
        .execute(&primary)
        .await
        .unwrap();
    let port = replicated.primary_port;
    let app = spawn_app_with(|s| {
        s.shard_ops.max_replication_lag_secs = 1.0;
        s.shards
            .insert("shard_3".into(), shard(replicated.url(port)));
        let plain = format!("postgres://sm_plain@127.0.0.1:{port}/postgres?sslmode=disable");
        s.shards.insert("shard_4".into(), shard(plain));
    })
    .await;
    app.env.seed(1, "shard_1", 20).await;
    app.env.seed(2, "shard_1", 20).await;

    // Replay stops on the replica while the primary keeps writing.
    let replica = sqlx::PgPool::connect(&replicated.url(replicated.replica_port))
        .await
        .unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica)
        .await
        .unwrap();
    let writing = {
        let primary = primary.clone();
        tokio::spawn(async move {
            loop {
                let _ = sqlx::query("INSERT INTO wal_maker SELECT generate_series(1, 100)")
                    .execute(&primary)
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while replay_lag(&primary).await < 1.5 {
        assert!(Instant::now() < deadline, "the replica never fell behind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let moves = json!([{"website_id": 1, "target_shard": "shard_3"},
                       {"website_id": 2, "target_shard": "shard_4"}]);
    let plan = json!({"kind": "list", "moves": moves, "requested_by": "ops@example.com"});
    let id = crate::rebalance::start(&app, plan).await;
    let path = format!("/api/v1/rebalances/{id}");

    shardmover::rebalance::driver::step_all(&app.mover, "w")
        .await
        .unwrap();
    let (_, waiting) = app.get(&path).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    let lagging = waiting["items"][0]["reason"].as_str().unwrap();
    assert!(
        lagging.starts_with("shard_3 replication lag ") && lagging.ends_with(" s > 1 s"),
        "{waiting}"
    );
    let hidden = waiting["items"][1]["reason"].as_str().unwrap();
    assert!(
        hidden.starts_with("shard_4 replication lag unknown"),
        "{waiting}"
    );

    writing.abort();
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&replica)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        shardmover::rebalance::driver::step_all(&app.mover, "w")
            .await
            .unwrap();
        let (_, body) = app.get(&path).await;
        if body["items"][0]["state"] != "waiting" {
            assert!(body["items"][0]["migration_id"].is_i64(), "{body}");
            assert_eq!(body["items"][1]["state"], "waiting", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "the plan never went on: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
