//! Online moves outside the engine: the mode is chosen through the API, the
//! CLI and the dashboard's form, recorded, and refused when unknown. (The
//! recorded freeze's display is in `online_freeze.rs`.)

use reqwest::StatusCode;
use serde_json::json;

use crate::app::{error_code, spawn_app};
use crate::helpers::{TestEnv, shardmover_cli};
use crate::operator::{Operator, Page, ticket_of};

async fn recorded_modes(control: &sqlx::PgPool, website: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT mode FROM shardmover.migrations WHERE website_id = $1 ORDER BY id")
        .bind(website)
        .fetch_all(control)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_api_records_the_mode_asked_for_and_refuses_an_unknown_one_recording_nothing() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 50).await;
    app.env.seed(8, "shard_1", 50).await;
    let body = |website: i64, mode: Option<&str>| {
        let mut body = json!({"website_id": website, "target_shard": "shard_2", "requested_by": "ops@example.com"});
        if let Some(mode) = mode {
            body["mode"] = json!(mode);
        }
        body
    };

    for bad in ["sideways", "Online", ""] {
        let (status, refused) = app.post("/api/v1/migrations", body(7, Some(bad))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(error_code(&refused), "invalid_mode");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("offline")
        );
    }
    let (status, refused) = app
        .post("/api/v1/migrations", json!({"website_id": 7, "target_shard": "shard_2", "requested_by": "ops@example.com", "mode": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(recorded_modes(&app.env.control, 7).await.is_empty());
    assert_eq!(
        app.audit_count(7).await,
        0,
        "a refused mode records nothing"
    );

    let (status, offline) = app
        .post("/api/v1/migrations", body(7, Some("offline")))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{offline}");
    assert_eq!(offline["mode"], "offline");
    assert!(offline["freeze"].is_null(), "{offline}");
    assert_eq!(offline["progress"]["changes_waiting"], 0);
    let (status, online) = app.post("/api/v1/migrations", body(8, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{online}");
    assert_eq!(online["mode"], "online", "online is the default");
    assert_eq!(recorded_modes(&app.env.control, 7).await, ["offline"]);
    assert_eq!(recorded_modes(&app.env.control, 8).await, ["online"]);

    let (_, list) = app.get("/api/v1/migrations").await;
    let modes: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["online", "offline"], "{list}");
    let (_, shown) = app
        .get(&format!("/api/v1/migrations/{}", offline["id"]))
        .await;
    assert_eq!(shown["mode"], "offline");

    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["CreateMigration"]["properties"]["mode"].is_object(),
        "{doc}"
    );
    assert!(schemas["MigrationView"]["properties"]["freeze"].is_object());
    assert!(schemas["FreezeView"]["properties"]["budget_ms"].is_object());
}

#[tokio::test]
async fn the_cli_takes_a_mode_and_says_in_one_line_when_it_is_not_one() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 120).await;
    let move_with = |mode: &str| {
        shardmover_cli(
            &env,
            &[
                "migrate",
                "--website",
                "7",
                "--to",
                "shard_2",
                "--mode",
                mode,
                "--json",
            ],
        )
    };
    let (ok, _, stderr) = move_with("fast");
    assert!(!ok);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("invalid value 'fast' for '--mode")
            && first.contains("expected online or offline"),
        "{stderr}"
    );
    assert!(recorded_modes(&env.control, 7).await.is_empty());

    let (ok, stdout, stderr) = move_with("offline");
    assert!(ok, "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["status"], "completed");
    assert_eq!(result["mode"], "offline");
    assert!(result["freeze"].is_null(), "{result}");
    assert_eq!(recorded_modes(&env.control, 7).await, ["offline"]);
    let id = result["id"].as_i64().unwrap().to_string();
    let (ok, stdout, _) = shardmover_cli(&env, &["status", "--migration", &id]);
    assert!(ok);
    assert!(
        stdout.contains("mode: offline (writes refused for the whole move)"),
        "{stdout}"
    );
}

async fn post(operator: &Operator, path: &str, fields: &[(&str, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    operator.post(path, &pairs).await
}

#[tokio::test]
async fn the_dashboard_form_offers_online_first_and_records_the_mode_chosen() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 60).await;
    let operator = Operator::sign_in(&app).await;
    let page = operator.get("/ui/websites/7").await;
    assert!(
        page.body
            .contains(r#"id="mode-online" value="online" checked"#)
            && page.body.contains(r#"id="mode-offline" value="offline">"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("refused only in a short final freeze"));
    let csrf = page.csrf();
    let fields = |mode: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("target", "shard_2".to_owned()),
            ("requested_by", "ops@example.com".to_owned()),
            ("mode", mode.to_owned()),
        ]
    };

    let bad = post(&operator, "/ui/websites/7/preview", &fields("sideways")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("invalid_mode"), "{}", bad.body);

    let preview = post(&operator, "/ui/websites/7/preview", &fields("offline")).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview
            .body
            .contains(r#"id="mode-offline" value="offline" checked"#)
            && preview
                .body
                .contains(r#"<input type="hidden" name="mode" value="offline">"#),
        "{}",
        preview.body
    );
    let mut start = fields("offline");
    start.push(("ticket", ticket_of(&preview.body)));
    start.push(("confirm", "7".to_owned()));
    let started = post(&operator, "/ui/websites/7/move", &start).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    assert_eq!(recorded_modes(&app.env.control, 7).await, ["offline"]);
    let moved = operator.get(started.location.as_deref().unwrap()).await;
    assert!(
        moved.body.contains("<strong>Offline</strong> move"),
        "{}",
        moved.body
    );
}
