//! The binary as a person uses it: exit codes, one-line errors, the dry-run report.

use crate::helpers::{TestEnv, shardmover_cli};

#[tokio::test]
async fn a_refused_move_exits_non_zero_with_one_readable_line() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 200).await;
    let (ok, _, stderr) = shardmover_cli(&env, &["migrate", "--website", "7", "--to", "shard_1"]);
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "error: website 7 already lives on shard shard_1"
    );

    let (ok, _, stderr) = shardmover_cli(&env, &["migrate", "--website", "0", "--to", "shard_2"]);
    assert!(!ok);
    assert!(
        stderr.contains("website id must be a positive integer"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_the_move_prints_verified_checksums() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 500).await;
    let (ok, stdout, stderr) = shardmover_cli(
        &env,
        &["migrate", "--website", "7", "--to", "shard_2", "--dry-run"],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("preflight OK: website 7 can move from shard_1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("public.page_parts") && stdout.contains("dry run: nothing was changed")
    );
    assert!(
        !stdout.contains("postgres@"),
        "no URL with credentials is printed"
    );

    let (ok, stdout, stderr) = shardmover_cli(
        &env,
        &["migrate", "--website", "7", "--to", "shard_2", "--json"],
    );
    assert!(ok, "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["status"], "completed");
    assert!(
        result["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["verified"] == true)
    );
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));

    let (ok, stdout, stderr) = shardmover_cli(&env, &["audit", "--website", "7", "--json"]);
    assert!(ok, "{stderr}");
    let entries: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(entries[0]["status"], "completed");
    assert_eq!(entries[0]["new_shard_name"], "shard_2");
}
