//! A fleet plan in a real headless Chromium: from the overview's *Plan a
//! rebalance* to a drain of shard_1, previewed, confirmed by typing the number
//! of moves, started; on the plan page, paused and resumed with its buttons
//! (which sit in the refreshed region but submit the form above it), then
//! driven as worker processes drive it while the page follows it live to
//! `completed` without a reload.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::app::{TOKEN, spawn_app};
use crate::dashboard_browser::{read, screenshot};
use crate::webdriver::Chromedriver;

const ADMIN: &str = "ops@example.com";

#[tokio::test]
async fn an_operator_plans_a_drain_from_the_overview_pauses_and_resumes_it_and_watches_it_complete()
{
    let Some(driver) = Chromedriver::start().await else {
        eprintln!(
            "SKIPPED: chromedriver is not installed (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    let app = spawn_app().await;
    for website in 1..=3 {
        app.env.seed(website, "shard_1", 200 * website).await;
    }
    let ui = format!("{}/ui", app.address);
    let browser = driver.browser(1280).await;
    browser.goto(&format!("{ui}/sign-in")).await;
    browser.find("#token").await.type_text(TOKEN).await;
    browser.find("#sign-in").await.click().await;
    browser.wait_for_text("Moves running now", 10).await;

    // The overview's distribution box leads to the form.
    browser.find("#plan-rebalance").await.click().await;
    browser.wait_for_text("Plan a rebalance", 10).await;
    browser.find("#kind-drain").await.click().await;
    browser
        .find("#plan-shard option[value=\"shard_1\"]")
        .await
        .click()
        .await;
    browser
        .find("#plan-requested-by")
        .await
        .type_text(ADMIN)
        .await;
    browser.find("#plan-preview").await.click().await;
    let preview = browser
        .wait_for_text("Type the number of moves (3) to confirm", 60)
        .await;
    assert!(
        preview.contains("3 moves") && preview.contains("shard_1 → shard_2"),
        "{preview}"
    );
    browser
        .screenshot(&screenshot("rebalance-preview.png"))
        .await;
    browser.find("#plan-confirm").await.type_text("3").await;
    browser.find("#plan-start").await.click().await;
    browser.wait_for_text("Trail", 10).await;
    let url = browser.url().await;
    assert!(url.contains("/ui/rebalances/"), "{url}");
    assert_eq!(read(&browser, ".summary .badge").await, "running");

    // Pause and resume: the buttons submit the form holding who asks.
    for (button, status) in [("#plan-pause", "paused"), ("#plan-resume", "running")] {
        browser
            .find("#command-requested-by")
            .await
            .type_text(ADMIN)
            .await;
        browser.find(button).await.click().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while read(&browser, ".summary .badge").await != status {
            assert!(Instant::now() < deadline, "{button} never led to {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    browser
        .script("window.notReloaded = 'still here'; return true;")
        .await;

    // Worker processes step the plan and run its moves; the page follows.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        shardmover::rebalance::driver::step_all(&app.mover, "test-worker")
            .await
            .unwrap();
        app.drain_queue().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let counts = read(&browser, "#plan-counts").await;
        if seen.last() != Some(&counts) {
            seen.push(counts);
        }
        if read(&browser, ".summary .badge").await == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "never completed; saw {seen:?}");
    }
    assert!(seen.len() >= 2, "the counts never changed live: {seen:?}");
    assert_eq!(read(&browser, "#plan-percent").await, "100.0%");
    assert!(
        read(&browser, "#plan-counts").await.contains("3 completed"),
        "{seen:?}"
    );
    assert_eq!(
        browser.script("return window.notReloaded;").await,
        Value::from("still here"),
        "the page was reloaded"
    );
    let hidden = "return getComputedStyle(document.getElementById('plan-controls')).display;";
    assert_eq!(
        browser.script(hidden).await,
        Value::from("none"),
        "an ended plan asks no one"
    );
    let page = browser.text().await;
    for part in [
        "paused by ops@example.com",
        "resumed by ops@example.com",
        "completed",
    ] {
        assert!(page.contains(part), "{part}: {page}");
    }
    browser.screenshot(&screenshot("rebalance.png")).await;
    for website in 1..=3 {
        assert_eq!(app.env.registry(website).await.as_deref(), Some("shard_2"));
    }
    browser.quit().await;
}
