//! Where the dashboard used to answer otherwise than the API, it now answers
//! as the API does: the same refusal for a form wrong twice, and a move's
//! progress and freeze budget read from the same view of the move.

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

#[tokio::test]
async fn a_move_page_shows_the_progress_and_the_recorded_freeze_budget_the_api_answers() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 10).await;
    let id = app.env.request(&app.env.mover(), 7, "shard_2", 100).await;
    // Cancelled before it copied anything, after a freeze held to a budget
    // other than the current setting (as a move recorded before a change of it).
    sqlx::query(
        "UPDATE shardmover.migrations
            SET status = 'cancelled', finished_at = now(), freeze_budget_ms = 1234,
                freeze_started_at = now() - interval '3 seconds',
                freeze_ended_at = now() - interval '1 second'
          WHERE id = $1",
    )
    .bind(id.get())
    .execute(&app.env.control)
    .await
    .unwrap();
    let (status, view) = app.get(&format!("/api/v1/migrations/{}", id.get())).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["progress"]["percent"], 100.0);
    assert_eq!(view["freeze"]["budget_ms"], 1234);
    assert_eq!(view["freezes"], json!([]), "no freeze row was kept");

    let operator = Operator::sign_in(&app).await;
    let page = operator.get(&format!("/ui/moves/{}", id.get())).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for shown in [
        "id=\"percent\">100.0%",
        "budget 1234 ms",
        "over its 1234 ms budget",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    let list = operator.get("/ui/moves?status=cancelled").await;
    assert!(list.body.contains("100.0%"), "{}", list.body);
}
