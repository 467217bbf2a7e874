//! `shardmover bench-api`: load on the HTTP API on this machine — POST (a real
//! enqueue into the real queue) and GET progress — with throughput and p99,
//! and for comparison the same SQL transaction driven directly by pgbench.

mod pgbench;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;

use crate::api::{self, AppState};
use crate::cli::samples::scratch::{Server, settings_with};
use crate::cli::samples::tenant as sample_tenant;
use crate::config::Settings;

#[derive(Debug, Args)]
pub struct BenchApiArgs {
    /// POST requests (one per website) and as many GETs.
    #[arg(long, default_value_t = 2_000, value_parser = at_least_one)]
    pub requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16, value_parser = at_least_one)]
    pub concurrency: usize,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

const DATABASES: [&str; 3] = [
    "shardmover_benchapi_control",
    "shardmover_benchapi_shard_1",
    "shardmover_benchapi_shard_2",
];
pub(super) const TOKEN: &str = "bench-token";

/// The API (and the dashboard) served in this process over scratch databases.
pub(super) struct InProcess {
    pub address: String,
    pub control: PgPool,
}

/// Serves on a free local port with `urls` as control database, `shard_1` and
/// `shard_2`, the token [`TOKEN`]; the control database migrated, with a registry.
pub(super) async fn start(base: &Settings, urls: &[SecretString]) -> anyhow::Result<InProcess> {
    let mut settings = settings_with(
        base,
        urls[0].clone(),
        &[("shard_1", urls[1].clone()), ("shard_2", urls[2].clone())],
    );
    settings.api.token = Some(SecretString::from(TOKEN));
    let control = crate::db::control_pool(&settings).await?;
    crate::startup::migrate(&control).await?;
    sample_tenant::create_registry(&control).await?;
    let app = crate::app::App::new(Arc::new(settings), control.clone());
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = format!("http://{}", listener.local_addr()?);
    tokio::spawn(api::server(listener, AppState { app, workers: None })?);
    Ok(InProcess { address, control })
}

pub async fn run(base: Settings, args: BenchApiArgs) -> anyhow::Result<()> {
    let server = Server::from_url(&base.database.url)?;
    let mut urls = Vec::new();
    for name in DATABASES {
        urls.push(server.recreate(name).await?);
    }
    let api = start(&base, &urls).await?;
    let (address, control) = (api.address, api.control);
    sqlx::query("INSERT INTO pwb_websites (id, name, shard_name) SELECT g, 'w' || g, 'shard_1' FROM generate_series(1, $1) g")
        .bind(args.requests as i64)
        .execute(&control)
        .await?;

    let client = reqwest::Client::new();
    let post = measure(args.requests, args.concurrency, |i| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            let body = json!({"website_id": i + 1, "target_shard": "shard_2", "requested_by": "bench@example.com"});
            let response = client.post(format!("{address}/api/v1/migrations")).bearer_auth(TOKEN).json(&body).send().await?;
            Ok(response.status() == reqwest::StatusCode::ACCEPTED)
        }
    })
    .await?;
    let get = measure(args.requests, args.concurrency, |i| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            let response = client
                .get(format!("{address}/api/v1/migrations/{}", i + 1))
                .bearer_auth(TOKEN)
                .send()
                .await?;
            Ok(response.status() == reqwest::StatusCode::OK)
        }
    })
    .await?;
    println!(
        "{} requests, {} in flight, API and PostgreSQL on this machine",
        args.requests, args.concurrency
    );
    println!(
        "POST /api/v1/migrations: {:>8.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
        post.rate, post.p50, post.p99
    );
    println!(
        "GET  /api/v1/migrations/{{id}}: {:>4.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
        get.rate, get.p50, get.p99
    );
    // pgbench needs as many more connections as requests in flight, which a
    // shared server may not have: the API's figures above stand without it.
    match pgbench::tps(&urls[0], args.requests, args.concurrency) {
        Ok(direct) => {
            println!("pgbench, the POST's SQL transaction: {:>6.0} tps", direct);
            println!("ratio POST / pgbench: {:.2}", post.rate / direct);
        }
        Err(e) => println!(
            "pgbench, the POST's SQL transaction: not measured ({})",
            format!("{e:#}").replace('\n', "; ")
        ),
    }
    control.close().await;
    for name in DATABASES {
        server.drop_database(name).await?;
    }
    Ok(())
}

struct Stats {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// Runs `count` calls, `concurrency` at a time; every call must succeed.
async fn measure<F, Fut>(count: usize, concurrency: usize, call: F) -> anyhow::Result<Stats>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>> + Send + 'static,
{
    let started = Instant::now();
    let mut latencies: Vec<Duration> = Vec::with_capacity(count);
    let mut running = tokio::task::JoinSet::new();
    for i in 0..count {
        if running.len() >= concurrency.max(1) {
            latencies.push(finished(running.join_next().await)?);
        }
        let request = call(i);
        running.spawn(async move {
            let at = Instant::now();
            request.await.map(|ok| (ok, at.elapsed()))
        });
    }
    while let Some(done) = running.join_next().await {
        latencies.push(finished(Some(done))?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pick = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    Ok(Stats {
        rate: count as f64 / elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    })
}

type Joined = Option<Result<anyhow::Result<(bool, Duration)>, tokio::task::JoinError>>;

fn finished(joined: Joined) -> anyhow::Result<Duration> {
    let (ok, latency) = joined.context("no request running")???;
    if !ok {
        bail!("a request was refused; the benchmark needs every request to succeed");
    }
    Ok(latency)
}
