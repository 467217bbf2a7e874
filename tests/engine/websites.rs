//! Where a website lives, assignment of websites without rows, and bulk
//! assignment with its preview and plan-bound token, over HTTP.

use reqwest::StatusCode;
use serde_json::json;
use shardmover::mover::Silent;

use crate::app::{add_shard, closed_port, error_code, spawn_app_with};
use crate::helpers::shardmover_cli;

fn assign_body(shard: &str) -> serde_json::Value {
    json!({"shard": shard, "requested_by": "ops@example.com", "notes": "new tenant"})
}

#[tokio::test]
async fn assigning_a_website_without_rows_updates_the_registry_and_writes_the_audit_log() {
    let app = spawn_app_with(|_| {}).await;
    app.register_empty(9, None).await;
    let (status, body) = app
        .put("/api/v1/websites/9/shard", assign_body("shard_2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["old_shard"].as_str(), body["changed"].as_bool()),
        (Some("shard_1"), Some(true))
    );
    assert_eq!(app.env.registry(9).await.as_deref(), Some("shard_2"));
    let (_, audit) = app.get("/api/v1/audit-logs?website_id=9").await;
    let entry = &audit["items"][0];
    assert_eq!(entry["id"], body["audit_log_id"]);
    assert_eq!(
        (
            entry["old_shard_name"].as_str(),
            entry["new_shard_name"].as_str(),
            entry["status"].as_str()
        ),
        (Some("shard_1"), Some("shard_2"), Some("completed"))
    );
    assert_eq!(
        (
            entry["changed_by_email"].as_str(),
            entry["migration_id"].is_null()
        ),
        (Some("ops@example.com"), true)
    );

    // Again: nothing to do, nothing written.
    let (status, body) = app
        .put("/api/v1/websites/9/shard", assign_body("shard_2"))
        .await;
    assert_eq!(
        (status, body["changed"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(app.audit_count(9).await, 1);
}

#[tokio::test]
async fn assignment_is_refused_for_websites_with_rows_and_for_unknown_unavailable_or_full_shards() {
    let app = spawn_app_with(|s| s.shards.get_mut("shard_2").unwrap().capacity = Some(1)).await;
    app.env.seed(7, "shard_1", 100).await;
    let (status, body) = app
        .put("/api/v1/websites/7/shard", assign_body("shard_2"))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "website_has_rows")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("POST /api/v1/migrations"),
        "{body}"
    );

    app.register_empty(8, Some("shard_1")).await;
    app.register_empty(10, Some("shard_2")).await;
    let cases = [
        (
            8,
            "shard_9",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_shard",
        ),
        (8, "shard_2", StatusCode::UNPROCESSABLE_ENTITY, "shard_full"),
        (404, "shard_2", StatusCode::NOT_FOUND, "unknown_website"),
    ];
    for (website, shard, expected, code) in cases {
        let (status, body) = app
            .put(
                &format!("/api/v1/websites/{website}/shard"),
                assign_body(shard),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (expected, code),
            "{website} -> {shard}: {body}"
        );
    }
    app.patch(
        "/api/v1/shards/shard_2",
        json!({"status": "decommissioned", "capacity": null, "requested_by": "ops@example.com"}),
    )
    .await;
    let (status, body) = app
        .put("/api/v1/websites/8/shard", assign_body("shard_2"))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "shard_not_available")
    );
    for website in [7, 8] {
        assert_eq!(
            app.audit_count(website).await,
            0,
            "nothing was recorded for {website}"
        );
    }
    assert_eq!(app.env.registry(8).await.as_deref(), Some("shard_1"));
}

#[tokio::test]
async fn bulk_assignment_previews_then_executes_only_with_the_matching_token() {
    let app = spawn_app_with(|_| {}).await;
    for id in [20, 21] {
        app.register_empty(id, Some("shard_1")).await;
    }
    app.env.seed(22, "shard_1", 100).await;
    let body = |ids: &[i64], token: Option<&str>| json!({"website_ids": ids, "target_shard": "shard_2", "requested_by": "ops@example.com", "confirmation_token": token});
    let (status, plan) = app
        .post("/api/v1/websites/bulk-assign", body(&[21, 20, 22], None))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let actions: Vec<_> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["website_id"].as_i64().unwrap(),
                i["old_shard"].as_str().unwrap().to_owned(),
                i["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (20, "shard_1".into(), "assign".into()),
            (21, "shard_1".into(), "assign".into()),
            (22, "shard_1".into(), "refused".into())
        ]
    );
    assert_eq!(plan["executed"], false);
    let token = plan["confirmation_token"].as_str().unwrap().to_owned();
    let (status, refused) = app
        .post(
            "/api/v1/websites/bulk-assign",
            body(&[20, 21, 22], Some(&token)),
        )
        .await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::UNPROCESSABLE_ENTITY, "plan_has_refusals")
    );

    let (_, plan) = app
        .post("/api/v1/websites/bulk-assign", body(&[20, 21], None))
        .await;
    let token = plan["confirmation_token"].as_str().unwrap().to_owned();
    let (status, wrong) = app
        .post(
            "/api/v1/websites/bulk-assign",
            body(&[20, 21], Some("0000")),
        )
        .await;
    assert_eq!(
        (status, error_code(&wrong)),
        (StatusCode::CONFLICT, "plan_changed")
    );
    // The plan changes under the token: website 21 now lives elsewhere.
    sqlx::query("UPDATE pwb_websites SET shard_name = 'shard_2' WHERE id = 21")
        .execute(&app.env.control)
        .await
        .unwrap();
    let (status, stale) = app
        .post(
            "/api/v1/websites/bulk-assign",
            body(&[20, 21], Some(&token)),
        )
        .await;
    assert_eq!(
        (status, error_code(&stale)),
        (StatusCode::CONFLICT, "plan_changed")
    );
    sqlx::query("UPDATE pwb_websites SET shard_name = 'shard_1' WHERE id = 21")
        .execute(&app.env.control)
        .await
        .unwrap();

    let (status, done) = app
        .post(
            "/api/v1/websites/bulk-assign",
            body(&[20, 21], Some(&token)),
        )
        .await;
    assert_eq!(
        (status, done["executed"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{done}"
    );
    for id in [20, 21] {
        assert_eq!(app.env.registry(id).await.as_deref(), Some("shard_2"));
        assert_eq!(app.audit_count(id).await, 1);
    }
    assert_eq!(app.audit_count(22).await, 0);
}

#[tokio::test]
async fn bulk_execution_needs_the_bulk_ops_flag_but_the_preview_does_not() {
    let app = spawn_app_with(|s| s.flags.bulk_ops = false).await;
    app.register_empty(30, Some("shard_1")).await;
    let body = |token: Option<&str>| json!({"website_ids": [30], "target_shard": "shard_2", "requested_by": "ops@example.com", "confirmation_token": token});
    let (status, plan) = app.post("/api/v1/websites/bulk-assign", body(None)).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let token = plan["confirmation_token"].as_str().unwrap();
    let (status, refused) = app
        .post("/api/v1/websites/bulk-assign", body(Some(token)))
        .await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::FORBIDDEN, "feature_disabled")
    );
    assert_eq!(app.env.registry(30).await.as_deref(), Some("shard_1"));
}

#[tokio::test]
async fn a_website_shows_where_it_lives_its_rows_and_its_move_history() {
    let app = spawn_app_with(|_| {}).await;
    app.env.seed(7, "shard_1", 200).await;
    let id = app.env.request(&app.mover, 7, "shard_2", 1000).await;
    app.mover.run(id, &Silent).await.unwrap();
    let (status, w) = app.get("/api/v1/websites/7").await;
    assert_eq!(status, StatusCode::OK, "{w}");
    assert_eq!(w["shard"], "shard_2");
    assert!(w["location"].as_str().unwrap().ends_with("_shard_2"), "{w}");
    let rows: i64 = w["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_i64().unwrap())
        .sum();
    assert_eq!(
        rows,
        crate::helpers::dump(&app.env.shard_2, 7).await.len() as i64
    );
    assert_eq!(w["migrations"][0]["status"], "completed");
    assert_eq!(w["history"][0]["migration_id"], id.get());
    assert!(w["active_migration_id"].is_null());
    let (status, body) = app.get("/api/v1/websites/999").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "unknown_website")
    );
}

#[tokio::test]
async fn the_cli_shows_shards_changes_status_and_bulk_assigns_after_a_preview() {
    let app = spawn_app_with(|_| {}).await;
    let env = &app.env;
    app.register_empty(40, Some("shard_1")).await;
    app.register_empty(41, Some("shard_1")).await;
    env.seed(7, "shard_1", 100).await;

    let (ok, stdout, stderr) = shardmover_cli(env, &["shards", "list"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("shard_1") && stdout.contains("available"),
        "{stdout}"
    );
    assert!(!stdout.contains("postgres@"), "no URL is printed");

    for (flags, estimate) in [(&[][..], true), (&["--exact"][..], false)] {
        let mut args = vec!["shards", "stats", "shard_1", "--json"];
        args.extend(flags);
        let (ok, stdout, stderr) = shardmover_cli(env, &args);
        assert!(ok, "{stderr}");
        let stats: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(stats["estimate"], estimate, "{stdout}");
    }

    let (ok, stdout, stderr) = shardmover_cli(
        env,
        &["shards", "set-status", "shard_2", "maintenance", "--json"],
    );
    assert!(ok, "{stderr}");
    let detail: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        detail["recent_changes"][0]["changed_by_email"],
        "cli@example.com"
    );
    let (ok, _, stderr) = shardmover_cli(env, &["websites", "assign", "40", "shard_2"]);
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "error: shard shard_2 is maintenance and does not accept websites"
    );
    shardmover_cli(env, &["shards", "set-status", "shard_2", "available"]);

    let (ok, _, stderr) = shardmover_cli(env, &["websites", "assign", "7", "shard_2"]);
    assert!(!ok && stderr.lines().count() == 1, "{stderr}");
    assert!(stderr.contains("POST /api/v1/migrations"), "{stderr}");

    let (ok, stdout, stderr) = shardmover_cli(
        env,
        &["websites", "bulk-assign", "--to", "shard_2", "40", "41"],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("preview only: 2 to assign"), "{stdout}");
    assert_eq!(env.registry(40).await.as_deref(), Some("shard_1"));
    let token = stdout
        .split("--token ")
        .nth(1)
        .expect("the preview names its token")
        .trim();
    let bulk = |last: &[&str]| {
        let mut args = vec!["websites", "bulk-assign", "--to", "shard_2", "40", "41"];
        args.extend_from_slice(last);
        shardmover_cli(env, &args)
    };
    // No terminal to ask on: --yes refuses and points at the token.
    let (ok, _, stderr) = bulk(&["--yes"]);
    assert!(!ok && stderr.lines().count() == 1, "{stderr}");
    assert!(stderr.contains(&format!("--token {token}")), "{stderr}");
    assert_eq!(env.registry(40).await.as_deref(), Some("shard_1"));
    let (ok, stdout, stderr) = bulk(&["--token", token]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("assigned 2 website(s) to shard_2"),
        "{stdout}"
    );
    assert_eq!(env.registry(41).await.as_deref(), Some("shard_2"));

    let (ok, stdout, stderr) = shardmover_cli(env, &["shards", "distribution", "--json"]);
    assert!(ok, "{stderr}");
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(d["total_websites"], 3);
}

#[tokio::test]
async fn assignment_to_a_shard_last_probed_unhealthy_is_refused() {
    let app = spawn_app_with(|s| add_shard(s, "closed", closed_port())).await;
    app.register_empty(8, Some("shard_1")).await;
    let (status, _) = app.get("/api/v1/shards/health?refresh=true").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .put("/api/v1/websites/8/shard", assign_body("closed"))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "shard_unhealthy"),
        "{body}"
    );
    assert_eq!(app.env.registry(8).await.as_deref(), Some("shard_1"));
    assert_eq!(app.audit_count(8).await, 0);
}
