//! The dashboard over plain HTTP: sessions, CSRF, flags, errors in the page,
//! and no page that shows a password. The browser test drives the same pages.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::app::{TOKEN, add_shard, closed_port, spawn_app, spawn_app_with};
use crate::operator::{Operator, client, form, read, ticket_of};

#[tokio::test]
async fn a_page_without_a_session_or_with_a_forged_cookie_is_refused() {
    let app = spawn_app().await;
    let anonymous = client();
    let page = read(anonymous.get(format!("{}/ui/moves", app.address))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/ui/sign-in?next=%2Fui%2Fmoves")
    );
    let live = read(anonymous.get(format!("{}/ui/moves/1/live", app.address))).await;
    assert_eq!(live.status, StatusCode::UNAUTHORIZED);
    assert!(live.body.contains("unauthorized"), "{}", live.body);
    let root = read(anonymous.get(format!("{}/", app.address))).await;
    assert_eq!(root.location.as_deref(), Some("/ui"));
    // The sign-in page and its assets are open; assets are cached, pages never.
    let script = anonymous
        .get(format!("{}/ui/static/dashboard.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let sign_in = anonymous
        .get(format!("{}/ui/sign-in", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.headers()["cache-control"], "no-store");
    let policy = sign_in.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));

    let operator = Operator::sign_in(&app).await;
    assert_eq!(operator.get("/ui/moves").await.status, StatusCode::OK);
    let (name, value) = operator.cookie.split_once('=').unwrap();
    let forged = format!("{name}={}", value.replacen("v1.", "v1.9", 1));
    let page = read(
        anonymous
            .get(format!("{}/ui/moves", app.address))
            .header(COOKIE, forged),
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "an altered expiry is no session"
    );

    // Signing out ends the session itself, not only the browser's copy of the cookie.
    let csrf = operator.get("/ui/moves").await.csrf();
    let signed_out = operator.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        operator.get("/ui/moves").await.status,
        StatusCode::SEE_OTHER
    );
    let again = Operator::sign_in(&app).await;
    assert_eq!(again.get("/ui/moves").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_sets_a_strict_httponly_expiring_cookie_secure_behind_tls_and_refuses_a_wrong_token()
 {
    let app = spawn_app().await;
    let sign_in = |token: &str, proto: &str| {
        client()
            .post(format!("{}/ui/sign-in", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-proto", proto.to_owned())
            .body(form(&[("token", token), ("next", "//evil.example/")]))
    };
    let wrong = sign_in("not-the-token", "http").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.text().await.unwrap().contains("wrong token"));

    let right = sign_in(TOKEN, "http").send().await.unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()[LOCATION], "/ui", "never an open redirect");
    let cookie = right.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=28800", "Path=/ui"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure") && !cookie.contains(TOKEN),
        "{cookie}"
    );
    let behind_tls = sign_in(TOKEN, "https").send().await.unwrap();
    assert!(
        behind_tls.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; Secure")
    );
}

#[tokio::test]
async fn a_form_posted_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let operator = Operator::sign_in(&app).await;
    let without = operator
        .post("/ui/shards/shard_2", &shard_change("")[1..])
        .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(
        without.body.contains("csrf_token_invalid"),
        "{}",
        without.body
    );
    let wrong = operator
        .post("/ui/shards/shard_2", &shard_change("0123456789abcdef"))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let cancel = operator.post("/ui/moves/1/cancel", &[]).await;
    assert_eq!(cancel.status, StatusCode::FORBIDDEN);
    let sign_out = operator.post("/ui/sign-out", &[]).await;
    assert_eq!(sign_out.status, StatusCode::FORBIDDEN);
    let shard = operator.get("/ui/shards/shard_2").await;
    assert!(shard.body.contains("status-available"), "unchanged");

    let csrf = shard.csrf();
    let saved = operator
        .post("/ui/shards/shard_2", &shard_change(&csrf))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let shard = operator.get("/ui/shards/shard_2").await;
    assert!(
        shard.body.contains("available → maintenance"),
        "{}",
        shard.body
    );
    assert!(shard.body.contains("ops@example.com"));
}

fn shard_change(csrf: &str) -> Vec<(&str, &str)> {
    vec![
        ("csrf", csrf),
        ("status", "maintenance"),
        ("capacity", ""),
        ("requested_by", "ops@example.com"),
    ]
}

#[tokio::test]
async fn disabled_features_lose_their_controls_and_routes_and_the_allow_list_applies() {
    let app = spawn_app_with(|s| {
        s.flags.migrations = false;
        s.flags.admin_emails = Some(vec!["boss@example.com".into()]);
    })
    .await;
    app.env.seed(7, "shard_1", 300).await;
    let operator = Operator::sign_in(&app).await;
    let website = operator.get("/ui/websites/7").await;
    assert_eq!(website.status, StatusCode::OK);
    assert!(
        !website.body.contains("Move this website") && !website.body.contains("id=\"preview\"")
    );
    let csrf = website.csrf();
    let preview = operator
        .post(
            "/ui/websites/7/preview",
            &[
                ("csrf", &csrf),
                ("target", "shard_2"),
                ("requested_by", "boss@example.com"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::FORBIDDEN);
    assert!(
        preview.body.contains("feature_disabled")
            && preview.body.contains("SHARD_MIGRATIONS_ENABLED")
    );
    let change = operator
        .post(
            "/ui/shards/shard_2",
            &[
                ("csrf", &csrf),
                ("status", "maintenance"),
                ("requested_by", "intern@example.com"),
            ],
        )
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN);
    assert!(
        change.body.contains("requester_not_allowed"),
        "{}",
        change.body
    );
    // A move queued before the flag went off: its page offers no cancel, and
    // the cancel and finalize routes answer 403, changing nothing.
    let id = app.env.request(&app.env.mover(), 7, "shard_2", 100).await;
    let page = operator.get(&format!("/ui/moves/{}", id.get())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"cancel\""), "{}", page.body);
    for action in ["cancel", "finalize"] {
        let refused = operator
            .post(
                &format!("/ui/moves/{}/{action}", id.get()),
                &[("csrf", &page.csrf_or(&csrf))],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{action}");
        assert!(
            refused.body.contains("SHARD_MIGRATIONS_ENABLED"),
            "{action}"
        );
    }
    let cancel_requested: bool =
        sqlx::query_scalar("SELECT cancel_requested FROM shardmover.migrations WHERE id = $1")
            .bind(id.get())
            .fetch_one(&app.env.control)
            .await
            .unwrap();
    assert!(!cancel_requested);

    let closed = spawn_app_with(|s| s.flags.admin = false).await;
    let operator = Operator::sign_in(&closed).await;
    let overview = operator.get("/ui").await;
    assert_eq!(overview.status, StatusCode::FORBIDDEN);
    assert!(overview.body.contains("SHARD_ADMIN_ENABLED"));
}

#[tokio::test]
async fn errors_show_the_api_codes_in_the_page_and_start_needs_a_clean_preview() {
    let app = spawn_app_with(|s| add_shard(s, "shard_3", closed_port())).await;
    app.env.seed(7, "shard_1", 300).await;
    let operator = Operator::sign_in(&app).await;
    for (path, status, code) in [
        ("/ui/moves/999", StatusCode::NOT_FOUND, "unknown_migration"),
        ("/ui/websites/abc", StatusCode::BAD_REQUEST, "bad_request"),
        (
            "/ui/websites/424242",
            StatusCode::NOT_FOUND,
            "unknown_website",
        ),
        ("/ui/shards/nope", StatusCode::NOT_FOUND, "unknown_shard"),
        (
            "/ui/moves?status=lost",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/ui/nowhere", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let page = operator.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(
            page.body.contains(code) && page.body.contains("<html"),
            "{path}: {}",
            page.body
        );
    }
    // An unreachable shard's page still renders, with the reason for the missing statistics.
    let unreachable = operator.get("/ui/shards/shard_3").await;
    assert_eq!(unreachable.status, StatusCode::OK, "{}", unreachable.body);
    assert!(
        unreachable.body.contains("shard_unreachable")
            || unreachable.body.contains("database_unavailable"),
        "{}",
        unreachable.body
    );

    let csrf = operator.get("/ui/websites/7").await.csrf();
    let fields = |target: &'static str| {
        [
            ("target", target),
            ("requested_by", "ops@example.com"),
            ("confirm", "7"),
            ("ticket", ""),
        ]
    };
    let with = |extra: [(&'static str, &'static str); 4]| {
        let mut pairs = vec![("csrf", csrf.as_str())];
        pairs.extend(extra);
        pairs
    };
    let unknown = operator
        .post("/ui/websites/7/preview", &with(fields("shard_9")))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body.contains("unknown_shard"), "{}", unknown.body);
    let same = operator
        .post("/ui/websites/7/preview", &with(fields("shard_1")))
        .await;
    assert_eq!(
        same.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        same.body
    );
    let unpreviewed = operator
        .post("/ui/websites/7/move", &with(fields("shard_2")))
        .await;
    assert_eq!(unpreviewed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unpreviewed.body.contains("preview_required"));

    let preview = operator
        .post("/ui/websites/7/preview", &with(fields("shard_2")))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let ticket = ticket_of(&preview.body);
    let mut start = with(fields("shard_2"));
    start[3] = ("confirm", "8");
    start[4].1 = &ticket;
    let mistyped = operator.post("/ui/websites/7/move", &start).await;
    assert!(
        mistyped.body.contains("confirmation_mismatch"),
        "{}",
        mistyped.body
    );
    start[3] = ("confirm", "7");
    // The preview was of an online move by ops@: starting anything else needs its own.
    for (key, other) in [("mode", "offline"), ("requested_by", "someone@example.com")] {
        let mut changed = start.clone();
        changed.retain(|(k, _)| *k != key);
        changed.push((key, other));
        let refused = operator.post("/ui/websites/7/move", &changed).await;
        assert!(
            refused.body.contains("preview_required"),
            "{key}: {}",
            refused.body
        );
    }
    let started = operator.post("/ui/websites/7/move", &start).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let again = operator.post("/ui/websites/7/move", &start).await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "one active move per website"
    );
    assert!(again.body.contains("move_in_progress"), "{}", again.body);
}

#[tokio::test]
async fn a_pending_cleanup_is_resumed_from_its_page_and_nothing_else_is() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 300).await;
    let queued = crate::app::request_move(&app.mover, 7, "shard_2")
        .await
        .unwrap();
    let id = queued.id.get();
    // Where a cleanup stopped past cutover leaves a move (the engine's tests get there for real).
    sqlx::query("UPDATE shardmover.migrations SET status = 'cleanup_pending', phase = 'cleanup' WHERE id = $1")
        .bind(id)
        .execute(&app.env.control)
        .await
        .unwrap();
    let jobs = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM apalis.jobs")
            .fetch_one(&app.env.control)
            .await
            .unwrap()
    };
    let before = jobs().await;
    let operator = Operator::sign_in(&app).await;
    let page = operator.get(&format!("/ui/moves/{id}")).await;
    assert!(
        page.body.contains("Cut over, cleanup stopped") && page.body.contains("id=\"finalize\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("id=\"cancel\""),
        "past cutover a move cannot be cancelled"
    );
    let path = format!("/ui/moves/{id}/finalize");
    assert_eq!(
        operator.post(&path, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(jobs().await, before, "no CSRF token, no job");
    let resumed = operator.post(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER, "{}", resumed.body);
    assert_eq!(jobs().await, before + 1, "the cleanup's job is queued");

    sqlx::query(
        "UPDATE shardmover.migrations SET status = 'completed', phase = 'done' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.env.control)
    .await
    .unwrap();
    let refused = operator.post(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("cannot_finalize"), "{}", refused.body);
}
