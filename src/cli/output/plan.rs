//! How `shardmover rebalance` prints previews and plans: tables for people,
//! the API's JSON with `--json`, and a live bar while a plan runs.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::rebalance::{PairRate, PlanSummary, PlanView, Preview, RateFrom};

pub fn preview(p: &Preview, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
        return Ok(());
    }
    println!(
        "{} plan: {} moves, {} rows, {} bytes; estimated {:.0} s",
        p.kind,
        p.moves.len(),
        p.total_rows,
        p.total_bytes,
        p.estimated_secs
    );
    println!(
        "{:>10}  {:<12} {:<12} {:>12} {:>14} {:>8}  rate",
        "website", "from", "to", "rows", "bytes", "est s"
    );
    for m in &p.moves {
        println!(
            "{:>10}  {:<12} {:<12} {:>12} {:>14} {:>8.1}  {}",
            m.website_id,
            m.source_shard,
            m.target_shard,
            m.rows,
            m.bytes,
            m.estimated_secs,
            m.rate_from.as_str()
        );
    }
    for r in &p.pair_rates {
        println!("rate {}", pair_rate(r));
    }
    for r in &p.refusals {
        let website = r
            .website_id
            .map_or_else(|| "-".to_owned(), |w| w.to_string());
        println!("refused {website}: {}", r.reason);
    }
    let approx = if p.loads_estimated { "~" } else { "" };
    println!(
        "{:<12} {:>16} {:>10} {:>16} {:>16}",
        "shard", "websites before", "after", "rows before", "after"
    );
    for (b, a) in p.before.iter().zip(&p.after) {
        let (rb, ra) = (format!("{approx}{}", b.rows), format!("{approx}{}", a.rows));
        println!(
            "{:<12} {:>16} {:>10} {rb:>16} {ra:>16}",
            b.shard, b.websites, a.websites
        );
    }
    if p.loads_estimated {
        println!("~ estimated: websites that do not move are sized from the shards' catalogue");
    }
    println!("confirmation token: {}", p.confirmation_token);
    Ok(())
}

/// `shard_1 -> shard_2: pair, 12 moves, 1.5 s + 40000 rows/s`.
fn pair_rate(r: &PairRate) -> String {
    let measured = match r.rate_from {
        RateFrom::Default => "no move measured".to_owned(),
        _ => format!("{} moves", r.rate.measured_moves),
    };
    format!(
        "{} -> {}: {}, {measured}, {:.1} s + {:.0} rows/s",
        r.source_shard,
        r.target_shard,
        r.rate_from.as_str(),
        r.rate.fixed_secs,
        r.rate.rows_per_sec
    )
}

pub fn plan(v: &PlanView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    println!("{}", line(&v.summary));
    for m in &v.items {
        let why = m
            .reason
            .as_deref()
            .map(|r| format!("  ({r})"))
            .unwrap_or_default();
        let migration = m
            .migration_id
            .map_or_else(|| "-".to_owned(), |id| id.to_string());
        println!(
            "{:>10}  {:<12} -> {:<12} {:<10} move {:<6} {}/{} rows{why}",
            m.website_id,
            m.source_shard,
            m.target_shard,
            m.state,
            migration,
            m.rows_done,
            m.rows_total
        );
    }
    Ok(())
}

pub fn list(plans: &[PlanSummary], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(plans)?);
        return Ok(());
    }
    for p in plans {
        println!("{}", line(p));
    }
    Ok(())
}

fn line(p: &PlanSummary) -> String {
    let counts: Vec<String> = p.moves.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let waiting = p
        .waiting_for
        .as_deref()
        .map(|w| format!("; waiting: {w}"))
        .unwrap_or_default();
    format!(
        "rebalance {} ({}) {}: {}{waiting}",
        p.id,
        p.kind,
        p.status,
        counts.join(", ")
    )
}

/// A live bar of moves ended out of all, on a terminal; a line every 5 s otherwise.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new() -> Self {
        Self(std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            let style =
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} moves {msg}")
                    .expect("valid template")
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        }))
    }

    pub fn show(&self, p: &PlanSummary) {
        let ended: i64 = ["completed", "failed", "cancelled"]
            .iter()
            .map(|s| p.moves[*s])
            .sum();
        let total: i64 = p.moves.values().sum();
        let msg = match &p.waiting_for {
            Some(w) => format!("{} (waiting: {w})", p.status),
            None => format!("{} {}/{} rows", p.status, p.rows_done, p.rows_total),
        };
        match &self.0 {
            Some(bar) => {
                bar.set_length(total as u64);
                bar.set_position(ended as u64);
                bar.set_message(msg);
            }
            None => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if now.is_multiple_of(5) {
                    eprintln!("{ended}/{total} moves {msg}");
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
