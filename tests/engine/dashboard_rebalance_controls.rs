//! A plan page's controls: pause and cancel need this session's CSRF token
//! and who asks, a refused command is shown on the plan page under its
//! status, and with moves disabled there is no form to plan with.

use reqwest::StatusCode;

use crate::app::{spawn_app, spawn_app_with};
use crate::dashboard_rebalance::{ADMIN, drain, post, started};
use crate::operator::Operator;

#[tokio::test]
async fn pause_and_cancel_need_the_csrf_token_and_a_requester_and_a_refusal_shows_on_the_plan_page()
{
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 40).await;
    let operator = Operator::sign_in(&app).await;
    let plan = started(&operator, "1").await;
    let csrf = operator.get(&plan).await.csrf();
    let pause = format!("{plan}/pause");

    let forged = operator.post(&pause, &[("requested_by", ADMIN)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        forged.body.contains("csrf_token_invalid"),
        "{}",
        forged.body
    );
    let nobody = operator.post(&pause, &[("csrf", &csrf)]).await;
    assert_eq!(
        nobody.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nobody.body
    );
    assert!(
        nobody.body.contains("id=\"plan-controls\""),
        "{}",
        nobody.body
    );
    assert!(
        operator.get(&plan).await.body.contains("status-running"),
        "unchanged"
    );

    let by = [("csrf", csrf.as_str()), ("requested_by", ADMIN)];
    assert_eq!(
        operator.post(&pause, &by).await.status,
        StatusCode::SEE_OTHER
    );
    let paused = operator.get(&format!("{plan}/live")).await.body;
    assert!(
        paused.contains("status-paused") && paused.contains("id=\"plan-resume\""),
        "{paused}"
    );
    assert!(!paused.contains("id=\"plan-pause\""), "{paused}");
    let again = operator.post(&pause, &by).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(
        again.body.contains("cannot_pause") && again.body.contains("data-live"),
        "{}",
        again.body
    );

    let cancelled = operator.post(&format!("{plan}/cancel"), &by).await;
    assert_eq!(
        cancelled.status,
        StatusCode::SEE_OTHER,
        "{}",
        cancelled.body
    );
    shardmover::rebalance::driver::step_all(&app.mover, "test-worker")
        .await
        .unwrap();
    let ended = operator.get(&plan).await.body;
    assert!(
        ended.contains("status-cancelled") && ended.contains("data-final"),
        "{ended}"
    );
    assert!(
        ended.contains("<strong>cancelled</strong> by ops@example.com"),
        "{ended}"
    );
    let unknown = operator.post(&format!("{plan}/shuffle"), &by).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn with_migrations_off_the_form_is_not_drawn_and_preview_answers_403() {
    let app = spawn_app_with(|s| s.flags.migrations = false).await;
    app.env.seed(1, "shard_1", 40).await;
    let operator = Operator::sign_in(&app).await;
    let page = operator.get("/ui/rebalances").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"plan-form\""), "{}", page.body);
    let csrf = page.csrf();
    let refused = post(&operator, "/ui/rebalances/preview", &drain(&csrf)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("SHARD_MIGRATIONS_ENABLED"),
        "{}",
        refused.body
    );
}
