//! The dashboard's guards at its edges: token guessing at sign-in is
//! throttled, the cookie is `Secure` whenever the public URL is https, and
//! `SHARD_ADMIN_ENABLED=false` closes the actions as well as the pages.

use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};

use crate::app::{TOKEN, spawn_app, spawn_app_with};
use crate::operator::{Operator, client, form};

async fn sign_in(address: &str, token: &str, proto: &str) -> reqwest::Response {
    client()
        .post(format!("{address}/ui/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", proto)
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sixth_wrong_token_within_a_minute_is_answered_429_with_retry_after_and_so_is_the_right_one()
 {
    let app = spawn_app().await;
    // Right tokens count nothing, however many.
    for _ in 0..8 {
        let right = sign_in(&app.address, TOKEN, "http").await;
        assert_eq!(right.status(), StatusCode::SEE_OTHER);
    }
    for attempt in 1..=5 {
        let wrong = sign_in(&app.address, "guess", "http").await;
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    for token in ["guess", TOKEN] {
        let refused = sign_in(&app.address, token, "http").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{token}");
        assert!(refused.headers().get(SET_COOKIE).is_none());
        let retry_after: u64 = refused.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("too many wrong tokens")
        );
    }
}

#[tokio::test]
async fn the_session_cookie_is_secure_whenever_the_public_url_is_https_and_only_over_tls_otherwise()
{
    let https =
        spawn_app_with(|s| s.api.public_url = "https://shardmover.example.com".into()).await;
    let http = spawn_app().await;
    let cookie =
        |response: &reqwest::Response| response.headers()[SET_COOKIE].to_str().unwrap().to_owned();

    let plain_request = sign_in(&https.address, TOKEN, "http").await;
    assert_eq!(plain_request.status(), StatusCode::SEE_OTHER);
    assert!(
        cookie(&plain_request).ends_with("; Secure"),
        "https public URL"
    );

    let plain = sign_in(&http.address, TOKEN, "http").await;
    assert!(!cookie(&plain).contains("Secure"), "http, no TLS");
    let behind_tls = sign_in(&http.address, TOKEN, "https").await;
    assert!(
        cookie(&behind_tls).ends_with("; Secure"),
        "http, TLS at a proxy"
    );
}

#[tokio::test]
async fn with_the_admin_flag_off_every_action_answers_403_and_changes_nothing() {
    let app = spawn_app_with(|s| s.flags.admin = false).await;
    app.env.seed(7, "shard_1", 100).await;
    app.env.seed(8, "shard_1", 100).await;
    let id = app.env.request(&app.env.mover(), 8, "shard_2", 100).await;
    let operator = Operator::sign_in(&app).await;
    // Every page is closed, so the CSRF token comes from the cookie (`<mac>v1.<expires>.<csrf>`).
    let csrf = operator.cookie.split('.').nth(2).unwrap().to_owned();
    let move_form = [
        ("csrf", csrf.as_str()),
        ("target", "shard_2"),
        ("requested_by", "ops@example.com"),
        ("mode", "online"),
        ("ticket", ""),
        ("confirm", "7"),
    ];
    let actions = [
        ("/ui/websites/7/preview".to_owned(), &move_form[..]),
        ("/ui/websites/7/move".to_owned(), &move_form[..]),
        (format!("/ui/moves/{}/cancel", id.get()), &move_form[..1]),
        (format!("/ui/moves/{}/finalize", id.get()), &move_form[..1]),
        ("/ui/rebalances/preview".to_owned(), &move_form[..]),
        ("/ui/rebalances/start".to_owned(), &move_form[..]),
        ("/ui/rebalances/1/pause".to_owned(), &move_form[..]),
    ];
    for (path, fields) in actions {
        let refused = operator.post(&path, fields).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            refused.body
        );
        assert!(
            refused.body.contains("feature_disabled")
                && refused.body.contains("SHARD_ADMIN_ENABLED"),
            "{path}: {}",
            refused.body
        );
    }
    let (moves, cancel_requested): (i64, bool) =
        sqlx::query_as("SELECT count(*), bool_or(cancel_requested) FROM shardmover.migrations")
            .fetch_one(&app.env.control)
            .await
            .unwrap();
    assert_eq!((moves, cancel_requested), (1, false));
}
