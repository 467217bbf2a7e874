//! A recorded freeze, shown everywhere outside the engine. The freeze and
//! catch-up columns are written into the control database as an online move
//! would leave them (so the lengths are exact, one of them over budget), and
//! then read through the API, the CLI, `/metrics`, the move's page and its notice.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shardmover::control::migrations;
use shardmover::domain::Status;
use shardmover::ids::MoveId;

use crate::app::{TOKEN, TestApp, spawn_app};
use crate::helpers::shardmover_cli;
use crate::metrics::{parse_prometheus, value};
use crate::operator::Operator;

/// Moves website `id` to shard_2 to its end, then records a freeze of `ms`
/// milliseconds in which `drained` changes were replayed.
async fn moved_with_freeze(app: &TestApp, website: i64, ms: i64, drained: i64) -> i64 {
    app.env.seed(website, "shard_1", 80).await;
    let body = json!({"website_id": website, "target_shard": "shard_2", "requested_by": "ops@example.com"});
    let (status, created) = app.post("/api/v1/migrations", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    app.drain_queue().await;
    let id = created["id"].as_i64().unwrap();
    sqlx::query(
        "UPDATE shardmover.migrations
            SET freeze_started_at = finished_at - interval '3 s',
                freeze_ended_at = finished_at - interval '3 s' + make_interval(secs => $2 / 1000.0),
                freeze_changes = $3, changes_applied = 4321, changes_waiting = 0, catch_up_rate = 950.4
          WHERE id = $1 AND status = 'completed'",
    )
    .bind(id)
    .bind(ms as f64)
    .bind(drained)
    .execute(&app.env.control)
    .await
    .unwrap();
    // Its one freeze as kept for /metrics, likewise.
    sqlx::query(
        "UPDATE shardmover.freezes f SET started_at = m.freeze_started_at,
                ended_at = m.freeze_ended_at, changes_drained = m.freeze_changes
           FROM shardmover.migrations m WHERE m.id = f.migration_id AND m.id = $1",
    )
    .bind(id)
    .execute(&app.env.control)
    .await
    .unwrap();
    id
}

/// A move caught mid catch-up: `waiting` changes behind, replaying at 400/s.
async fn catching_up(app: &TestApp, website: i64, waiting: i64) -> i64 {
    app.env.seed(website, "shard_1", 10).await;
    let record = crate::app::request_move(&app.mover, website, "shard_2")
        .await
        .unwrap();
    sqlx::query(
        "UPDATE shardmover.migrations SET status = 'in_progress', phase = 'catching_up',
                started_at = now(), changes_applied = 1000, changes_waiting = $2, catch_up_rate = 400
          WHERE id = $1",
    )
    .bind(record.id.get())
    .bind(waiting)
    .execute(&app.env.control)
    .await
    .unwrap();
    record.id.get()
}

async fn scrape(app: &TestApp) -> std::collections::BTreeMap<String, f64> {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    parse_prometheus(&response.text().await.unwrap())
}

#[tokio::test]
async fn a_recorded_freeze_and_backlog_show_in_the_api_metrics_and_cli() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(
        value(&before, "shardmover_move_freeze_seconds_count{}"),
        0.0
    );
    assert_eq!(value(&before, "shardmover_move_changes_waiting{}"), 0.0);

    let long = moved_with_freeze(&app, 7, 1234, 17).await;
    moved_with_freeze(&app, 8, 80, 3).await;
    let running = catching_up(&app, 9, 250).await;

    let (_, shown) = app.get(&format!("/api/v1/migrations/{long}")).await;
    assert_eq!(shown["mode"], "online");
    let freeze = &shown["freeze"];
    assert_eq!(freeze["duration_ms"], 1234, "{shown}");
    assert_eq!(freeze["changes_drained"], 17);
    assert_eq!(freeze["budget_ms"], 1000, "engine.freeze_budget_ms");
    assert!(freeze["started_at"].is_string() && freeze["ended_at"].is_string());
    assert_eq!(shown["progress"]["changes_applied"], 4321);
    assert_eq!(shown["progress"]["catch_up_rate"], 950.4);
    let (_, behind) = app.get(&format!("/api/v1/migrations/{running}")).await;
    assert_eq!(behind["phase"], "catching_up");
    assert_eq!(behind["progress"]["changes_waiting"], 250);
    assert!(behind["freeze"].is_null(), "{behind}");

    let after = scrape(&app).await;
    let bucket = |le: &str| {
        value(
            &after,
            &format!("shardmover_move_freeze_seconds_bucket{{le={le}}}"),
        )
    };
    let counts: Vec<f64> = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
        .iter()
        .map(|le| bucket(le))
        .collect();
    assert_eq!(counts, [0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
    assert_eq!(value(&after, "shardmover_move_freeze_seconds_count{}"), 2.0);
    let sum = value(&after, "shardmover_move_freeze_seconds_sum{}");
    assert!((sum - 1.314).abs() < 1e-6, "{sum}");
    assert_eq!(value(&after, "shardmover_move_changes_waiting{}"), 250.0);
    // The 1234 ms freeze overran the 1 s budget; the 80 ms one did not.
    assert_eq!(
        value(&after, "shardmover_move_freezes_over_budget_total{}"),
        1.0
    );
    assert_eq!(value(&after, "shardmover_freeze_budget_seconds{}"), 1.0);

    let (ok, text, stderr) =
        shardmover_cli(&app.env, &["status", "--migration", &long.to_string()]);
    assert!(ok, "{stderr}");
    assert!(text.contains("mode: online"), "{text}");
    assert!(
        text.contains("freeze: writes refused for 1234 ms; 17 changes drained in it"),
        "{text}"
    );
    let (ok, text, _) = shardmover_cli(&app.env, &["status", "--migration", &running.to_string()]);
    assert!(ok);
    assert!(
        text.contains("catch-up: 1000 changes replayed, 250 waiting, 400 changes/s"),
        "{text}"
    );
    let (ok, json, _) = shardmover_cli(
        &app.env,
        &["status", "--migration", &long.to_string(), "--json"],
    );
    assert!(ok);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["mode"], "online");
    assert_eq!(json["freeze"]["duration_ms"], 1234, "{json}");
    assert_eq!(json["freeze"]["changes_drained"], 17);
    assert_eq!(json["changes_applied"], 4321);
}

#[tokio::test]
async fn the_move_page_and_the_notice_show_the_freeze_and_the_backlog() {
    let app = spawn_app().await;
    let long = moved_with_freeze(&app, 7, 1234, 17).await;
    let running = catching_up(&app, 9, 250).await;
    let operator = Operator::sign_in(&app).await;

    let page = operator.get(&format!("/ui/moves/{long}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<strong>Online</strong> move"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Writes paused for <strong>1234 ms</strong> (the freeze, <strong>over its 1000 ms budget</strong>); 17 changes drained in it."),
        "{}",
        page.body
    );
    let live = operator.get(&format!("/ui/moves/{running}/live")).await;
    assert!(
        live.body
            .contains(r#"<strong id="backlog">250</strong> waiting at 400 changes/s"#),
        "{}",
        live.body
    );
    assert!(!live.body.contains("id=\"freeze\""), "no freeze yet");
    // The freeze lasts through verify until the cutover: shown as going on.
    sqlx::query("UPDATE shardmover.migrations SET phase = 'verifying', freeze_started_at = now() WHERE id = $1")
        .bind(running)
        .execute(&app.env.control)
        .await
        .unwrap();
    let live = operator.get(&format!("/ui/moves/{running}/live")).await;
    assert!(
        live.body.contains("Writes refused since")
            && live
                .body
                .contains("until the cutover switches the registry"),
        "{}",
        live.body
    );
    let (_, frozen) = app.get(&format!("/api/v1/migrations/{running}")).await;
    assert!(frozen["freeze"]["started_at"].is_string(), "{frozen}");
    assert!(frozen["freeze"]["duration_ms"].is_null());

    let mut conn = app.env.control.acquire().await.unwrap();
    let record = migrations::find(&mut conn, MoveId::from(long))
        .await
        .unwrap()
        .unwrap();
    let notice =
        shardmover::mail::Notice::new(&record, Status::Completed, &[], "https://moves.example.com");
    let from: lettre::message::Mailbox = "shardmover <noreply@example.com>".parse().unwrap();
    let to = [shardmover::ids::EmailAddress::parse("ops@example.com").unwrap()];
    let message = shardmover::mail::compose(&notice, &from, &to, "<m@example.com>").unwrap();
    let raw = String::from_utf8(message.formatted()).unwrap();
    let unfolded = raw.replace("=\r\n", "").replace("\r\n", "\n");
    assert!(
        unfolded.contains("paused for 1.2 s only, in the final freeze of this online move; 17 changes made during the move were drained in it"),
        "{raw}"
    );
}
