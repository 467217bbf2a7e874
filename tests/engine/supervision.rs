//! Supervised workers as `/ready` and `/metrics` report them: a worker whose
//! run ends while no shutdown was asked for is started again and shown down
//! meanwhile; a worker off by configuration (mail off) is not down.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use shardmover::api::{self, AppState};
use shardmover::jobs::supervisor::{Shutdown, supervise};
use shardmover::jobs::worker::{self, Workers};
use shardmover::mover::Mover;

use crate::app::TOKEN;
use crate::helpers::{TestEnv, block_on, join_thread};

/// The API over `env` reporting `workers`; its address and the mover behind it.
fn serve_api(env: &TestEnv, workers: &Arc<Workers>) -> (String, Arc<Mover>) {
    let mut settings = env.settings.clone();
    settings.api.token = Some(SecretString::from(TOKEN));
    let mover = Arc::new(crate::helpers::new_mover(
        Arc::new(settings),
        env.control.clone(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        app: mover.app().clone(),
        workers: Some(workers.clone()),
    };
    tokio::spawn(api::server(listener, state).unwrap());
    (address, mover)
}

async fn ready(address: &str) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{address}/ready")).await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn metrics(address: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{address}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

fn never() -> Shutdown {
    std::future::pending::<()>().boxed().shared()
}

#[tokio::test]
async fn a_worker_whose_run_ends_without_a_shutdown_is_started_again_and_reported_down_meanwhile() {
    let env = TestEnv::new().await;
    let workers = Arc::new(Workers::default());
    workers.mail.turned_off();
    let (address, _) = serve_api(&env, &workers);
    let runs = Arc::new(AtomicU64::new(0));
    let supervised = {
        let (workers, runs) = (workers.clone(), runs.clone());
        tokio::spawn(async move {
            supervise(&workers.moves, never(), |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                // What apalis does when its run ends for no reason it reports.
                async { Ok::<_, apalis::prelude::WorkerError>(()) }.boxed()
            })
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while runs.load(Ordering::SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "the worker was not started again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, body) = ready(&address).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["workers"]["moves"]["state"], "restarting");
    assert!(body["workers"]["moves"]["restarts"].as_u64().unwrap() >= 2);
    assert_eq!(body["workers"]["mail"]["state"], "off");
    let text = metrics(&address).await;
    assert!(
        text.contains("shardmover_worker_up{worker=\"moves\"} 0"),
        "{text}"
    );
    assert!(!text.contains("worker=\"mail\""), "{text}");
    supervised.abort();
}

#[tokio::test]
async fn with_mail_off_the_service_is_ready_and_the_mail_worker_is_not_reported_down() {
    let env = TestEnv::new().await;
    assert!(env.settings.mail.smtp_host.is_empty(), "mail is off here");
    let workers = Arc::new(Workers::default());
    let (address, mover) = serve_api(&env, &workers);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watched = workers.clone();
    let worker_thread = std::thread::spawn(move || {
        block_on(async move {
            let pool = mover.control_pool().clone();
            let shutdown = async move {
                let _ = stopped.await;
            };
            worker::run_watched(&pool, mover, "mail-off", shutdown, &watched)
                .await
                .unwrap();
        })
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (status, body) = ready(&address).await;
        if status == StatusCode::OK {
            break body;
        }
        assert!(Instant::now() < deadline, "/ready stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["workers"]["moves"]["state"], "running");
    assert_eq!(body["workers"]["mail"]["state"], "off");
    let text = metrics(&address).await;
    assert!(
        text.contains("shardmover_worker_up{worker=\"moves\"} 1"),
        "{text}"
    );
    assert!(!text.contains("worker=\"mail\""), "mail reported: {text}");

    stop.send(()).unwrap();
    join_thread(worker_thread, 60).await;
    let (status, body) = ready(&address).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["workers"]["moves"]["state"], "stopped");
}
