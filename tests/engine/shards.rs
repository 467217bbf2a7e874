//! Shard catalogue, health, statistics, distribution and placement over HTTP,
//! against real databases plus shards that cannot answer.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use shardmover::shard_ops::jump_hash::jump_hash;

use crate::app::{add_shard, black_hole, closed_port, error_code, request_move, spawn_app_with};
use crate::helpers::TABLES;

fn by_name<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["shard"] == name || i["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {items}"))
}

#[tokio::test]
async fn an_unreachable_shard_is_unhealthy_while_the_others_stay_healthy_within_the_probe_timeout()
{
    let app = spawn_app_with(|s| {
        add_shard(s, "hanging", black_hole());
        for more in ["hanging_2", "hanging_3", "hanging_4"] {
            add_shard(s, more, black_hole());
        }
        add_shard(s, "closed", closed_port());
    })
    .await;
    let started = Instant::now();
    let (status, body) = app.get("/api/v1/shards/health?refresh=true").await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    // All shards are probed at once: about one probe timeout (1 s), where one
    // by one the four hanging shards would take at least four.
    assert!(elapsed < Duration::from_millis(3500), "took {elapsed:?}");
    let items = &body["items"];
    for healthy in ["shard_1", "shard_2"] {
        let h = by_name(items, healthy);
        assert_eq!(h["state"], "HEALTHY", "{h}");
        assert_eq!(h["connection_status"], "connected");
        assert!(h["avg_query_ms"].as_f64().unwrap() < 500.0);
        assert!(h["max_connections"].as_i64().unwrap() > 0);
        assert!(h["database_size"].as_i64().unwrap() > 0);
        // pg_stat_statements is not installed in the test databases.
        assert!(h["slow_queries_count"].is_null());
        assert!(
            h["slow_queries_note"]
                .as_str()
                .unwrap()
                .contains("pg_stat_statements")
        );
    }
    let hanging = by_name(items, "hanging");
    assert_eq!(
        (
            hanging["state"].as_str(),
            hanging["connection_status"].as_str()
        ),
        (Some("UNHEALTHY"), Some("timeout"))
    );
    assert!(
        hanging["error_message"]
            .as_str()
            .unwrap()
            .contains("1000 ms")
    );
    assert_eq!(
        hanging["location"].as_str().unwrap().split(':').next(),
        Some("127.0.0.1")
    );
    let closed = by_name(items, "closed");
    assert_eq!(closed["state"], "UNHEALTHY");
    assert_eq!(closed["connection_status"], "error");
    assert!(!closed["error_message"].as_str().unwrap().is_empty());

    // Stored: another process (a second mover on the same control database) sees the same.
    let other = shardmover::shard_ops::ShardOps::new(
        app.env
            .mover_with(|s| {
                add_shard(s, "hanging", 1);
                add_shard(s, "closed", 1);
            })
            .app(),
    )
    .health(false, true)
    .await
    .unwrap();
    let states: Vec<_> = other.values().map(|h| h.report.state.as_str()).collect();
    assert_eq!(states, ["UNHEALTHY", "UNHEALTHY", "HEALTHY", "HEALTHY"]);

    let (status, one) = app.get("/api/v1/shards/hanging/health").await;
    assert_eq!(
        (status, one["state"].as_str()),
        (StatusCode::OK, Some("UNHEALTHY"))
    );
    let (_, list) = app.get("/api/v1/shards").await;
    assert_eq!(
        by_name(&list["items"], "hanging")["accepts_websites"],
        false
    );
    assert_eq!(by_name(&list["items"], "shard_1")["accepts_websites"], true);
}

#[tokio::test]
async fn statistics_and_distribution_match_counts_made_independently() {
    let app = spawn_app_with(|_| {}).await;
    app.env.seed(1, "shard_1", 300).await;
    app.env.seed(2, "shard_1", 200).await;
    app.env.seed(3, "shard_2", 100).await;
    app.register_empty(4, Some("shard_1")).await;

    let (status, stats) = app
        .get("/api/v1/shards/shard_1/statistics?exact=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["estimate"], false);
    assert_eq!(stats["websites"], 3);
    for table in TABLES {
        let expected: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&app.env.shard_1)
                .await
                .unwrap();
        let counted = stats["tenant_tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == format!("public.{table}"))
            .unwrap_or_else(|| panic!("no {table} in {stats}"));
        assert_eq!(counted["rows"], expected, "{table}");
    }
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&app.env.shard_1)
        .await
        .unwrap();
    let reported = stats["database_size"].as_i64().unwrap();
    assert!((reported - size).abs() < size / 10, "{reported} vs {size}");
    assert!(stats["table_count"].as_i64().unwrap() >= 5);
    assert!(stats["index_size"].as_i64().unwrap() > 0);
    let largest = stats["largest_tables"].as_array().unwrap();
    assert!(!largest.is_empty() && largest.len() <= 10);
    let sizes: Vec<i64> = largest
        .iter()
        .map(|t| t["total_bytes"].as_i64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]));

    let (status, d) = app.get("/api/v1/shards/distribution").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["total_websites"], 4);
    assert_eq!(by_name(&d["shards"], "shard_1")["websites"], 3);
    assert_eq!(by_name(&d["shards"], "shard_1")["percent"], 75.0);
    assert_eq!(by_name(&d["shards"], "shard_2")["percent"], 25.0);
    assert_eq!(
        (d["spread"].as_f64(), d["imbalanced"].as_bool()),
        (Some(0.5), Some(true))
    );

    app.register_empty(5, Some("shard_2")).await;
    app.register_empty(6, Some("shard_2")).await;
    let (_, d) = app.get("/api/v1/shards/distribution").await;
    assert_eq!(
        (d["spread"].as_f64(), d["imbalanced"].as_bool()),
        (Some(0.0), Some(false))
    );
}

#[tokio::test]
async fn statistics_give_the_catalogues_estimates_unless_asked_to_count() {
    let app = spawn_app_with(|_| {}).await;
    app.env.seed(1, "shard_1", 300).await;

    let (status, stats) = app.get("/api/v1/shards/shard_1/statistics").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["estimate"], true);
    // Never analyzed: whatever the live-row counter says so far, never negative.
    let rows = |stats: &Value, table: &str| {
        stats["tenant_tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == format!("public.{table}"))
            .unwrap_or_else(|| panic!("no {table} in {stats}"))["rows"]
            .as_i64()
            .unwrap()
    };
    assert!(
        TABLES.iter().all(|table| rows(&stats, table) >= 0),
        "{stats}"
    );

    // ANALYZE reads small tables whole: the estimates are then the counts.
    sqlx::query("ANALYZE")
        .execute(&app.env.shard_1)
        .await
        .unwrap();
    let (_, estimated) = app.get("/api/v1/shards/shard_1/statistics").await;
    let (_, counted) = app
        .get("/api/v1/shards/shard_1/statistics?exact=true")
        .await;
    assert_eq!(counted["estimate"], false);
    for table in TABLES {
        assert_eq!(rows(&estimated, table), rows(&counted, table), "{table}");
    }
    assert!(rows(&counted, "pages") > 0, "{counted}");
}

#[tokio::test]
async fn placement_never_picks_a_full_unavailable_or_unhealthy_shard() {
    let app = spawn_app_with(|s| {
        add_shard(s, "hanging", black_hole());
        s.shards.get_mut("shard_1").unwrap().capacity = Some(1);
    })
    .await;
    app.register_empty(1, Some("shard_1")).await;
    let patch = |status: &str| json!({"status": status, "requested_by": "ops@example.com"});
    let (status, _) = app
        .patch("/api/v1/shards/shard_2", patch("maintenance"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // shard_1 full, shard_2 in maintenance, hanging unhealthy (probed on demand).
    let (status, body) = app.get("/api/v1/shards/recommended?website_id=9").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_shard_available"),
        "{body}"
    );

    app.patch("/api/v1/shards/shard_2", patch("available"))
        .await;
    let (status, body) = app.get("/api/v1/shards/recommended?website_id=9").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["shard"], "shard_2");
    let reasons: Vec<_> = body["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].clone())
        .collect();
    assert_eq!(reasons, [json!("UNHEALTHY"), json!("full"), Value::Null]);

    // Two equally free shards: the jump hash of the website id decides, stably.
    let (_, _) = app
        .patch(
            "/api/v1/shards/shard_1",
            json!({"capacity": null, "requested_by": "ops@example.com"}),
        )
        .await;
    for website in 1..=20_i64 {
        let (_, body) = app
            .get(&format!("/api/v1/shards/recommended?website_id={website}"))
            .await;
        let expected = ["shard_1", "shard_2"][jump_hash(website as u64, 2) as usize];
        assert_eq!(body["shard"], expected, "website {website}");
    }
}

#[tokio::test]
async fn a_status_change_is_audited_and_takes_effect_for_new_moves_at_once() {
    let app = spawn_app_with(|_| {}).await;
    app.env.seed(7, "shard_1", 100).await;
    let (status, shard) = app
        .patch(
            "/api/v1/shards/shard_2",
            json!({"status": "maintenance", "labels": {"region": "eu"}, "requested_by": "ops@example.com", "notes": "upgrade"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shard}");
    assert_eq!(
        (shard["status"].as_str(), shard["labels"]["region"].as_str()),
        (Some("maintenance"), Some("eu"))
    );
    let change = &shard["recent_changes"][0];
    assert_eq!(change["changed_by_email"], "ops@example.com");
    assert_eq!(
        (
            change["before"]["status"].as_str(),
            change["after"]["status"].as_str()
        ),
        (Some("available"), Some("maintenance"))
    );

    let move_body =
        json!({"website_id": 7, "target_shard": "shard_2", "requested_by": "ops@example.com"});
    let (status, body) = app.post("/api/v1/migrations", move_body.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "shard_not_available")
    );
    // Every process reads the catalogue from the control database.
    let other = app.env.mover();
    let refused = request_move(&other, 7, "shard_2").await;
    assert_eq!(refused.unwrap_err().code(), "shard_not_available");

    app.patch(
        "/api/v1/shards/shard_2",
        json!({"status": "available", "capacity": 0, "requested_by": "ops@example.com"}),
    )
    .await;
    let (status, body) = app.post("/api/v1/migrations", move_body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("full"),
        "{body}"
    );

    app.patch(
        "/api/v1/shards/shard_2",
        json!({"capacity": null, "requested_by": "ops@example.com"}),
    )
    .await;
    let (status, body) = app.post("/api/v1/migrations", move_body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let (status, body) = app
        .patch(
            "/api/v1/shards/shard_2",
            json!({"status": "closed", "requested_by": "ops@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .patch(
            "/api/v1/shards/nope",
            json!({"status": "available", "requested_by": "ops@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_describes_the_shard_and_website_routes() {
    let app = spawn_app_with(|_| {}).await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/shards",
        "/api/v1/shards/{name}",
        "/api/v1/shards/health",
        "/api/v1/shards/{name}/statistics",
        "/api/v1/websites/{id}/shard",
        "/api/v1/websites/bulk-assign",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/api/v1/shards/{name}"]["patch"].is_object());
}
