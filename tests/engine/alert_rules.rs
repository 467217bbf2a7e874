//! The alerting rules stay true to what ships: every metric an alert reads is
//! a family `/metrics` exports, and every alert's runbook link names a section
//! of `docs/runbook.md`. (`promtool` checks and unit-tests the rules themselves.)

use std::collections::BTreeSet;

use crate::app::{TOKEN, spawn_app};

const RULES: &str = include_str!("../../deploy/prometheus/shardmover.rules.yml");
const RUNBOOK: &str = include_str!("../../docs/runbook.md");

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("shardmover_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// GitHub's anchor for a heading: lower case, spaces to hyphens, no punctuation.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[tokio::test]
async fn every_alert_reads_an_exported_metric_and_links_a_runbook_section() {
    let app = spawn_app().await;
    let exposition = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let families: BTreeSet<&str> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    let expressions: String = RULES
        .lines()
        .skip_while(|l| !l.contains("groups:"))
        .filter(|l| {
            !l.trim_start().starts_with('#') && !l.contains("annotations") && !l.contains("summary")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let used = metric_names(&expressions);
    assert!(used.len() >= 8, "{used:?}");
    for name in &used {
        // A histogram's series are its family's name plus a suffix.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(f)))
            .unwrap_or(name);
        assert!(
            families.contains(family),
            "an alert reads {name}, which /metrics does not export"
        );
    }

    let sections: BTreeSet<String> = RUNBOOK
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let links: Vec<&str> = RULES
        .lines()
        .filter_map(|l| l.split("docs/runbook.md#").nth(1))
        .map(|l| l.trim_end_matches(['"', '\'']))
        .collect();
    let alerts = RULES
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    assert!(alerts >= 9, "{alerts} alerts");
    assert_eq!(links.len(), alerts, "every alert links the runbook");
    for link in links {
        assert!(
            sections.contains(link),
            "no runbook section #{link} in {sections:?}"
        );
    }
}
