//! The HTTP API's edges: no token means 401 before anything else is looked at;
//! an Idempotency-Key reused for another request is refused; a shard that is
//! down is named in the 503.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TOKEN, add_shard, closed_port, error_code, spawn_app, spawn_app_with};
use crate::operator::Operator;

#[tokio::test]
async fn an_unauthenticated_request_is_401_whatever_its_body_or_path() {
    let app = spawn_app().await;
    let send = |path: &str, token: Option<&str>| {
        let mut request = app
            .client
            .post(format!("{}{path}", app.address))
            .header("content-type", "application/json")
            .body("{not json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for path in [
        "/api/v1/migrations",
        "/api/v1/no-such-thing",
        "/api/v1/shards/x/y/z",
    ] {
        for token in [None, Some("wrong-token")] {
            let response = send(path, token).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} {token:?}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(error_code(&body), "unauthorized");
        }
    }
    // With the token the same requests reach parsing and routing.
    let malformed = send("/api/v1/migrations", Some(TOKEN)).await.unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let unknown = send("/api/v1/no-such-thing", Some(TOKEN)).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reused_idempotency_key_with_another_body_is_refused_with_422_naming_the_key() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 20).await;
    app.env.seed(8, "shard_1", 20).await;
    let post = |website: i64| {
        app.client
            .post(format!("{}/api/v1/migrations", app.address))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", "req-77")
            .json(&json!({"website_id": website, "target_shard": "shard_2",
                          "requested_by": "ops@example.com"}))
            .send()
    };
    let first = post(7).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let again = post(7).await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::ACCEPTED,
        "the same request is answered again"
    );

    let other = post(8).await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = other.json().await.unwrap();
    assert_eq!(error_code(&body), "idempotency_key_reused");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("req-77"),
        "{body}"
    );
    let moves_of_8: i64 =
        sqlx::query_scalar("SELECT count(*) FROM shardmover.migrations WHERE website_id = 8")
            .fetch_one(&app.env.control)
            .await
            .unwrap();
    assert_eq!(moves_of_8, 0);
}

#[tokio::test]
async fn a_dry_run_towards_a_shard_that_is_down_answers_503_naming_that_shard() {
    let app = spawn_app_with(|s| add_shard(s, "closed", closed_port())).await;
    app.env.seed(7, "shard_1", 20).await;
    let (status, body) = app
        .post(
            "/api/v1/migrations",
            json!({"website_id": 7, "target_shard": "closed",
                   "requested_by": "ops@example.com", "dry_run": true}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "shard_unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("shard closed"), "{message}");
    assert!(!message.contains("control database"), "{message}");

    // The dashboard's preview says the same (its CSRF token from the audit page,
    // which probes no shard: a stored UNHEALTHY probe would refuse it earlier).
    let operator = Operator::sign_in(&app).await;
    let csrf = operator.get("/ui/audit").await.csrf();
    let page = operator
        .post(
            "/ui/websites/7/preview",
            &[
                ("csrf", csrf.as_str()),
                ("target", "closed"),
                ("requested_by", "ops@example.com"),
                ("mode", "online"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("shard_unavailable") && page.body.contains("shard closed"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("control database"), "{}", page.body);
}
