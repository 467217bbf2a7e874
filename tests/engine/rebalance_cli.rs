//! `shardmover rebalance` as a person uses it: a preview with its token, a
//! start with that token, progress, the controls, and one readable line for a
//! refusal.

use crate::helpers::{TestEnv, shardmover_cli};

const BY: [&str; 2] = ["--requested-by", "ops@example.com"];

#[tokio::test]
async fn a_plan_is_previewed_started_with_its_token_followed_and_paused_from_the_command_line() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 100).await;
    env.seed(8, "shard_1", 60).await;
    let plan = ["rebalance", "plan", "--drain", "shard_1", BY[0], BY[1]];
    let (ok, stdout, stderr) = shardmover_cli(&env, &plan);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("drain plan: 2 moves"), "{stdout}");
    assert!(
        stdout.contains("rate shard_1 -> shard_2: default, no move measured, 2.0 s + 50000 rows/s"),
        "{stdout}"
    );
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("confirmation token: "))
        .unwrap_or_else(|| panic!("no token in {stdout}"))
        .to_owned();

    let mut start = vec!["rebalance", "start", "--drain", "shard_1", BY[0], BY[1]];
    let (ok, _, stderr) = shardmover_cli(&env, &[&start[..], &["--token", "0000"]].concat());
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "error: the plan changed since its preview; preview it again and confirm the new plan"
    );
    start.extend(["--token", &token, "--json"]);
    let (ok, stdout, stderr) = shardmover_cli(&env, &start);
    assert!(ok, "{stderr}");
    let view: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(view["moves"]["waiting"], 2, "{view}");
    let id = view["id"].to_string();

    let (ok, stdout, stderr) =
        shardmover_cli(&env, &["rebalance", "pause", "--id", &id, BY[0], BY[1]]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with(&format!("rebalance {id} (drain) paused: ")),
        "{stdout}"
    );
    let (ok, _, stderr) = shardmover_cli(&env, &["rebalance", "pause", "--id", &id, BY[0], BY[1]]);
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        format!("error: rebalance {id} is paused: it cannot be paused now")
    );
    let (ok, stdout, _) = shardmover_cli(&env, &["rebalance", "list"]);
    assert!(
        ok && stdout.contains(&format!("rebalance {id} (drain) paused")),
        "{stdout}"
    );
}
