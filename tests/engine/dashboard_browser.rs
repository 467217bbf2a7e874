//! The dashboard in a real headless Chromium driven over WebDriver: sign in,
//! the overview (two healthy shards, one unreachable), search, preview and
//! start a move, watch it progress to `completed` without a reload, cancel
//! another, read the audit log, sign out and be refused. Screenshots of the
//! main pages are written on the way (see `screenshot`). Fleet plans have their
//! own browser test (`dashboard_browser_rebalance`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::Value;
use shardmover::config::Settings;
use shardmover::domain::Phase;
use shardmover::ids::MoveId;
use shardmover::mover::{ProgressSink, Snapshot};

use crate::app::{TOKEN, add_shard, closed_port, request_move, spawn_app_with};
use crate::helpers::{block_on, join_thread, pool};
use crate::webdriver::{Browser, Chromedriver};

/// Slows the copy down so a person (or this test) can watch it.
struct Leisurely;

impl ProgressSink for Leisurely {
    fn update(&self, s: &Snapshot) {
        if s.phase == Phase::Copying {
            std::thread::sleep(Duration::from_millis(120));
        }
    }
}

/// Under the target directory; into `docs/screenshots/` (the README's) with
/// `SHARDMOVER_UPDATE_SCREENSHOTS=1`, so a test run leaves the tree clean.
pub fn screenshot(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = if std::env::var_os("SHARDMOVER_UPDATE_SCREENSHOTS").is_some() {
        root.join("docs/screenshots")
    } else {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("screenshots")
    };
    dir.join(name)
}

/// The text of the first element `css` selects (empty when there is none).
pub async fn read(browser: &Browser, css: &str) -> String {
    let script =
        format!("var e = document.querySelector({css:?}); return e ? e.textContent : null;");
    browser
        .script(&script)
        .await
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn an_operator_signs_in_moves_a_website_watching_it_live_cancels_another_and_signs_out() {
    let Some(driver) = Chromedriver::start().await else {
        eprintln!(
            "SKIPPED: chromedriver is not installed (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    let app = spawn_app_with(|s| {
        add_shard(s, "shard_3", closed_port());
        s.engine.batch_rows = 400;
    })
    .await;
    app.env.seed(7, "shard_1", 12_000).await;
    app.env.seed(8, "shard_1", 300).await;
    let ui = format!("{}/ui", app.address);
    let browser = driver.browser(1280).await;

    // Signing in, and back to where we were going.
    browser.goto(&format!("{ui}/moves")).await;
    assert!(
        browser.url().await.contains("/ui/sign-in"),
        "no session, no page"
    );
    browser.screenshot(&screenshot("sign-in.png")).await;
    browser.find("#token").await.type_text(TOKEN).await;
    browser.find("#sign-in").await.click().await;
    browser.wait_for_text("Requested by", 10).await;
    assert!(browser.url().await.ends_with("/ui/moves"));

    // The overview: two healthy shards, one unreachable, in words.
    browser.goto(&ui).await;
    browser.wait_for_text("Shards", 10).await;
    for (shard, state) in [
        ("shard_1", "HEALTHY"),
        ("shard_2", "HEALTHY"),
        ("shard_3", "UNHEALTHY"),
    ] {
        let health = read(
            &browser,
            &format!("tr[data-shard=\"{shard}\"] td.health .badge"),
        )
        .await;
        assert_eq!(health, state, "{shard}");
    }
    browser.screenshot(&screenshot("overview.png")).await;

    // Search, preview, start.
    browser.find("#search-website").await.type_text("7").await;
    browser.find("form.search button").await.click().await;
    browser.wait_for_text("Move this website", 10).await;
    assert!(browser.text().await.contains("shard_3: not eligible"));
    browser.find("#target-shard_2").await.click().await;
    browser
        .find("#requested-by")
        .await
        .type_text("ops@example.com")
        .await;
    browser
        .find("#notes")
        .await
        .type_text("premium upgrade")
        .await;
    browser.find("#preview").await.click().await;
    browser.wait_for_text("Preflight report: clean", 20).await;
    browser.screenshot(&screenshot("website-preview.png")).await;
    browser.find("#confirm").await.type_text("7").await;
    browser.find("#start").await.click().await;
    browser.wait_for_text("Timeline", 10).await;
    let url = browser.url().await;
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    browser
        .script("window.notReloaded = 'still here'; return true;")
        .await;

    // The move runs (slowly) while the page updates itself.
    let (url, settings) = (
        app.env.settings.database.url.clone(),
        app.mover.settings().clone(),
    );
    let worker = std::thread::spawn(move || block_on(run_move(url, settings, id)));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let percent = read(&browser, "#percent").await;
        if seen.last() != Some(&percent) {
            seen.push(percent);
        }
        let status = read(&browser, ".summary .badge").await;
        if status == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "never completed; saw {seen:?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    join_thread(worker, 60).await;
    let between: Vec<&String> = seen
        .iter()
        .filter(|p| !matches!(p.as_str(), "0%" | "100%" | ""))
        .collect();
    assert!(
        !between.is_empty(),
        "progress never showed between 0 and 100: {seen:?}"
    );
    assert_eq!(
        browser.script("return window.notReloaded;").await,
        Value::from("still here"),
        "the page was reloaded"
    );
    let refreshes = browser
        .script("return window.shardmoverDashboard.refreshes;")
        .await;
    assert!(refreshes.as_i64().unwrap() >= 2, "{refreshes}");
    let page = browser.text().await;
    assert!(
        page.contains("lives on shard_2") && page.contains("yes, checksums match"),
        "{page}"
    );
    for phase in [
        "queued from",
        "preflight from",
        "copying from",
        "verifying from",
        "cutover from",
        "done from",
    ] {
        assert!(page.contains(phase), "the timeline lacks {phase:?}: {page}");
    }
    browser.screenshot(&screenshot("move.png")).await;
    assert_eq!(app.env.registry(7).await.as_deref(), Some("shard_2"));

    // Cancel another move from its page, confirming the dialog.
    let queued = request_move(&app.mover, 8, "shard_2").await.unwrap();
    browser.goto(&format!("{ui}/moves/{}", queued.id)).await;
    browser.find("#cancel").await.click().await;
    browser.accept_alert().await;
    browser
        .wait_for_text("Rolled back before cutover", 10)
        .await;
    assert_eq!(read(&browser, ".summary .badge").await, "cancelled");

    // The audit log shows both.
    browser.goto(&format!("{ui}/audit")).await;
    let audit = browser.wait_for_text("cancelled", 10).await;
    assert!(
        audit.contains("premium upgrade") && audit.contains("completed"),
        "{audit}"
    );
    browser.screenshot(&screenshot("audit.png")).await;
    browser.goto(&format!("{ui}/moves")).await;
    browser.screenshot(&screenshot("moves.png")).await;
    browser.goto(&format!("{ui}/shards/shard_2")).await;
    browser.wait_for_text("Recent probes", 10).await;
    browser.screenshot(&screenshot("shard.png")).await;

    // A form whose CSRF field was removed is refused, in the page.
    browser
        .script("document.querySelector('#shard-form input[name=csrf]').remove(); return true;")
        .await;
    browser
        .find("#shard-requested-by")
        .await
        .type_text("ops@example.com")
        .await;
    browser.find("#shard-form button").await.click().await;
    let refused = browser.wait_for_text("csrf_token_invalid", 10).await;
    assert!(refused.contains("Error 403"), "{refused}");
    browser.goto(&format!("{ui}/shards/shard_2")).await;
    browser.wait_for_text("Recent probes", 10).await;

    // Sign out: the next page is refused.
    browser.find("#sign-out").await.click().await;
    browser.wait_for_text("Sign in", 10).await;
    browser.goto(&ui).await;
    assert!(
        browser.url().await.contains("/ui/sign-in"),
        "signed out, no page"
    );
    browser.quit().await;

    // The phone width reads too.
    let phone = driver.browser(390).await;
    phone.goto(&format!("{ui}/sign-in")).await;
    phone.find("#token").await.type_text(TOKEN).await;
    phone.find("#sign-in").await.click().await;
    phone.wait_for_text("Moves running now", 10).await;
    let overflow = phone
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(
        overflow,
        Value::Bool(true),
        "the page is wider than a phone"
    );
    phone.screenshot(&screenshot("overview-phone.png")).await;
    phone.quit().await;
}

/// Claims the move's queued job and runs it, as a worker would, but slowly.
/// Its own control pool: this runs on another thread's runtime.
async fn run_move(url: SecretString, settings: Settings, id: i64) {
    let control = pool(&url).await;
    sqlx::query(
        "UPDATE apalis.jobs SET status = 'Done' WHERE job_type = $1 AND status = 'Pending'",
    )
    .bind(<shardmover::jobs::MoveJob as shardmover::jobs::Job>::QUEUE)
    .execute(&control)
    .await
    .unwrap();
    let mover = Arc::new(crate::helpers::new_mover(Arc::new(settings), control));
    let outcome = mover.run(MoveId::from(id), &Leisurely).await.unwrap();
    assert_eq!(outcome.record.status.to_string(), "completed");
}
