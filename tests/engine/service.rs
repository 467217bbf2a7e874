//! `serve` as a service: a database blip never ends a worker or the process,
//! and a burst of move requests never starves the API or the workers.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use shardmover::api::{self, AppState};
use shardmover::jobs::worker::{self, Workers};

use crate::app::{TOKEN, closed_port};
use crate::helpers::{TestEnv, block_on, dump, join_thread};
use crate::proxy::{Proxy, port_of, via};

fn move_body(website: i64) -> serde_json::Value {
    json!({"website_id": website, "target_shard": "shard_2", "requested_by": "ops@example.com"})
}

async fn status_of(env: &TestEnv, website: i64) -> Option<String> {
    sqlx::query_scalar(
        "SELECT status FROM shardmover.migrations WHERE website_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(website)
    .fetch_optional(&env.control)
    .await
    .unwrap()
}

/// Waits until `website`'s latest move is copying with at least `rows` rows copied.
async fn wait_until_copying(env: &TestEnv, website: i64, rows: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copied: Option<i64> = sqlx::query_scalar(
            "SELECT rows_copied FROM shardmover.migrations WHERE website_id = $1 AND phase = 'copying'",
        )
        .bind(website)
        .fetch_optional(&env.control)
        .await
        .unwrap();
        if copied.is_some_and(|c| c >= rows) {
            return;
        }
        assert!(Instant::now() < deadline, "the move never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_until_ended(env: &TestEnv, website: i64, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let status = status_of(env, website).await.unwrap();
        if status != "pending" && status != "in_progress" {
            return status;
        }
        assert!(Instant::now() < deadline, "the move never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `shardmover serve` on the test's databases, its control database reached at
/// `control` and its API on `api_port`, logging to `log`; `extra` overrides more.
pub(crate) fn serve(
    env: &TestEnv,
    control: &str,
    api_port: u16,
    log: &std::path::Path,
    extra: &[(&str, &str)],
) -> Served {
    let child = Command::new(env!("CARGO_BIN_EXE_shardmover"))
        .arg("serve")
        .envs(extra.iter().copied())
        .env("SHARDMOVER__DATABASE__URL", control)
        .env("SHARDMOVER__DATABASE__CONNECT_TIMEOUT_SECS", "2")
        .env(
            "SHARDMOVER__SHARDS__SHARD_1__URL",
            env.shard_urls[0].expose_secret(),
        )
        .env(
            "SHARDMOVER__SHARDS__SHARD_2__URL",
            env.shard_urls[1].expose_secret(),
        )
        .env("SHARDMOVER__API__BIND", format!("127.0.0.1:{api_port}"))
        .env("SHARDMOVER__MAIL__SMTP_HOST", "")
        .env("SHARDMOVER__WORKER__HEARTBEAT_SECS", "1")
        .env("SHARDMOVER__WORKER__MISSED_HEARTBEATS", "3")
        .env("SHARD_API_TOKEN", TOKEN)
        .env("SHARDMOVER__LOG__LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Served(child)
}

/// A `serve` process, killed when dropped: a test that fails does not leave
/// it running (holding connections, moving websites).
pub(crate) struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Served {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

pub(crate) fn log_file(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("shardmover-serve-{port}.log"))
}

/// A real `serve` whose control database connection runs through a proxy the
/// test can cut: its API's address, its log file and its HTTP client.
pub(crate) struct BehindProxy {
    pub proxy: Proxy,
    pub base: String,
    pub log: std::path::PathBuf,
    pub child: Served,
    pub client: reqwest::Client,
}

impl BehindProxy {
    /// Starts `serve` for `env` behind a new proxy and waits until it is ready.
    pub(crate) async fn start(env: &TestEnv) -> Self {
        let proxy = Proxy::start(port_of(env.settings.database.url.expose_secret())).await;
        let port = closed_port();
        let log = log_file(port);
        let control = via(env.settings.database.url.expose_secret(), proxy.port);
        let mut child = serve(env, &control, port, &log, &[]);
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait_until_ready(&client, &base, &mut child).await;
        Self {
            proxy,
            base,
            log,
            child,
            client,
        }
    }

    /// What `serve` has logged so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops `serve` and removes its log.
    pub(crate) fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let _ = std::fs::remove_file(&self.log);
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Option<(StatusCode, String)> {
    let response = client.get(url).bearer_auth(TOKEN).send().await.ok()?;
    Some((response.status(), response.text().await.ok()?))
}

pub(crate) async fn wait_until_ready(client: &reqwest::Client, base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(child.try_wait().unwrap().is_none(), "serve exited");
        if get(client, &format!("{base}/ready"))
            .await
            .is_some_and(|(status, _)| status == StatusCode::OK)
        {
            return;
        }
        assert!(Instant::now() < deadline, "serve never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sixty_four_concurrent_requests_to_serve_during_a_move_get_no_5xx_and_one_202_per_website()
{
    let env = TestEnv::new().await;
    env.seed(50, "shard_1", 40_000).await;
    for website in 1..=7 {
        env.seed(website, "shard_1", 50).await;
    }
    let port = closed_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = log_file(port);
    // A small API pool: a request that held one connection while waiting for
    // another would starve it at once.
    let small = [
        ("SHARDMOVER__DATABASE__MAX_CONNECTIONS", "4"),
        ("SHARDMOVER__WORKER__CONCURRENCY", "4"),
    ];
    let control = env.settings.database.url.expose_secret().to_owned();
    let mut child = serve(&env, &control, port, &log, &small);
    let client = reqwest::Client::new();
    wait_until_ready(&client, &base, &mut child).await;
    let post = |website: i64| {
        client
            .post(format!("{base}/api/v1/migrations"))
            .bearer_auth(TOKEN)
            .json(&move_body(website))
            .send()
    };
    assert_eq!(post(50).await.unwrap().status(), StatusCode::ACCEPTED);
    wait_until_copying(&env, 50, 1_000).await;

    // Seven websites and the moving one, eight times each, all at once.
    let websites: Vec<i64> = (0..64)
        .map(|i| if i % 8 == 7 { 50 } else { 1 + i % 8 })
        .collect();
    let answers = join_all(websites.iter().map(|&w| post(w))).await;
    let mut accepted: BTreeMap<i64, usize> = BTreeMap::new();
    for (website, answer) in websites.iter().zip(answers) {
        let status = answer.unwrap().status();
        // The moving website's may come after its move ended (a quick
        // machine): then it is on the target already (422 same_shard).
        let refused = status == StatusCode::CONFLICT
            || (*website == 50 && status == StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            status == StatusCode::ACCEPTED || refused,
            "website {website}: {status}"
        );
        if status == StatusCode::ACCEPTED {
            *accepted.entry(*website).or_default() += 1;
        }
    }
    let expected: BTreeMap<i64, usize> = (1..=7).map(|w| (w, 1)).collect();
    assert_eq!(
        accepted, expected,
        "one 202 per website, none for the moving one"
    );

    for website in [50, 1, 7] {
        let status = wait_until_ended(&env, website, Duration::from_secs(120)).await;
        assert_eq!(status, "completed", "website {website}");
    }
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(child.try_wait().unwrap().is_none(), "serve exited: {logs}");
    assert!(!logs.contains("pool timed out"), "{logs}");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_file(&log);
}

#[tokio::test]
async fn serve_outlives_an_outage_of_the_control_database_and_the_move_completes() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 40_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mut served = BehindProxy::start(&env).await;
    let (base, client) = (served.base.clone(), served.client.clone());
    let response = client
        .post(format!("{base}/api/v1/migrations"))
        .bearer_auth(TOKEN)
        .json(&json!({"website_id": 7, "target_shard": "shard_2",
                      "requested_by": "ops@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    wait_until_copying(&env, 7, 2_000).await;

    // The outage of the issue: 8 s, longer than the worker's poll, heartbeat
    // and orphan window (3 s here).
    served.proxy.cut();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = get(&client, &format!("{base}/api/v1/migrations/1")).await;
    assert!(
        during
            .as_ref()
            .is_some_and(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE),
        "the API answers 503 while the control database is away: {during:?}"
    );
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "serve exited during the outage"
    );
    served.proxy.restore();

    let status = wait_until_ended(&env, 7, Duration::from_secs(120)).await;
    let logs = served.logs();
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "serve exited: {logs}"
    );
    assert_eq!(status, "completed", "{logs}");
    assert!(logs.contains("starting it again"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log file: {logs}"
    );
    wait_until_ready(&client, &base, &mut served.child).await;
    let (_, metrics) = get(&client, &format!("{base}/metrics")).await.unwrap();
    let restarts = metrics
        .lines()
        .find_map(|l| l.strip_prefix("shardmover_worker_restarts_total{worker=\"moves\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no restart count in {metrics}"));
    assert!(restarts >= 1.0, "the worker never lost its backend: {logs}");
    assert!(
        metrics.contains("shardmover_worker_up{worker=\"moves\"} 1"),
        "{metrics}"
    );
    served.stop();
    assert_eq!(dump(&env.shard_2, 7).await, original);
    assert!(dump(&env.shard_1, 7).await.is_empty());
}

#[tokio::test]
async fn ready_shows_a_worker_restarting_while_its_pool_is_cut_and_ready_again_after() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 50).await;
    let proxy = Proxy::start(port_of(env.settings.database.url.expose_secret())).await;
    let mut settings = env.settings.clone();
    settings.api.token = Some(SecretString::from(TOKEN));
    let mover = Arc::new(crate::helpers::new_mover(
        Arc::new(settings.clone()),
        env.control.clone(),
    ));
    let workers = Arc::new(Workers::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        app: mover.app().clone(),
        workers: Some(workers.clone()),
    };
    tokio::spawn(api::server(listener, state).unwrap());
    // Only the worker's pool goes through the proxy: the API stays up.
    settings.database.url =
        SecretString::from(via(env.settings.database.url.expose_secret(), proxy.port));
    let worker_mover = mover.with_control_pool(shardmover::db::worker_pool(&settings));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watched = workers.clone();
    let worker_thread = std::thread::spawn(move || {
        block_on(async move {
            let pool = worker_mover.control_pool().clone();
            let shutdown = async move {
                let _ = stopped.await;
            };
            worker::run_watched(&pool, Arc::new(worker_mover), "ready", shutdown, &watched)
                .await
                .unwrap();
        })
    });
    let client = reqwest::Client::new();
    let ready = format!("{address}/ready");
    let wait_for = |want: StatusCode, state: &'static str| {
        let (client, ready) = (client.clone(), ready.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let response = client.get(&ready).send().await.unwrap();
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap();
                if status == want && body["workers"]["moves"]["state"] == state {
                    return body;
                }
                assert!(Instant::now() < deadline, "/ready stayed {status}: {body}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_for(StatusCode::OK, "running").await;

    proxy.cut();
    let body = wait_for(StatusCode::SERVICE_UNAVAILABLE, "restarting").await;
    assert_eq!(body["status"], "not_ready");
    assert!(body["workers"]["moves"]["restarts"].as_u64().unwrap() >= 1);
    proxy.restore();
    wait_for(StatusCode::OK, "running").await;

    // The restarted worker takes new work.
    let response = client
        .post(format!("{address}/api/v1/migrations"))
        .bearer_auth(TOKEN)
        .json(&move_body(7))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let status = wait_until_ended(&env, 7, Duration::from_secs(60)).await;
    assert_eq!(status, "completed");
    stop.send(()).unwrap();
    join_thread(worker_thread, 60).await;
}
