//! `shardmover shards list|health|stats|distribution|recommend|set-status`:
//! the same shard operations as the HTTP API, as tables or `--json`.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::app::App;
use crate::shard_ops::{
    Distribution, HealthView, Recommendation, RowCounts, ShardDetail, ShardOps, ShardStatistics,
    ShardUpdate, ShardView,
};
use crate::shard_status::ShardStatus;

#[derive(Debug, Args)]
pub struct ShardsArgs {
    #[command(subcommand)]
    pub command: ShardsCommand,
    /// Print JSON (the HTTP API's objects) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ShardsCommand {
    /// Every configured shard: status, capacity, websites, health.
    List,
    /// Health of every shard (stale or missing probes are taken now).
    Health {
        /// Probe every shard now.
        #[arg(long)]
        refresh: bool,
    },
    /// Websites, rows per tenant table, sizes and largest tables of one shard.
    Stats {
        name: String,
        /// Count every tenant table's rows instead of the catalogue's estimates.
        #[arg(long)]
        exact: bool,
    },
    /// Websites per shard and whether they are imbalanced.
    Distribution,
    /// The shard a new website should go to.
    Recommend {
        #[arg(long)]
        website: Option<crate::ids::WebsiteId>,
    },
    /// Change a shard's status (recorded in the shard audit log).
    SetStatus {
        name: String,
        #[arg(value_parser = parse_status)]
        status: ShardStatus,
        #[arg(long, env = "USER")]
        requested_by: Option<String>,
        #[arg(long)]
        notes: Option<String>,
    },
}

fn parse_status(text: &str) -> Result<ShardStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        "one of provisioning, available, at_capacity, maintenance, decommissioned".to_owned()
    })
}

fn print_json(value: &(impl Serialize + ?Sized)) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn run(app: &App, args: ShardsArgs) -> anyhow::Result<()> {
    let ops = ShardOps::new(app);
    let json = args.json;
    match args.command {
        ShardsCommand::List => show(ops.list().await?.as_slice(), json, print_list),
        ShardsCommand::Health { refresh } => {
            let health: Vec<HealthView> = ops.health(refresh, false).await?.into_values().collect();
            show(health.as_slice(), json, print_health)
        }
        ShardsCommand::Stats { name, exact } => {
            let counts = RowCounts::exact_if(exact);
            show(&ops.statistics(&name, counts).await?, json, print_stats)
        }
        ShardsCommand::Distribution => show(&ops.distribution().await?, json, print_distribution),
        ShardsCommand::Recommend { website } => {
            show(&ops.recommend(website).await?, json, print_recommendation)
        }
        ShardsCommand::SetStatus {
            name,
            status,
            requested_by,
            notes,
        } => {
            let update = ShardUpdate {
                status: Some(status),
                ..Default::default()
            };
            let detail = ops
                .update(&name, &update, requested_by.as_deref(), notes.as_deref())
                .await?;
            show(&detail, json, |detail: &ShardDetail| {
                println!("shard {} is now {}", detail.shard.name, detail.shard.status);
            })
        }
    }
}

/// `--json` prints the answer as the API gives it; otherwise `print` lays it out.
fn show<T: Serialize + ?Sized>(
    value: &T,
    json: bool,
    print: impl FnOnce(&T),
) -> anyhow::Result<()> {
    if json {
        return print_json(value);
    }
    print(value);
    Ok(())
}

fn print_list(shards: &[ShardView]) {
    println!(
        "{:<16} {:<15} {:>9} {:>9} {:<10} {:<9} location",
        "shard", "status", "websites", "capacity", "health", "accepts"
    );
    for s in shards {
        println!(
            "{:<16} {:<15} {:>9} {:>9} {:<10} {:<9} {}",
            s.name,
            s.status.as_str(),
            s.websites,
            s.capacity.map_or("-".into(), |c| c.to_string()),
            match &s.health {
                _ if !s.configured => "unconfigured",
                Some(h) => h.report.state.as_str(),
                None => "unknown",
            },
            if s.accepts_websites { "yes" } else { "no" },
            s.location
        );
    }
}

fn print_health(health: &[HealthView]) {
    println!(
        "{:<16} {:<10} {:<10} {:>9} {:>7} {:>12}  error",
        "shard", "state", "connection", "query ms", "conns", "size"
    );
    for h in health {
        let r = &h.report;
        println!(
            "{:<16} {:<10} {:<10} {:>9} {:>7} {:>12}  {}",
            r.shard,
            r.state.as_str(),
            r.connection_status,
            r.avg_query_ms.map_or("-".into(), |ms| format!("{ms:.1}")),
            r.active_connections.map_or("-".into(), |c| c.to_string()),
            r.database_size.map_or("-".into(), human_bytes),
            r.error_message.as_deref().unwrap_or("")
        );
    }
}

fn print_stats(stats: &ShardStatistics) {
    println!("shard {} ({})", stats.shard, stats.location);
    println!(
        "websites {}, database {}, {} tables, indexes {}",
        stats.websites,
        human_bytes(stats.database_size),
        stats.table_count,
        human_bytes(stats.index_size)
    );
    let rows = if stats.estimate {
        "rows (est.)"
    } else {
        "rows"
    };
    println!("{:<32} {:>12}", "tenant table", rows);
    for t in &stats.tenant_tables {
        println!("{:<32} {:>12}", t.name, t.rows);
    }
    println!("{:<32} {:>12}", "largest tables", "size");
    for t in &stats.largest_tables {
        println!("{:<32} {:>12}", t.name, human_bytes(t.total_bytes));
    }
}

fn print_distribution(d: &Distribution) {
    println!(
        "{:<16} {:<15} {:>9} {:>8}",
        "shard", "status", "websites", "percent"
    );
    for s in &d.shards {
        let status = s.status.as_deref().unwrap_or("unconfigured");
        println!(
            "{:<16} {:<15} {:>9} {:>7.1}%",
            s.name, status, s.websites, s.percent
        );
    }
    println!(
        "{} websites; spread {:.2} (threshold {:.2}){}",
        d.total_websites,
        d.spread,
        d.threshold,
        if d.imbalanced { ": IMBALANCED" } else { "" }
    );
}

fn print_recommendation(r: &Recommendation) {
    println!("{} ({})", r.shard, r.location);
    for c in &r.candidates {
        println!(
            "  {:<16} {}",
            c.shard,
            c.reason.as_deref().unwrap_or("eligible")
        );
    }
}

/// Sizes for people: 9.2 MiB rather than 9674087 (`--json` keeps bytes).
fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(9_674_087), "9.2 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
