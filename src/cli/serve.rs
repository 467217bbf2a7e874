//! `serve`, `api` and `worker`: the long-running service, whole or in parts,
//! started by `service::Service`. Ctrl-C or SIGTERM stops taking work, drains
//! in-flight requests and lets running moves reach a checkpoint (they resume
//! wherever a worker next runs). The API and the workers draw on separate
//! control pools; a worker that loses the control database restarts under its
//! supervisor and never ends the process.

use crate::app::App;
use crate::service::Service;

pub async fn run(app: App, with_api: bool, with_worker: bool) -> anyhow::Result<()> {
    let service = Service {
        api: with_api,
        workers: with_worker,
        health_checks: true,
    };
    let running = service.start(&app)?;
    let stop = running.stopper();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: moves stop at their next checkpoint");
        stop.stop();
    });
    running.wait().await
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
