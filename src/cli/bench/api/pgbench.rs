//! `bench-api`'s comparison: the POST's SQL transaction driven directly by
//! pgbench. The connection goes to pgbench through libpq's environment
//! (`PGHOST`, `PGPASSWORD`, …), never its command line: any user on the host
//! can read a process's arguments (`ps`), only its owner its environment.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, anyhow};
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};

/// The POST's SQL — registry, catalogue and health reads, then the move, its
/// audit entry and its queue job in one transaction.
const SCRIPT: &str = "\\set w random(1000000, 1000000000)
BEGIN;
SELECT shard_name FROM pwb_websites WHERE id = 1;
SELECT status, capacity, labels FROM shardmover.shards WHERE name = 'shard_2';
SELECT c.state FROM unnest(ARRAY['shard_1', 'shard_2']) AS s(name) CROSS JOIN LATERAL
  (SELECT * FROM shardmover.shard_health_checks h WHERE h.shard_name = s.name ORDER BY h.id DESC LIMIT 1) c;
WITH m AS (INSERT INTO shardmover.migrations (website_id, source_shard, target_shard, batch_rows, requested_by)
           VALUES (:w, 'shard_1', 'shard_2', 50000, 'bench@example.com') RETURNING *)
INSERT INTO shardmover.audit_logs (website_id, old_shard_name, new_shard_name, changed_by_email, status, migration_id)
SELECT website_id, source_shard, target_shard, requested_by, status, id FROM m;
INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority)
VALUES (apalis.generate_ulid(), 'shardmover::move', convert_to('{\"migration_id\": 1}', 'UTF8'), 'Pending', 0, 20, now(), 0);
COMMIT;
";

/// Runs the script against `url`; its transactions per second.
pub fn tps(url: &SecretString, transactions: usize, clients: usize) -> anyhow::Result<f64> {
    let script = std::env::temp_dir().join(format!("shardmover-bench-{}.sql", std::process::id()));
    std::fs::write(&script, SCRIPT)?;
    let output = command(url, &script, transactions, clients)?
        .output()
        .context("running pgbench (install PostgreSQL's client tools)");
    let _ = std::fs::remove_file(&script);
    let output = output?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .with_context(|| {
            format!(
                "pgbench gave no tps: {}{}",
                text,
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

fn command(
    url: &SecretString,
    script: &Path,
    transactions: usize,
    clients: usize,
) -> anyhow::Result<Command> {
    let clients = clients.max(1);
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-f"])
        .arg(script)
        .args(["-c", &clients.to_string(), "-j", "2"])
        .args(["-t", &(transactions / clients).max(1).to_string()])
        .envs(libpq_env(url)?);
    Ok(command)
}

/// libpq's variables for what `url` says (its query's `host`, `port`, `user`,
/// `password`, `dbname` and `sslmode` win over the URL's parts, as in libpq).
fn libpq_env(url: &SecretString) -> anyhow::Result<Vec<(&'static str, String)>> {
    let url = url::Url::parse(url.expose_secret())
        .map_err(|_| anyhow!("database.url is not a valid URL"))?;
    let decoded = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
    let mut env = Vec::new();
    if let Some(host) = url.host_str() {
        env.push(("PGHOST", host.trim_matches(['[', ']']).to_owned()));
    }
    if let Some(port) = url.port() {
        env.push(("PGPORT", port.to_string()));
    }
    if !url.username().is_empty() {
        env.push(("PGUSER", decoded(url.username())));
    }
    if let Some(password) = url.password() {
        env.push(("PGPASSWORD", decoded(password)));
    }
    let database = url.path().trim_start_matches('/');
    if !database.is_empty() {
        env.push(("PGDATABASE", decoded(database)));
    }
    for (key, value) in url.query_pairs() {
        let name = match key.as_ref() {
            "host" => "PGHOST",
            "port" => "PGPORT",
            "user" => "PGUSER",
            "password" => "PGPASSWORD",
            "dbname" => "PGDATABASE",
            "sslmode" => "PGSSLMODE",
            _ => continue,
        };
        env.retain(|(set, _)| *set != name);
        env.push((name, value.into_owned()));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_gets_the_connection_through_its_environment_and_no_password_on_its_command_line() {
        let url = SecretString::from(
            "postgres://bench:p%40ss%3Aw0rd@db.example:6543/shardmover_benchapi_control?sslmode=require",
        );
        let command = command(&url, Path::new("/tmp/script.sql"), 2000, 16).unwrap();
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for secret in ["p@ss:w0rd", "p%40ss", "postgres://", "db.example"] {
            assert!(
                args.iter().all(|a| !a.contains(secret)),
                "{secret} in {args:?}"
            );
        }
        let env: Vec<(String, String)> = command
            .get_envs()
            .map(|(k, v)| {
                let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
                (text(k), v.map(text).unwrap_or_default())
            })
            .collect();
        let want = [
            ("PGHOST", "db.example"),
            ("PGPORT", "6543"),
            ("PGUSER", "bench"),
            ("PGPASSWORD", "p@ss:w0rd"),
            ("PGDATABASE", "shardmover_benchapi_control"),
            ("PGSSLMODE", "require"),
        ];
        for (key, value) in want {
            assert!(
                env.contains(&(key.to_owned(), value.to_owned())),
                "{key} in {env:?}"
            );
        }
    }
}
