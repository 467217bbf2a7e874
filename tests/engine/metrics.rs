//! `/metrics` parses as Prometheus text, strictly, and its counters move when a move runs.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use shardmover::mover::Silent;

use crate::app::{TOKEN, spawn_app_with};

/// Series (name + sorted labels) to value. Panics on anything the text format forbids.
pub(crate) fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeMap::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines() {
        assert!(!line.is_empty(), "empty line in the exposition");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name), "bad family name {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(!types.contains_key(name), "family {name} declared twice");
            if let Some(previous) = current.replace(name.to_owned()) {
                finished.insert(previous);
            }
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line}");
        let (series_text, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series_text.split_once('{') {
            Some((name, rest)) => (
                name,
                rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}")),
            ),
            None => (series_text, ""),
        };
        assert!(valid_name(name), "bad metric name in {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert_eq!(
            current.as_deref(),
            Some(family),
            "{line}: sample outside its family's block"
        );
        assert!(!finished.contains(family));
        let mut pairs = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest
                .split_once("=\"")
                .unwrap_or_else(|| panic!("bad labels in {line}"));
            assert!(valid_name(key), "bad label name {key}");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => value.push(chars.next().unwrap().1),
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line}"),
                }
            };
            pairs.push(format!("{key}={value}"));
            rest = after[end + 1..]
                .strip_prefix(',')
                .unwrap_or(&after[end + 1..]);
        }
        pairs.sort();
        let key = format!("{name}{{{}}}", pairs.join(","));
        assert!(
            series.insert(key, value).is_none(),
            "duplicate series in {line}"
        );
    }
    series
}

pub(crate) fn value(series: &BTreeMap<String, f64>, key: &str) -> f64 {
    *series
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {series:?}"))
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_counters_move_when_a_move_runs() {
    let app = spawn_app_with(|_| {}).await;
    let scrape = || async {
        let response = app
            .client
            .get(format!("{}/metrics", app.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        parse_prometheus(&response.text().await.unwrap())
    };
    let unauthorised = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);

    app.get("/api/v1/shards/health?refresh=true").await;
    let before = scrape().await;
    assert_eq!(value(&before, "shardmover_moves_completed_total{}"), 0.0);
    assert_eq!(
        value(
            &before,
            "shardmover_shard_health{shard=shard_1,state=HEALTHY}"
        ),
        1.0
    );
    assert!(
        value(
            &before,
            "shardmover_shard_database_size_bytes{shard=shard_2}"
        ) > 0.0
    );

    app.env.seed(7, "shard_1", 500).await;
    let body = serde_json::json!({"website_id": 7, "target_shard": "shard_2", "requested_by": "ops@example.com"});
    let (status, created) = app.post("/api/v1/migrations", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = shardmover::ids::MoveId::from(created["id"].as_i64().unwrap());
    let queued = scrape().await;
    assert_eq!(value(&queued, "shardmover_moves{status=pending}"), 1.0);
    assert_eq!(
        value(&queued, "shardmover_queue_depth{queue=shardmover::move}"),
        1.0
    );
    assert!(
        value(
            &queued,
            "shardmover_queue_oldest_pending_age_seconds{queue=shardmover::move}"
        ) >= 0.0
    );
    let outcome = app.mover.run(id, &Silent).await.unwrap();
    let rows: i64 = outcome.tables.iter().map(|t| t.rows_copied).sum();

    let after = scrape().await;
    assert_eq!(value(&after, "shardmover_moves_started_total{}"), 1.0);
    assert_eq!(value(&after, "shardmover_moves_completed_total{}"), 1.0);
    assert_eq!(value(&after, "shardmover_moves_failed_total{}"), 0.0);
    assert_eq!(value(&after, "shardmover_rows_copied_total{}"), rows as f64);
    assert_eq!(
        value(
            &after,
            "shardmover_move_duration_seconds_count{status=completed}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "shardmover_move_duration_seconds_bucket{le=+Inf,status=completed}"
        ),
        1.0
    );
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(k, _)| k.starts_with("shardmover_move_duration_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.iter().all(|b| *b <= 1.0));
    assert_eq!(
        value(&after, "shardmover_shard_websites{shard=shard_2}"),
        1.0
    );
    assert_eq!(
        value(&after, "shardmover_shard_websites{shard=shard_1}"),
        0.0
    );
}
