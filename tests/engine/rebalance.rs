//! Fleet plans end to end through the HTTP API: previewed, started with the
//! preview's token, stepped by the driver as worker processes step it, every
//! move an ordinary move run by its job — drained, throttled, paused, resumed,
//! cancelled, stopped on a failure and retried.

use serde_json::{Value, json};
use shardmover::control::shard_health::{self, HealthReport, HealthState};

use crate::app::{TestApp, error_code, spawn_app};
use crate::helpers::dump;

const ADMIN: &str = "ops@example.com";

/// Previews `plan`, then starts it with the preview's token; returns the plan's id.
pub(crate) async fn start(app: &TestApp, plan: Value) -> i64 {
    let (status, preview) = app.post("/api/v1/rebalances", plan.clone()).await;
    assert_eq!(status, 200, "{preview}");
    let mut confirmed = plan;
    confirmed["confirmation_token"] = preview["confirmation_token"].clone();
    let (status, started) = app.post("/api/v1/rebalances", confirmed).await;
    assert_eq!(status, 202, "{started}");
    started["id"].as_i64().unwrap()
}

/// A list plan moving websites 1..=n to shard_2, one at a time.
async fn start_one_at_a_time(app: &TestApp, n: i64) -> i64 {
    let moves: Vec<Value> = (1..=n)
        .map(|w| json!({"website_id": w, "target_shard": "shard_2"}))
        .collect();
    let plan = json!({"kind": "list", "moves": moves, "requested_by": ADMIN, "max_concurrent": 1});
    start(app, plan).await
}

pub(crate) async fn view(app: &TestApp, id: i64) -> Value {
    let (status, body) = app.get(&format!("/api/v1/rebalances/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// One step of every live plan, as a worker process takes it.
pub(crate) async fn step(app: &TestApp) {
    shardmover::rebalance::driver::step_all(&app.mover, "test-worker")
        .await
        .unwrap();
}

/// Steps and runs move jobs until the plan ends; returns its last view.
pub(crate) async fn run_to_end(app: &TestApp, id: i64) -> Value {
    for _ in 0..100 {
        step(app).await;
        let body = view(app, id).await;
        assert!(
            body["moves"]["running"].as_i64().unwrap() <= body["max_concurrent"].as_i64().unwrap()
        );
        if body["finished_at"].is_string() {
            return body;
        }
        app.drain_queue().await;
    }
    panic!("rebalance {id} did not end: {}", view(app, id).await);
}

pub(crate) async fn command(app: &TestApp, id: i64, verb: &str) -> (reqwest::StatusCode, Value) {
    app.post(
        &format!("/api/v1/rebalances/{id}/{verb}"),
        json!({"requested_by": ADMIN}),
    )
    .await
}

async fn report(app: &TestApp, shard: &str, state: HealthState) {
    let report = HealthReport {
        shard: shard.into(),
        state,
        connection_status: "ok".into(),
        avg_query_ms: Some(1.0),
        active_connections: Some(3),
        max_connections: Some(100),
        database_size: None,
        cache_hit_rate: None,
        index_hit_rate: None,
        slow_queries_count: None,
        slow_queries_note: None,
        error_rate: 0.0,
        error_message: None,
        checked_at: chrono::Utc::now(),
    };
    let mut conn = app.env.control.acquire().await.unwrap();
    shard_health::insert(&mut conn, &report).await.unwrap();
}

#[tokio::test]
async fn a_drain_moves_every_website_off_its_shard_and_keeps_new_ones_off_while_it_runs() {
    let app = spawn_app().await;
    for website in 1..=5 {
        app.env.seed(website, "shard_1", 40 + website * 10).await;
    }
    app.env.seed(9, "shard_2", 30).await;
    let before: Vec<Vec<String>> =
        futures_util::future::join_all((1..=5).map(|w| dump(app.env.pool("shard_1"), w))).await;
    let plan = json!({"kind": "drain", "shard": "shard_1", "requested_by": ADMIN,
                      "max_concurrent": 2, "per_shard": 2});
    let (status, preview) = app.post("/api/v1/rebalances", plan.clone()).await;
    assert_eq!(status, 200, "{preview}");
    let moves = preview["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 5, "{preview}");
    assert!(
        moves
            .iter()
            .all(|m| m["target_shard"] == "shard_2" && m["rows"].as_i64() > Some(0))
    );
    let after = &preview["after"];
    assert_eq!(after[0]["websites"], 0, "{preview}");
    assert_eq!(after[1]["websites"], 6, "{preview}");

    let mut wrong = plan.clone();
    wrong["confirmation_token"] = json!("0".repeat(64));
    let (status, body) = app.post("/api/v1/rebalances", wrong).await;
    assert_eq!((status.as_u16(), error_code(&body)), (409, "plan_changed"));

    let id = start(&app, plan).await;
    // While the drain runs, nothing new is placed on or moved to the drained shard.
    let (status, body) = app
        .post(
            "/api/v1/migrations",
            json!({"website_id": 9, "target_shard": "shard_1", "requested_by": ADMIN}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("being drained"),
        "{body}"
    );
    let (_, recommended) = app.get("/api/v1/shards/recommended").await;
    assert_eq!(recommended["shard"], "shard_2", "{recommended}");

    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(ended["moves"]["completed"], 5, "{ended}");
    assert_eq!(ended["rows_done"], ended["rows_total"], "{ended}");
    for (website, rows) in (1..=5).zip(before) {
        assert_eq!(app.env.registry(website).await.as_deref(), Some("shard_2"));
        assert_eq!(dump(app.env.pool("shard_2"), website).await, rows);
        assert!(dump(app.env.pool("shard_1"), website).await.is_empty());
    }
    let events: Vec<&str> = ended["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["started", "completed"]);
    // Every step was an ordinary, audited move.
    assert_eq!(app.audit_count(3).await, 1);
    // Over: shard_1 takes websites again.
    let (status, body) = app
        .post(
            "/api/v1/migrations",
            json!({"website_id": 9, "target_shard": "shard_1", "requested_by": ADMIN}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn a_plan_starts_no_move_touching_a_degraded_shard_and_says_what_it_waits_for() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 50).await;
    let id = start(
        &app,
        json!({"kind": "list", "moves": [{"website_id": 1, "target_shard": "shard_2"}], "requested_by": ADMIN}),
    )
    .await;
    report(&app, "shard_2", HealthState::Degraded).await;
    step(&app).await;
    let waiting = view(&app, id).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    assert_eq!(waiting["waiting_for"], "shard_2 DEGRADED", "{waiting}");
    assert_eq!(waiting["moves"]["running"], 0, "{waiting}");
    assert_eq!(
        waiting["items"][0]["reason"], "shard_2 DEGRADED",
        "{waiting}"
    );

    report(&app, "shard_2", HealthState::Healthy).await;
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(app.env.registry(1).await.as_deref(), Some("shard_2"));
}

#[tokio::test]
async fn a_paused_plan_lets_its_running_move_finish_and_starts_none_until_resumed_and_cancel_stops_the_rest()
 {
    let app = spawn_app().await;
    for website in 1..=3 {
        app.env.seed(website, "shard_1", 40).await;
    }
    let id = start_one_at_a_time(&app, 3).await;
    step(&app).await;
    assert_eq!(view(&app, id).await["moves"]["running"], 1);

    let (status, body) = command(&app, id, "pause").await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (202, Some("paused")),
        "{body}"
    );
    let (status, body) = command(&app, id, "pause").await;
    assert_eq!((status.as_u16(), error_code(&body)), (409, "cannot_pause"));
    app.drain_queue().await;
    step(&app).await;
    step(&app).await;
    let paused = view(&app, id).await;
    assert_eq!(paused["moves"]["completed"], 1, "{paused}");
    assert_eq!(paused["moves"]["running"], 0, "{paused}");
    assert_eq!(paused["moves"]["waiting"], 2, "{paused}");

    assert_eq!(command(&app, id, "resume").await.0, 202);
    step(&app).await;
    assert_eq!(view(&app, id).await["moves"]["running"], 1);
    assert_eq!(command(&app, id, "cancel").await.0, 202);
    step(&app).await;
    step(&app).await;
    let ended = view(&app, id).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert_eq!(ended["moves"]["completed"], 1, "{ended}");
    assert_eq!(ended["moves"]["cancelled"], 2, "{ended}");
    // The cancelled move's job, if still queued, finds its move ended and does nothing.
    app.drain_queue().await;
    assert_eq!(app.env.registry(1).await.as_deref(), Some("shard_2"));
    for website in [2, 3] {
        assert_eq!(app.env.registry(website).await.as_deref(), Some("shard_1"));
    }
    assert_eq!(view(&app, id).await["status"], "cancelled");
}

#[tokio::test]
async fn stop_on_failure_drops_the_rest_after_a_failed_move_and_retry_puts_them_back() {
    let app = spawn_app().await;
    for website in 1..=3 {
        app.env.seed(website, "shard_1", 40).await;
    }
    // Website 1 already has rows on the target: its move is refused there.
    crate::helpers::seed_rows_only(&app.env, 1, "shard_2").await;
    let moves: Vec<Value> = (1..=3)
        .map(|w| json!({"website_id": w, "target_shard": "shard_2"}))
        .collect();
    let plan = json!({"kind": "list", "moves": moves, "requested_by": ADMIN,
                      "max_concurrent": 1, "stop_on_failure": true});
    let id = start(&app, plan).await;
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed_with_failures", "{ended}");
    assert_eq!(ended["moves"]["failed"], 1, "{ended}");
    assert_eq!(ended["moves"]["cancelled"], 2, "{ended}");
    assert!(ended["items"][0]["reason"].as_str().is_some(), "{ended}");

    crate::helpers::delete_rows(&app.env, 1, "shard_2").await;
    let (status, body) = command(&app, id, "retry").await;
    assert_eq!(status, 202, "{body}");
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    for website in 1..=3 {
        assert_eq!(app.env.registry(website).await.as_deref(), Some("shard_2"));
    }
    let (status, body) = command(&app, id, "retry").await;
    assert_eq!((status.as_u16(), error_code(&body)), (409, "cannot_retry"));
}

#[tokio::test]
async fn bad_plans_are_refused_with_a_code_and_never_a_500() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 20).await;
    for (plan, status, code) in [
        (
            json!({"kind": "drain", "shard": "shard_9", "requested_by": ADMIN}),
            404,
            "unknown_shard",
        ),
        (
            json!({"kind": "balance", "by": "rows", "threshold": 0, "requested_by": ADMIN}),
            422,
            "invalid_plan",
        ),
        (
            json!({"kind": "drain", "shard": "shard_1", "requested_by": "not-an-email"}),
            422,
            "invalid_requested_by",
        ),
        (
            json!({"kind": "drain", "shard": "shard_1", "requested_by": ADMIN, "window": "25:00-01:00"}),
            422,
            "invalid_plan",
        ),
        (
            json!({"kind": "drain", "shard": "shard_1", "requested_by": ADMIN, "max_concurrent": 0}),
            422,
            "invalid_plan",
        ),
        (
            json!({"kind": "shuffle", "requested_by": ADMIN}),
            400,
            "bad_request",
        ),
        (
            json!({"kind": "drain", "shard": "shard_2", "requested_by": ADMIN, "confirmation_token": "x"}),
            409,
            "plan_changed",
        ),
    ] {
        let (got, body) = app.post("/api/v1/rebalances", plan.clone()).await;
        assert_eq!(
            (got.as_u16(), error_code(&body)),
            (status, code),
            "{plan}: {body}"
        );
    }
    // An empty plan previews, but there is nothing to start.
    let plan = json!({"kind": "drain", "shard": "shard_2", "requested_by": ADMIN});
    let (_, preview) = app.post("/api/v1/rebalances", plan.clone()).await;
    assert_eq!(preview["moves"], json!([]), "{preview}");
    let mut confirmed = plan;
    confirmed["confirmation_token"] = preview["confirmation_token"].clone();
    let (got, body) = app.post("/api/v1/rebalances", confirmed).await;
    assert_eq!((got.as_u16(), error_code(&body)), (422, "nothing_to_move"));
    let (got, body) = app.get("/api/v1/rebalances/999").await;
    assert_eq!(
        (got.as_u16(), error_code(&body)),
        (404, "unknown_rebalance")
    );
    let (got, body) = command(&app, 999, "pause").await;
    assert_eq!(
        (got.as_u16(), error_code(&body)),
        (404, "unknown_rebalance")
    );
}

/// Waits (at most 10 s) until the plan has started that website's move. Started
/// means no longer waiting: the queue drain that ends one move may run the next
/// to its end before this looks.
async fn until_started(app: &TestApp, id: i64, website: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body = view(app, id).await;
        let items = body["items"].as_array().unwrap();
        if items
            .iter()
            .any(|i| i["website_id"] == website && i["state"] != "waiting")
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "website {website} never started: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_driver_starts_the_next_move_when_one_ends_not_at_its_next_poll() {
    // A poll a minute apart: only the control database's notifications can wake it in time.
    let app = crate::app::spawn_app_with(|s| s.shard_ops.rebalance_step_ms = 60_000).await;
    for website in 1..=2 {
        app.env.seed(website, "shard_1", 30).await;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let driver = tokio::spawn(shardmover::rebalance::driver::run(
        app.mover.clone(),
        "woken".into(),
        stopped,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // listening
    let id = start_one_at_a_time(&app, 2).await;
    until_started(&app, id, 1).await; // woken by the plan's insert
    app.drain_queue().await;
    until_started(&app, id, 2).await; // woken by move 1's end
    stop.send(true).unwrap();
    driver.await.unwrap();
}

#[tokio::test]
async fn a_step_cut_short_after_requesting_a_move_adopts_that_move_when_taken_again() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 30).await;
    let id = start_one_at_a_time(&app, 1).await;
    // The window a crash could leave: the step's request committed (same key,
    // same request as a step makes), its own record of it did not.
    let request = shardmover::domain::MoveRequest {
        website: crate::helpers::website(1),
        target: crate::helpers::shard("shard_2"),
        keep_source: false,
        batch_rows: None,
        requested_by: shardmover::ids::EmailAddress::parse(ADMIN).ok(),
        notes: Some(format!("rebalance {id}")),
        mode: Default::default(),
    };
    let (request_id, key) = (format!("rebalance-{id}"), format!("rebalance-{id}-1-1"));
    let origin = shardmover::moves::Origin {
        request_id: &request_id,
        idempotency_key: Some(&key),
    };
    let orphan = shardmover::moves::request(&app.mover, &request, origin)
        .await
        .unwrap();
    assert_eq!(view(&app, id).await["moves"]["waiting"], 1);

    step(&app).await;
    let body = view(&app, id).await;
    assert_eq!(body["items"][0]["migration_id"], orphan.id.get(), "{body}");
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let moves: i64 = sqlx::query_scalar("SELECT count(*) FROM shardmover.migrations")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    assert_eq!(moves, 1, "the website was moved once");
}
