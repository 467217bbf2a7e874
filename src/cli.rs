//! Command-line interface: each subcommand parses its arguments, then calls the
//! same library code the service uses. The benchmarks (`bench/`) and the
//! demo's, benches' and tests' sample data and scratch databases (`samples/`)
//! live here, out of the product's modules.

pub mod bench;
mod demo;
mod fences;
mod migrate;
mod output;
mod rebalance;
pub mod samples;
mod serve;
mod shards;
mod websites;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::Settings;
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::mover::Mover;

#[derive(Debug, Parser)]
#[command(
    name = "shardmover",
    version,
    about = "Move a tenant between PostgreSQL shards, safely."
)]
pub struct Cli {
    /// Configuration file layered over config/default.toml (or SHARDMOVER_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Move one website to another shard (resumes an unfinished move of it).
    Migrate(migrate::MigrateArgs),
    /// Finish a move past cutover: resume its pending cleanup, or delete the
    /// source rows a `--keep-source` move kept.
    Finalize {
        #[arg(long)]
        website: WebsiteId,
    },
    /// Show a move's state, phase, progress and checksums.
    Status {
        #[arg(long)]
        migration: i64,
        #[arg(long)]
        json: bool,
    },
    /// Ask a move to stop at its next checkpoint and roll back.
    Cancel {
        #[arg(long)]
        migration: i64,
    },
    /// List shard changes, newest first.
    Audit {
        #[arg(long)]
        website: Option<WebsiteId>,
        #[arg(long)]
        changed_by: Option<String>,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Run the HTTP API and the move workers in one process.
    Serve,
    /// Run only the HTTP API.
    Api,
    /// Run only move workers (as many processes, on as many hosts, as you like).
    Worker,
    /// Apply shardmover's migrations to the control database.
    Setup,
    /// Create demo databases on the local server, seed a tenant and move it.
    Demo(demo::DemoArgs),
    /// Measure a full move against a raw binary COPY pipe of the same rows, the
    /// freeze of online moves under write load, what the fence and change
    /// capture cost writes, and what a move costs a neighbour's writes.
    Bench(bench::engine::BenchArgs),
    /// Load the HTTP API (POST and GET) and compare with pgbench on the same SQL.
    BenchApi(bench::api::BenchApiArgs),
    /// Time every dashboard page with a long move history against a short one.
    BenchDashboard(bench::dashboard::BenchDashboardArgs),
    /// Drain a shard of many long-tailed websites with a plan, against raw pipes and one move at a time.
    BenchFleet(bench::fleet::BenchFleetArgs),
    /// Shard catalogue, health, statistics, distribution, placement, status changes.
    Shards(shards::ShardsArgs),
    /// Where a website lives; assign websites without rows to a shard.
    Websites(websites::WebsitesArgs),
    /// Which websites each shard refuses writes for; lift a fence by hand.
    Fences(fences::FencesArgs),
    /// Fleet plans of many moves: drain, balance, add a shard, or a list.
    Rebalance(rebalance::RebalanceArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init(settings.log.format, &settings.log.level);
    match cli.command {
        Command::Migrate(args) => migrate::run(&mover(settings).await?, args).await,
        Command::Finalize { website } => migrate::finalize(&mover(settings).await?, website).await,
        Command::Status { migration, json } => {
            migrate::status(&mover(settings).await?, MoveId::from(migration), json).await
        }
        Command::Cancel { migration } => {
            migrate::cancel(&mover(settings).await?, MoveId::from(migration)).await
        }
        Command::Audit {
            website,
            changed_by,
            limit,
            json,
        } => {
            let filter = crate::control::audit_logs::AuditFilter {
                website,
                changed_by,
                before: None,
                limit,
            };
            migrate::audit(&mover(settings).await?, &filter, json).await
        }
        Command::Serve => serve::run(connect(settings).await?, true, true).await,
        Command::Api => serve::run(connect(settings).await?, true, false).await,
        Command::Worker => serve::run(connect(settings).await?, false, true).await,
        Command::Setup => connect(settings)
            .await
            .map(|_| println!("control database is up to date")),
        Command::Demo(args) => demo::run(settings, args).await,
        Command::Bench(args) => bench::engine::run(settings, args).await,
        Command::BenchApi(args) => bench::api::run(settings, args).await,
        Command::BenchDashboard(args) => bench::dashboard::run(settings, args).await,
        Command::BenchFleet(args) => bench::fleet::run(settings, args).await,
        Command::Shards(args) => shards::run(&connect(settings).await?, args).await,
        Command::Websites(args) => websites::run(&connect(settings).await?, args).await,
        Command::Fences(args) => fences::run(&mover(settings).await?, args).await,
        Command::Rebalance(args) => rebalance::run(&connect(settings).await?, args).await,
    }
}

/// The application context, built once (connected, migrated).
async fn connect(settings: Settings) -> anyhow::Result<App> {
    crate::startup::build(settings).await
}

/// The move engine over a freshly built context.
async fn mover(settings: Settings) -> anyhow::Result<Mover> {
    Ok(crate::startup::mover(connect(settings).await?))
}

/// An error and its causes on one line: `error: a: b: c`.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        // sqlx's texts end in "at line N" (of PostgreSQL's C source): not for people.
        let text = if let Some(sqlx) = cause.downcast_ref::<sqlx::Error>() {
            crate::db::error_message(sqlx)
        } else if let Some(server) = cause.downcast_ref::<Box<dyn sqlx::error::DatabaseError>>() {
            server.message().to_owned()
        } else {
            cause.to_string()
        };
        let text = text.replace('\n', "; ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

pub(crate) fn parse_shard(name: &str) -> Result<ShardName, String> {
    ShardName::parse(name)
}
