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

    let (ok, _, stderr) = shardmover_cli(
        &env,
        &[
            "migrate",
            "--website",
            "7",
            "--to",
            "shard_2",
            "--requested-by",
            "root",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("--requested-by") && stderr.contains("not an email address"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
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

/// The binary with these environment overrides, no database needed: (success, stderr).
fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardmover"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn settings_that_would_loop_or_hang_are_refused_at_start_up_naming_their_key() {
    let cases = [
        (
            "SHARDMOVER__ENGINE__DELETE_BATCH_ROWS",
            "0",
            "engine.delete_batch_rows must be at least 1",
        ),
        (
            "SHARDMOVER__ENGINE__BATCH_ROWS",
            "0",
            "engine.batch_rows must be at least 1",
        ),
        (
            "SHARDMOVER__ENGINE__CATCH_UP_BATCH",
            "0",
            "engine.catch_up_batch must be at least 1",
        ),
        (
            "SHARDMOVER__ENGINE__FREEZE_BUDGET_MS",
            "0",
            "engine.freeze_budget_ms must be at least 1",
        ),
        (
            "SHARDMOVER__DATABASE__MAX_CONNECTIONS",
            "0",
            "database.max_connections must be at least 1",
        ),
        (
            "SHARDMOVER__WORKER__HEARTBEAT_SECS",
            "0",
            "worker.heartbeat_secs must be at least 1",
        ),
        (
            "SHARDMOVER__WORKER__MISSED_HEARTBEATS",
            "0",
            "worker.missed_heartbeats must be at least 1",
        ),
        (
            "SHARDMOVER__SHARD_OPS__UNHEALTHY_ERROR_RATE",
            "1.5",
            "shard_ops.unhealthy_error_rate must be a fraction",
        ),
        (
            "SHARDMOVER__TENANCY__DEFAULT_SHARD",
            "shard_9",
            "tenancy.default_shard names \"shard_9\"",
        ),
    ];
    for (key, value, refusal) in cases {
        let (ok, stderr) = run_with_env(&["setup"], &[(key, value)]);
        assert!(!ok, "{key}={value} was accepted");
        assert!(stderr.contains(refusal), "{key}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_misspelt_override_is_refused_at_start_up_naming_it() {
    let (ok, stderr) = run_with_env(&["setup"], &[("SHARDMOVER__ENGINE__BATCH_ROWZ", "1")]);
    assert!(!ok, "the misspelt override was accepted");
    let refusal = "configuration: unknown key \"engine.batch_rowz\" from \
                   SHARDMOVER__ENGINE__BATCH_ROWZ (did you mean \"engine.batch_rows\"?)";
    assert!(stderr.contains(refusal), "{stderr}");
}

#[test]
fn bench_api_refuses_zero_requests_instead_of_panicking() {
    for flag in ["--requests", "--concurrency"] {
        let (ok, stderr) = run_with_env(&["bench-api", flag, "0"], &[]);
        assert!(!ok);
        assert!(stderr.contains("must be at least 1"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn a_postgres_error_reaches_people_without_the_servers_source_line() {
    let env = TestEnv::new().await;
    let error = sqlx::query("SELECT 1/0")
        .execute(&env.control)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(" at line "),
        "sqlx's own text: {error}"
    );
    let error = shardmover::mover::MoveError::Database {
        context: "dividing".into(),
        source: error,
    };
    assert_eq!(error.to_string(), "dividing: division by zero");
    let chained = anyhow::Error::from(error).context("running the move");
    assert_eq!(
        shardmover::cli::one_line(&chained),
        "running the move: dividing: division by zero"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_without_colour_codes() {
    use secrecy::ExposeSecret;
    let env = TestEnv::new().await;
    let (ok, stderr) = run_with_env(
        &["setup"],
        &[
            (
                "SHARDMOVER__DATABASE__URL",
                env.settings.database.url.expose_secret(),
            ),
            ("SHARDMOVER__LOG__FORMAT", "json"),
            ("SHARDMOVER__LOG__LEVEL", "debug"),
        ],
    );
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "debug logging said nothing");
    for line in lines {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'), "{line}");
    }
}
