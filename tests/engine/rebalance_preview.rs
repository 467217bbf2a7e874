//! What a plan's preview estimates: each move at its shard pair's rate, from
//! that pair's completed moves, else the fleet's, else the default; and loads
//! before and after that rest on the shards' catalogue for the websites a plan
//! does not move, which it says with `loads_estimated`.

use serde_json::{Value, json};

use crate::app::{TestApp, spawn_app};

const ADMIN: &str = "ops@example.com";

async fn preview(app: &TestApp, plan: Value) -> Value {
    let (status, body) = app.post("/api/v1/rebalances", plan).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn drain_shard_1(app: &TestApp) -> Value {
    preview(
        app,
        json!({"kind": "drain", "shard": "shard_1", "requested_by": ADMIN}),
    )
    .await
}

/// Records `count` completed moves from `source` to `target`, each of `rows`
/// rows taking `secs`, finished `days_ago` days ago (a history, with known durations).
async fn history(
    app: &TestApp,
    pair: (&str, &str),
    count: i64,
    rows: i64,
    secs: f64,
    days_ago: i64,
) {
    sqlx::query(
        "INSERT INTO shardmover.migrations
             (website_id, source_shard, target_shard, status, phase, batch_rows, rows_total,
              started_at, finished_at)
         SELECT 100000 + g, $1, $2, 'completed', 'done', 1000, $4,
                now() - make_interval(days => $6::int) - make_interval(secs => $5),
                now() - make_interval(days => $6::int)
           FROM generate_series(1, $3) g",
    )
    .bind(pair.0)
    .bind(pair.1)
    .bind(count)
    .bind(rows)
    .bind(secs)
    .bind(days_ago)
    .execute(&app.env.control)
    .await
    .unwrap();
}

#[tokio::test]
async fn with_no_move_measured_every_move_is_estimated_at_the_default_rate() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 100).await;
    let body = drain_shard_1(&app).await;
    let moves = body["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{body}");
    assert_eq!(moves[0]["rate_from"], "default", "{body}");
    let rows = moves[0]["rows"].as_f64().unwrap();
    let secs = ((2.0 + rows / 50_000.0) * 10.0).round() / 10.0;
    assert_eq!(moves[0]["estimated_secs"].as_f64(), Some(secs), "{body}");
    let expected = json!([{"source_shard": "shard_1", "target_shard": "shard_2",
        "rate": {"fixed_secs": 2.0, "rows_per_sec": 50000.0, "measured_moves": 0},
        "rate_from": "default"}]);
    assert_eq!(body["pair_rates"], expected, "{body}");
}

#[tokio::test]
async fn a_pair_without_moves_is_estimated_at_the_fleets_rate_and_one_with_moves_at_its_own() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 100).await;
    app.env.seed(2, "shard_1", 20_000).await;
    app.env.seed(3, "shard_2", 50).await;
    // A real move, shard_2 -> shard_1: the fleet has measured one move, shard_1 -> shard_2 none.
    let asked = json!({"website_id": 3, "target_shard": "shard_1", "requested_by": ADMIN});
    let (status, body) = app.post("/api/v1/migrations", asked).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(app.drain_queue().await, 1);
    let body = drain_shard_1(&app).await;
    assert_eq!(body["rate"]["measured_moves"], 1, "{body}");
    let moves = body["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 3, "{body}");
    assert!(moves.iter().all(|m| m["rate_from"] == "fleet"), "{body}");
    assert_eq!(body["pair_rates"][0]["rate_from"], "fleet", "{body}");
    assert_eq!(body["pair_rates"][0]["rate"], body["rate"], "{body}");

    // shard_1 -> shard_2 gains a history: 50 recent moves (small ones of 1.5 s,
    // large ones of 40,000 rows in 1.5 + 2 s) and, older, 60 slow ones that
    // only a window wider than the last 50 would see.
    history(&app, ("shard_1", "shard_2"), 60, 100, 30.0, 9).await;
    history(&app, ("shard_1", "shard_2"), 30, 100, 1.5, 1).await;
    history(&app, ("shard_1", "shard_2"), 20, 40_000, 3.5, 1).await;
    let body = drain_shard_1(&app).await;
    let pair = &body["pair_rates"][0];
    assert_eq!(pair["rate_from"], "pair", "{body}");
    assert_eq!(
        pair["rate"],
        json!({"fixed_secs": 1.5, "rows_per_sec": 20000.0, "measured_moves": 50}),
        "{body}"
    );
    for m in body["moves"].as_array().unwrap() {
        assert_eq!(m["rate_from"], "pair", "{body}");
        let secs = ((1.5 + m["rows"].as_f64().unwrap() / 20_000.0) * 10.0).round() / 10.0;
        assert_eq!(m["estimated_secs"].as_f64(), Some(secs), "{body}");
    }
    // The fleet's own rate is its last 50 moves, whichever pair: the same 50 here.
    assert_eq!(body["rate"]["measured_moves"], 50, "{body}");
}

#[tokio::test]
async fn a_drain_measures_only_the_drained_shard_and_says_the_others_load_is_estimated() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 300).await;
    app.env.seed(2, "shard_2", 500).await;
    app.env.seed(3, "shard_2", 700).await;
    sqlx::query("ANALYZE")
        .execute(&app.env.shard_2)
        .await
        .unwrap();
    let balance = json!({"kind": "balance", "by": "rows", "threshold": 0.5, "requested_by": ADMIN});
    let exact = preview(&app, balance).await;
    assert_eq!(exact["loads_estimated"], false, "{exact}");
    let drain = drain_shard_1(&app).await;
    assert_eq!(drain["loads_estimated"], true, "{drain}");
    // The drained shard and the move are measured, exactly as a full sizing has them.
    assert_eq!(drain["before"][0], exact["before"][0], "{drain}");
    let moved = &drain["moves"][0];
    assert_eq!(moved["rows"], exact["before"][0]["rows"], "{drain}");
    // shard_2 is estimated from its catalogue: analyzed, its row estimate is its rows.
    let estimated = &drain["before"][1];
    assert_eq!(estimated["websites"], 2, "{drain}");
    assert_eq!(estimated["rows"], exact["before"][1]["rows"], "{drain}");
    assert!(estimated["bytes"].as_i64() > Some(0), "{drain}");
    let after = drain["after"][1]["rows"].as_i64().unwrap();
    let sum = estimated["rows"].as_i64().unwrap() + moved["rows"].as_i64().unwrap();
    assert_eq!(after, sum, "{drain}");
}

#[tokio::test]
async fn the_openapi_document_describes_rate_from_pair_rates_and_loads_estimated() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let schemas = &doc["components"]["schemas"];
    let preview = &schemas["Preview"]["properties"];
    assert_eq!(preview["loads_estimated"]["type"], "boolean", "{preview}");
    assert!(preview["pair_rates"].is_object(), "{preview}");
    let pair = &schemas["PairRate"]["properties"];
    assert!(
        pair["rate_from"].is_object() && pair["rate"].is_object(),
        "{pair}"
    );
    assert!(schemas["PreviewMove"]["properties"]["rate_from"].is_object());
    assert_eq!(
        schemas["RateFrom"]["enum"],
        json!(["pair", "fleet", "default"]),
        "{}",
        schemas["RateFrom"]
    );
}
