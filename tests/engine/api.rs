//! The HTTP API on a random port against fresh databases, driven over HTTP,
//! with the real apalis worker or a deterministic queue drain.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use shardmover::api::{self, AppState};
use shardmover::jobs;
use shardmover::jobs::MoveJob;

use crate::app::{TOKEN, error_code, spawn_app, spawn_app_with};
use crate::helpers::{TestEnv, block_on, dump, join_thread, pool};
use crate::smtp::{SmtpServer, mail_to};

fn move_body(website: i64, target: &str) -> Value {
    json!({"website_id": website, "target_shard": target, "requested_by": "ops@example.com", "notes": "upgrade"})
}

#[tokio::test]
async fn a_move_requested_over_http_is_run_by_a_worker_and_fully_recorded() {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(|s| mail_to(s, smtp.port)).await;
    app.env.seed(7, "shard_1", 2_000).await;
    let original = dump(&app.env.shard_1, 7).await;
    // The real apalis worker, on its own thread and runtime, until the test ends.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let (url, settings) = (
        app.env.settings.database.url.clone(),
        app.mover.settings().clone(),
    );
    let worker = std::thread::spawn(move || {
        block_on(async move {
            let control = pool(&url).await;
            let mover = Arc::new(crate::helpers::new_mover(
                Arc::new(settings),
                control.clone(),
            ));
            let shutdown = async move {
                while stopped.try_recv().is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            jobs::worker::run(&control, mover, "test-worker", shutdown)
                .await
                .unwrap();
        })
    });

    let response = app
        .client
        .post(format!("{}/api/v1/migrations", app.address))
        .bearer_auth(TOKEN)
        .json(&move_body(7, "shard_2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/migrations/{}", created["id"]));
    assert_eq!(
        (created["status"].as_str(), created["phase"].as_str()),
        (Some("pending"), Some("queued"))
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let finished = loop {
        let (status, body) = app.get(&location).await;
        assert_eq!(status, StatusCode::OK);
        let noticed = body["notifications"][0]["status"] == "sent";
        if body["status"] == "failed" || (body["status"] == "completed" && noticed) {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never finished and mailed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.send(()).unwrap();
    join_thread(worker, 60).await;

    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["progress"]["percent"], 100.0);
    // The requester is also on the ops list: one notice, to one address.
    let notice = &finished["notifications"][0];
    assert_eq!(finished["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(notice["recipient"], "ops@example.com");
    assert_eq!(
        (notice["event"].as_str(), notice["attempts"].as_i64()),
        (Some("completed"), Some(1))
    );
    assert!(notice["sent_at"].is_string() && notice["last_error"].is_null());
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["ops@example.com"]);
    assert!(
        finished["progress"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["verified"] == true && t["source_checksum"] == t["target_checksum"])
    );
    assert_eq!(dump(&app.env.shard_2, 7).await, original);
    assert_eq!(app.env.registry(7).await.as_deref(), Some("shard_2"));
    let (_, audit) = app.get("/api/v1/audit-logs?website_id=7").await;
    let entry = &audit["items"][0];
    assert_eq!(
        (entry["status"].as_str(), entry["changed_by_email"].as_str()),
        (Some("completed"), Some("ops@example.com"))
    );
}

#[tokio::test]
async fn every_api_route_needs_the_bearer_token_but_health_does_not() {
    let app = spawn_app().await;
    let health = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .client
        .get(format!("{}/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    for token in [None, Some("wrong"), Some("")] {
        let mut request = app.client.get(format!("{}/api/v1/migrations", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "unauthorized");
    }
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_the_right_status() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 100).await;
    let raw = app
        .client
        .post(format!("{}/api/v1/migrations", app.address))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&raw.json().await.unwrap()), "bad_request");
    let cases = [
        (
            json!({"website_id": "seven", "target_shard": "shard_2", "requested_by": "ops@example.com"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            move_body(404, "shard_2"),
            StatusCode::NOT_FOUND,
            "unknown_website",
        ),
        (
            move_body(7, "shard_9"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_shard",
        ),
        (
            move_body(7, "shard_1"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_shard",
        ),
        (
            json!({"website_id": 7, "target_shard": "shard_2", "requested_by": "nobody"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_requested_by",
        ),
    ];
    for (body, status, code) in cases {
        let (got, response) = app.post("/api/v1/migrations", body.clone()).await;
        assert_eq!((got, error_code(&response)), (status, code), "{body}");
    }
    let gets = [
        (
            "/api/v1/migrations/999",
            StatusCode::NOT_FOUND,
            "unknown_migration",
        ),
        (
            "/api/v1/migrations/abc",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/migrations?status=sleeping",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/api/v1/nothing-here", StatusCode::NOT_FOUND, "not_found"),
    ];
    for (path, status, code) in gets {
        let (got, body) = app.get(path).await;
        assert_eq!((got, error_code(&body)), (status, code), "{path}");
    }
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM shardmover.migrations")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    assert_eq!(recorded, 0, "nothing recorded by refused requests");
}

#[tokio::test]
async fn fifty_concurrent_requests_for_one_website_accept_exactly_one() {
    let app = Arc::new(spawn_app().await);
    app.env.seed(7, "shard_1", 100).await;
    let requests = (0..50).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            app.post("/api/v1/migrations", move_body(7, "shard_2"))
                .await
        })
    });
    let mut accepted = Vec::new();
    let mut conflicts = Vec::new();
    for request in requests {
        let (status, body) = request.await.unwrap();
        match status {
            StatusCode::ACCEPTED => accepted.push(body["id"].clone()),
            StatusCode::CONFLICT => conflicts.push(body),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(accepted.len(), 1);
    assert_eq!(conflicts.len(), 49);
    let id = accepted[0].as_i64().unwrap();
    assert!(conflicts.iter().all(|c| {
        error_code(c) == "move_in_progress"
            && c["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("migration {id}"))
    }));
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    let audits: i64 = sqlx::query_scalar("SELECT count(*) FROM shardmover.audit_logs")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    assert_eq!(
        (jobs, audits),
        (1, 1),
        "one job and one audit entry, never one without the other"
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_same_move_and_enqueues_nothing() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 100).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let response = app
            .client
            .post(format!("{}/api/v1/migrations", app.address))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", "req-42")
            .json(&move_body(7, "shard_2"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        ids.push(response.json::<Value>().await.unwrap()["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    assert_eq!(app.drain_queue().await, 1);
    let (_, body) = app.get(&format!("/api/v1/migrations/{}", ids[0])).await;
    assert_eq!(body["status"], "completed");
}

#[tokio::test]
async fn a_queued_move_is_cancelled_at_once_and_its_job_then_does_nothing() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 300).await;
    let before = dump(&app.env.shard_1, 7).await;
    let (_, created) = app
        .post("/api/v1/migrations", move_body(7, "shard_2"))
        .await;
    let path = format!("/api/v1/migrations/{}/cancel", created["id"]);

    let (status, cancelled) = app.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(cancelled["status"], "cancelled");
    app.drain_queue().await;

    let (_, after) = app
        .get(&format!("/api/v1/migrations/{}", created["id"]))
        .await;
    assert_eq!(
        (after["status"].as_str(), after["attempts"].as_i64()),
        (Some("cancelled"), Some(0))
    );
    assert_eq!(dump(&app.env.shard_1, 7).await, before);
    assert!(dump(&app.env.shard_2, 7).await.is_empty());
    let (status, body) = app.post(&path, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "cannot_cancel")
    );
    let (_, audit) = app.get("/api/v1/audit-logs?website_id=7").await;
    assert_eq!(audit["items"][0]["status"], "cancelled");
}

#[tokio::test]
async fn a_dry_run_answers_with_the_preflight_report_and_records_nothing() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 300).await;
    let mut body = move_body(7, "shard_2");
    body["dry_run"] = json!(true);
    let (status, report) = app.post("/api/v1/migrations", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["tables"].as_array().unwrap().len(), 5);
    let (_, list) = app.get("/api/v1/migrations").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn feature_flags_and_the_admin_allow_list_close_routes_with_403() {
    let app = spawn_app_with(|s| {
        s.flags.migrations = false;
        s.flags.admin = false;
    })
    .await;
    let (status, body) = app
        .post("/api/v1/migrations", move_body(7, "shard_2"))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "feature_disabled")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SHARD_MIGRATIONS_ENABLED")
    );
    let (status, body) = app.get("/api/v1/audit-logs").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "feature_disabled")
    );

    let app =
        spawn_app_with(|s| s.flags.admin_emails = Some(vec!["boss@example.com".into()])).await;
    app.env.seed(7, "shard_1", 100).await;
    let (status, body) = app
        .post("/api/v1/migrations", move_body(7, "shard_2"))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "requester_not_allowed")
    );
}

#[tokio::test]
async fn an_unreachable_shard_is_retried_with_visible_backoff_then_the_move_completes() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 500).await;
    let original = dump(&app.env.shard_1, 7).await;
    let (_, created) = app
        .post("/api/v1/migrations", move_body(7, "shard_2"))
        .await;
    let id = created["id"].as_i64().unwrap();
    // A worker whose view of shard_2 refuses connections.
    let mut broken = app.mover.settings().clone();
    broken.shards.get_mut("shard_2").unwrap().url =
        SecretString::from("postgres://postgres@127.0.0.1:1/nowhere");
    let broken = Arc::new(crate::helpers::new_mover(
        Arc::new(broken),
        app.env.control.clone(),
    ));
    let job = MoveJob {
        migration_id: shardmover::ids::MoveId::from(id),
        request_id: None,
    };
    sqlx::query("UPDATE apalis.jobs SET status = 'Done'")
        .execute(&app.env.control)
        .await
        .unwrap();
    jobs::run_move(job, apalis::prelude::Data::new(broken))
        .await
        .unwrap();

    let (_, waiting) = app.get(&format!("/api/v1/migrations/{id}")).await;
    assert_eq!(
        (waiting["status"].as_str(), waiting["attempts"].as_i64()),
        (Some("in_progress"), Some(1))
    );
    assert_eq!(error_code(&waiting), "database_unavailable");
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(waiting["next_attempt_at"].clone()).unwrap();
    let wait = (next - chrono::Utc::now()).num_milliseconds();
    assert!(
        (0..=2_500).contains(&wait),
        "first retry in about 1-1.25 s, got {wait} ms"
    );
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE status = 'Pending' AND run_at > now() - interval '1 second'")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    assert_eq!(queued, 1, "the retry is a queued job with its run_at");
    assert_eq!(
        dump(&app.env.shard_1, 7).await,
        original,
        "nothing moved yet"
    );

    assert_eq!(app.drain_queue().await, 1);

    let (_, done) = app.get(&format!("/api/v1/migrations/{id}")).await;
    assert_eq!(
        (done["status"].as_str(), done["attempts"].as_i64()),
        (Some("completed"), Some(2))
    );
    assert_eq!(done["error"], Value::Null);
    assert_eq!(dump(&app.env.shard_2, 7).await, original);
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes_and_needs_the_token() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/migrations",
        "/api/v1/migrations/{id}",
        "/api/v1/migrations/{id}/cancel",
        "/api/v1/audit-logs",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let view = &doc["components"]["schemas"]["MigrationView"]["properties"];
    for field in [
        "id",
        "website_id",
        "source_shard",
        "target_shard",
        "status",
        "phase",
        "progress",
        "attempts",
        "next_attempt_at",
        "error",
    ] {
        assert!(view[field].is_object(), "MigrationView.{field} missing");
    }
    let anonymous = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_move_remembers_its_own() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 100).await;
    let health = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.headers()["x-request-id"].to_str().unwrap().len(),
        36,
        "made up when not sent"
    );
    let response = app
        .client
        .post(format!("{}/api/v1/migrations", app.address))
        .bearer_auth(TOKEN)
        .header("X-Request-Id", "ticket-77")
        .json(&move_body(7, "shard_2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "ticket-77");
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let stored: Option<String> =
        sqlx::query_scalar("SELECT request_id FROM shardmover.migrations WHERE id = $1")
            .bind(id)
            .fetch_one(&app.env.control)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some("ticket-77"));
    let job: Vec<u8> = sqlx::query_scalar("SELECT job FROM apalis.jobs")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    let job: MoveJob = serde_json::from_slice(&job).unwrap();
    assert_eq!(
        job.request_id.as_deref(),
        Some("ticket-77"),
        "carried into the worker's logs"
    );
}

#[tokio::test]
async fn a_control_database_that_is_down_gives_503_not_500() {
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    settings.api.token = Some(SecretString::from(TOKEN));
    let down = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nowhere")
        .unwrap();
    let mover = Arc::new(crate::helpers::new_mover(Arc::new(settings), down));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        api::server(
            listener,
            AppState {
                app: mover.app().clone(),
                workers: None,
            },
        )
        .unwrap(),
    );
    let client = reqwest::Client::new();

    let ready = client.get(format!("{address}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    for response in [
        client
            .get(format!("{address}/api/v1/migrations/1"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
        client
            .post(format!("{address}/api/v1/migrations"))
            .bearer_auth(TOKEN)
            .json(&move_body(7, "shard_2"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "database_unavailable");
    }
}

#[tokio::test]
async fn a_move_whose_job_was_lost_is_queued_again_by_the_sweeper_once() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 300).await;
    let (_, created) = app
        .post("/api/v1/migrations", move_body(7, "shard_2"))
        .await;
    // The job failed for good (as if the control database vanished mid-retry).
    sqlx::query("UPDATE apalis.jobs SET status = 'Failed', attempts = max_attempts")
        .execute(&app.env.control)
        .await
        .unwrap();
    let sweep = || jobs::sweeper::sweep(&app.env.control, 0.0);

    assert_eq!(sweep().await.unwrap(), 1);
    assert_eq!(
        sweep().await.unwrap(),
        0,
        "a move with a live job is left alone"
    );
    assert_eq!(app.drain_queue().await, 1);

    let (_, done) = app
        .get(&format!("/api/v1/migrations/{}", created["id"]))
        .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(sweep().await.unwrap(), 0, "finished moves need nothing");
}

#[tokio::test]
async fn concurrent_requests_for_a_shard_with_one_free_slot_get_exactly_one_move() {
    let app = spawn_app().await;
    for website in 7..12 {
        app.env.seed(website, "shard_1", 50).await;
    }
    let (status, _) = app
        .patch(
            "/api/v1/shards/shard_2",
            json!({"capacity": 1, "requested_by": "ops@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let requests =
        (7..12).map(|website| app.post("/api/v1/migrations", move_body(website, "shard_2")));
    let answers = futures_util::future::join_all(requests).await;
    let accepted = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::ACCEPTED) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(body), "shard_not_available");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("full"), "{message}");
    }
    // The accepted move counts itself, not twice: its preflight lets it through.
    assert_eq!(app.drain_queue().await, 1);
    let (_, list) = app.get("/api/v1/migrations?status=completed").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
