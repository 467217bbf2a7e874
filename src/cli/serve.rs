//! `serve`, `api` and `worker`: the long-running service, whole or in parts.
//! Ctrl-C or SIGTERM stops taking work, drains in-flight requests and lets
//! running moves reach a checkpoint (they resume wherever a worker next runs).
//! The API and the workers draw on separate control pools; a worker that loses
//! the control database restarts under its supervisor and never ends the process.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::app::App;
use crate::jobs::worker::{self, Workers};

pub async fn run(app: App, with_api: bool, with_worker: bool) -> anyhow::Result<()> {
    let workers = with_worker.then(|| Arc::new(Workers::default()));
    let (stop, stopped) = watch::channel(false);
    let stopping = app.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: moves stop at their next checkpoint");
        stopping.request_stop();
        let _ = stop.send(true);
    });
    // Every process probes (skipping turns another process just took) so
    // health stays fresh as long as any of them runs.
    tokio::spawn(crate::shard_ops::checker::run(app.clone(), stopped.clone()));
    let mut tasks = Vec::new();
    if with_api {
        let bind = &app.settings().api.bind;
        let listener =
            TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
        tracing::info!(address = %listener.local_addr()?, "API listening");
        let state = AppState {
            app: app.clone(),
            workers: workers.clone(),
        };
        let server = api::server(listener, state)?;
        let handle = server.handle();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _ = stopped.wait_for(|s| *s).await;
            handle.stop(true).await;
        });
        tasks.push(tokio::spawn(async move {
            server.await.map_err(anyhow::Error::from)
        }));
    }
    if let Some(workers) = workers {
        let pool = crate::db::worker_pool(app.settings());
        let working = Arc::new(crate::startup::mover(app.with_control_pool(pool.clone())));
        tokio::spawn(crate::jobs::sweeper::run(pool.clone(), stopped.clone()));
        // apalis refuses a second live worker of the same name: unique across hosts.
        let name = format!(
            "shardmover-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // Fleet plans are stepped by whichever worker process holds each one's
        // lease, and abandoned freezes watched for, on the process's other
        // control pool: moves run on this one, and neither waits behind them.
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
        // Runs on this task: apalis's worker future is not `Send`-friendly enough to spawn.
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        worker::run_watched(&pool, working, &name, shutdown, &workers).await?;
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
