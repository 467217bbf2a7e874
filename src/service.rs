//! What one long-running process runs on the application context `startup`
//! builds, started the same way by `serve`, `api`, `worker` and the tests'
//! app: the API (and the dashboard) on `api.bind`, the move and notice workers
//! with the sweeper, the freeze watcher and the rebalance driver beside them,
//! and the shard health checker. A test listens on port 0 and switches parts
//! off; nothing else differs.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, AppState};
use crate::app::App;
use crate::jobs::worker::{self, Workers};
use crate::mover::Mover;

/// The parts one process runs.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The HTTP API and the dashboard, on `api.bind`.
    pub api: bool,
    /// The move and notice workers, with the sweeper, the freeze watcher and
    /// the rebalance driver.
    pub workers: bool,
    /// The shard health checker. Every process runs it (skipping turns
    /// another process just took) so health stays fresh as long as any runs.
    pub health_checks: bool,
}

/// Stops a running service: moves stop at their next checkpoint (and stay
/// resumable), the API drains in-flight requests, the workers and the
/// background tasks end.
#[derive(Clone)]
pub struct Stop {
    app: App,
    sender: Arc<watch::Sender<bool>>,
}

impl Stop {
    pub fn stop(&self) {
        self.app.request_stop();
        self.sender.send_replace(true);
    }
}

/// A started service: `wait` runs the workers until stopped. Dropping it and
/// every `Stop` ends the API and the background tasks.
pub struct Running {
    stop: Stop,
    api: Option<(SocketAddr, JoinHandle<std::io::Result<()>>)>,
    workers: Option<WorkerSide>,
}

/// What the workers need once `wait` runs them.
struct WorkerSide {
    pool: PgPool,
    mover: Arc<Mover>,
    name: String,
    health: Arc<Workers>,
}

impl Service {
    /// Binds the API and spawns the background tasks; the workers themselves
    /// run in `Running::wait`.
    pub fn start(self, app: &App) -> anyhow::Result<Running> {
        let (sender, stopped) = watch::channel(false);
        let stop = Stop {
            app: app.clone(),
            sender: Arc::new(sender),
        };
        if self.health_checks {
            tokio::spawn(crate::shard_ops::checker::run(app.clone(), stopped.clone()));
        }
        let health = self.workers.then(|| Arc::new(Workers::default()));
        let api = if self.api {
            Some(serve_api(app, health.clone(), stopped.clone())?)
        } else {
            None
        };
        let workers = health.map(|health| beside_workers(app, health, &stopped));
        Ok(Running { stop, api, workers })
    }
}

fn serve_api(
    app: &App,
    workers: Option<Arc<Workers>>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let bind = &app.settings().api.bind;
    let listener = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "API listening");
    let state = AppState {
        app: app.clone(),
        workers,
    };
    let server = api::server(listener, state)?;
    let handle = server.handle();
    tokio::spawn(async move {
        let _ = stopped.wait_for(|s| *s).await;
        handle.stop(true).await;
    });
    Ok((address, tokio::spawn(server)))
}

/// The workers' pool and name, and what runs beside them: the sweeper, the
/// freeze watcher and the rebalance driver.
fn beside_workers(app: &App, health: Arc<Workers>, stopped: &watch::Receiver<bool>) -> WorkerSide {
    let pool = crate::db::worker_pool(app.settings());
    tokio::spawn(crate::jobs::sweeper::run(pool.clone(), stopped.clone()));
    // apalis refuses a second live worker of the same name: unique across hosts.
    let name = format!(
        "shardmover-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    // Fleet plans are stepped by whichever worker process holds each one's
    // lease, and abandoned freezes watched for, on the process's other
    // control pool: moves run on the workers' pool, and neither waits behind them.
    let watching = Arc::new(crate::startup::mover(app.clone()));
    tokio::spawn(crate::jobs::freeze_watch::run(
        watching.clone(),
        stopped.clone(),
    ));
    tokio::spawn(crate::rebalance::driver::run(
        watching,
        name.clone(),
        stopped.clone(),
    ));
    WorkerSide {
        mover: Arc::new(crate::startup::mover(app.with_control_pool(pool.clone()))),
        pool,
        name,
        health,
    }
}

impl Running {
    /// Where the API listens (port 0 resolved), when it runs.
    pub fn api_address(&self) -> Option<SocketAddr> {
        self.api.as_ref().map(|(address, _)| *address)
    }

    pub fn stopper(&self) -> Stop {
        self.stop.clone()
    }

    /// Runs the workers, if any, until stopped, then waits for the API to
    /// finish draining.
    pub async fn wait(self) -> anyhow::Result<()> {
        let Running { stop, api, workers } = self;
        if let Some(side) = workers {
            let mut stopped = stop.sender.subscribe();
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            worker::run_watched(&side.pool, side.mover, &side.name, shutdown, &side.health).await?;
        }
        if let Some((_, server)) = api {
            server.await??;
        }
        // Held until here: dropping it ends the background tasks.
        drop(stop);
        Ok(())
    }
}
