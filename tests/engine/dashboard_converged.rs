//! Where the dashboard used to answer otherwise than the API, it now answers
//! as the API does: the same refusal for a form wrong twice.

use reqwest::StatusCode;
use serde_json::json;

use crate::app::{error_code, spawn_app};
use crate::operator::Operator;

#[tokio::test]
async fn a_move_wrong_in_its_requester_and_its_mode_is_refused_for_the_requester_on_both() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 10).await;
    let body = json!({"website_id": 7, "target_shard": "shard_2",
        "requested_by": "nobody", "mode": "sideways"});
    let (status, answer) = app.post("/api/v1/migrations", body).await;
    assert_eq!(
        (status, error_code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_requested_by")
    );
    let operator = Operator::sign_in(&app).await;
    let csrf = operator.get("/ui/websites/7").await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("target", "shard_2"),
        ("requested_by", "nobody"),
        ("mode", "sideways"),
    ];
    let page = operator.post("/ui/websites/7/preview", &fields).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("invalid_requested_by") && !page.body.contains("invalid_mode"),
        "{}",
        page.body
    );
}
