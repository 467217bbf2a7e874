//! Shards come from the deployment's own configuration only: the embedded
//! defaults name none, and a catalogue row whose shard left the configuration
//! is shown as such, never probed and never a placement candidate.

use reqwest::StatusCode;
use shardmover::config::Settings;

use crate::app::spawn_app;

#[test]
fn the_embedded_defaults_define_no_shard() {
    let settings = Settings::load(None).unwrap();
    assert!(settings.shards.is_empty(), "{:?}", settings.shards.keys());
    assert_eq!(settings.tenancy.default_shard, None);
}

#[tokio::test]
async fn a_shard_that_left_the_configuration_is_listed_unconfigured_and_never_chosen() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 10).await;
    sqlx::query("INSERT INTO shardmover.shards (name, status) VALUES ('shard_old', 'available')")
        .execute(&app.env.control)
        .await
        .unwrap();

    let (status, list) = app.get("/api/v1/shards").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list
        .as_array()
        .or_else(|| list["items"].as_array())
        .unwrap();
    let old = items
        .iter()
        .find(|s| s["name"] == "shard_old")
        .expect("listed");
    assert_eq!(old["configured"], false);
    assert_eq!(old["accepts_websites"], false);
    assert!(old["health"].is_null(), "{old}");
    assert!(
        items
            .iter()
            .filter(|s| s["name"] != "shard_old")
            .all(|s| s["configured"] == true)
    );

    let (status, health) = app.get("/api/v1/shards/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert!(
        !health.to_string().contains("shard_old"),
        "probed: {health}"
    );

    let (status, recommended) = app.get("/api/v1/shards/recommended?website_id=7").await;
    assert_eq!(status, StatusCode::OK, "{recommended}");
    assert_ne!(recommended["shard"], "shard_old");
    let candidate = recommended["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["shard"] == "shard_old")
        .expect("shown among the candidates");
    assert_eq!(candidate["eligible"], false);
    assert_eq!(candidate["reason"], "not configured");

    let (status, statistics) = app.get("/api/v1/shards/shard_old/statistics").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{statistics}");

    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(crate::app::TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("shardmover_shard_configured{shard=\"shard_old\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shardmover_shard_configured{shard=\"shard_1\"} 1"),
        "{metrics}"
    );
}
