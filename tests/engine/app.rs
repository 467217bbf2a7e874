//! The HTTP API on a random port against fresh databases, a client that checks
//! no answer leaks a password, and shards that cannot answer: a black hole
//! (accepts, never speaks) and a closed port.

use std::net::TcpListener;
use std::sync::Arc;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use shardmover::config::{Settings, ShardSettings};
use shardmover::mover::Mover;
use shardmover::service::Service;
use shardmover::shard_status::ShardStatus;
use shardmover::startup;

use crate::helpers::TestEnv;

pub const TOKEN: &str = "s3cret-test-token";
/// Appears in a shard URL; must never appear in an answer.
pub const PASSWORD: &str = "hunter2-never-shown";

pub struct TestApp {
    pub env: TestEnv,
    pub address: String,
    pub client: reqwest::Client,
    pub mover: Arc<Mover>,
}

impl TestApp {
    /// Runs every queued move job to its end with the job's own handler.
    pub async fn drain_queue(&self) -> usize {
        let mut ran = 0;
        loop {
            let next: Option<(String, Vec<u8>)> = sqlx::query_as(
                "UPDATE apalis.jobs SET status = 'Done' WHERE id = (
                    SELECT id FROM apalis.jobs WHERE job_type = $1 AND status = 'Pending' ORDER BY run_at LIMIT 1)
                 RETURNING id, job",
            )
            .bind(<shardmover::jobs::MoveJob as shardmover::jobs::Job>::QUEUE)
            .fetch_optional(&self.env.control)
            .await
            .unwrap();
            let Some((_, payload)) = next else { return ran };
            let job: shardmover::jobs::MoveJob = serde_json::from_slice(&payload).unwrap();
            shardmover::jobs::run_move(job, apalis::prelude::Data::new(self.mover.clone()))
                .await
                .unwrap();
            ran += 1;
        }
    }
}

/// A port that accepts TCP connections and never answers them.
pub fn black_hole() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// A port nobody listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn add_shard(settings: &mut Settings, name: &str, port: u16) {
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/nowhere?sslmode=disable");
    settings.shards.insert(
        name.to_owned(),
        ShardSettings {
            url: SecretString::from(url),
            status: ShardStatus::Available,
            capacity: None,
        },
    );
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    settings.api.token = Some(SecretString::from(TOKEN));
    settings.api.bind = "127.0.0.1:0".into();
    settings.shard_ops.probe_timeout_ms = 1000;
    change(&mut settings);
    // What `serve` builds and starts, on the test's own control database;
    // the workers and the health checks off: tests drain the queue themselves.
    let app = startup::build_on(settings, env.control.clone())
        .await
        .unwrap();
    let service = Service {
        api: true,
        workers: false,
        health_checks: false,
    };
    let running = service.start(&app).unwrap();
    let address = format!("http://{}", running.api_address().unwrap());
    tokio::spawn(running.wait());
    TestApp {
        env,
        address,
        client: reqwest::Client::new(),
        mover: Arc::new(startup::mover(app)),
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(!text.contains(PASSWORD), "a password leaked: {text}");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Registers a website with no rows anywhere (a new tenant), on `shard` or none.
    pub async fn register_empty(&self, id: i64, shard: Option<&str>) {
        sqlx::query("INSERT INTO pwb_websites (id, name, shard_name) VALUES ($1, 'new', $2)")
            .bind(id)
            .bind(shard)
            .execute(&self.env.app_control)
            .await
            .unwrap();
    }

    pub async fn audit_count(&self, website: i64) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM shardmover.audit_logs WHERE website_id = $1")
            .bind(website)
            .fetch_one(&self.env.control)
            .await
            .unwrap()
    }
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

/// A move request through `mover` (another process, say), not unwrapped.
pub async fn request_move(
    mover: &Mover,
    website: i64,
    target: &str,
) -> Result<shardmover::domain::MoveRecord, shardmover::mover::MoveError> {
    let request = shardmover::domain::MoveRequest {
        website: crate::helpers::website(website),
        target: crate::helpers::shard(target),
        keep_source: false,
        batch_rows: None,
        requested_by: shardmover::ids::EmailAddress::parse("test@example.com").ok(),
        notes: None,
        mode: Default::default(),
    };
    mover.request(&request).await
}
