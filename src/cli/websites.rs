//! `shardmover websites show|assign|bulk-assign`: the same code paths as the
//! HTTP API. Bulk assignment always prints its preview first, and executes only
//! once a person at the terminal says yes (`--yes`) or with the token of a
//! preview someone read earlier (`--token`).

use clap::{Args, Subcommand};

use crate::app::App;
use crate::ids::WebsiteId;
use crate::shard_ops::WebsiteView;
use crate::shard_ops::{AssignRequest, BulkPlan, BulkRequest, ShardOps};

#[derive(Debug, Args)]
pub struct WebsitesArgs {
    #[command(subcommand)]
    pub command: WebsitesCommand,
    /// Print JSON (the HTTP API's objects) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who asks, for the audit log.
    #[arg(long, global = true, env = "USER")]
    pub requested_by: Option<String>,
    #[arg(long, global = true)]
    pub notes: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WebsitesCommand {
    /// Where the website lives, its rows there and its history.
    Show { id: WebsiteId },
    /// Put a website that has no rows yet on a shard.
    Assign { id: WebsiteId, shard: String },
    /// Assign many websites without rows to one shard (preview first).
    BulkAssign {
        #[arg(long = "to")]
        target: String,
        #[arg(required = true)]
        ids: Vec<WebsiteId>,
        /// Show the preview, then ask on this terminal whether to execute it.
        #[arg(long, conflicts_with = "token")]
        yes: bool,
        /// Execute a plan previewed earlier, if it is still the same.
        #[arg(long)]
        token: Option<String>,
    },
}

pub async fn run(app: &App, args: WebsitesArgs) -> anyhow::Result<()> {
    let ops = ShardOps::new(app);
    match args.command {
        WebsitesCommand::Show { id } => {
            let w = ops.website(id).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&w)?);
                return Ok(());
            }
            print_website(&w);
        }
        WebsitesCommand::Assign { id, shard } => {
            let request = AssignRequest {
                website: id,
                target: shard,
                requested_by: args.requested_by,
                notes: args.notes,
            };
            let done = ops.assign(&request).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else if done.changed {
                println!("website {} assigned to {}", done.website_id, done.new_shard);
            } else {
                println!(
                    "website {} is already on {}",
                    done.website_id, done.new_shard
                );
            }
        }
        WebsitesCommand::BulkAssign {
            target,
            ids,
            yes,
            token,
        } => {
            let mut request = BulkRequest {
                websites: ids,
                target,
                requested_by: args.requested_by,
                notes: args.notes,
                confirmation_token: token,
            };
            if yes {
                let preview = ops.bulk_assign(&request).await?;
                print_plan(&preview);
                if !confirmed(&preview)? {
                    anyhow::bail!("nothing assigned");
                }
                request.confirmation_token = Some(preview.confirmation_token);
            }
            let plan = ops.bulk_assign(&request).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print_plan(&plan);
            }
        }
    }
    Ok(())
}

/// Asks the person at the terminal; a script must pass `--token` instead.
fn confirmed(preview: &BulkPlan) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "--yes asks on a terminal and there is none; pass --token {} to execute this preview",
            preview.confirmation_token
        );
    }
    print!(
        "assign {} website(s) to {}? [y/N] ",
        preview.to_assign, preview.target_shard
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn print_plan(plan: &BulkPlan) {
    println!(
        "{:>10} {:<16} {:<16} {:<10} reason",
        "website", "from", "to", "action"
    );
    for i in &plan.items {
        println!(
            "{:>10} {:<16} {:<16} {:<10} {}",
            i.website_id,
            i.old_shard.as_deref().unwrap_or("-"),
            i.new_shard,
            i.action,
            i.reason.as_deref().unwrap_or("")
        );
    }
    if plan.executed {
        println!(
            "assigned {} website(s) to {}",
            plan.to_assign, plan.target_shard
        );
    } else {
        println!(
            "preview only: {} to assign, {} refused; to execute it run again with --token {}",
            plan.to_assign, plan.refused, plan.confirmation_token
        );
    }
}

/// A website's shard, rows and shard history, for people.
fn print_website(w: &WebsiteView) {
    let shard = w.shard.as_deref().unwrap_or("(none)");
    println!(
        "website {} on {shard} ({})",
        w.website_id,
        w.location.as_deref().unwrap_or("-")
    );
    match (&w.rows, &w.rows_error) {
        (Some(rows), _) if rows.is_empty() => println!("no rows on {shard}"),
        (Some(rows), _) => rows
            .iter()
            .for_each(|t| println!("  {:<32} {:>10}", t.name, t.rows)),
        (None, error) => println!("rows unknown: {}", error.as_deref().unwrap_or("")),
    }
    for e in &w.history {
        println!(
            "  {} {} -> {} {} {}",
            e.created_at.format("%Y-%m-%d %H:%M:%S"),
            e.old_shard_name.as_deref().unwrap_or("-"),
            e.new_shard_name,
            e.status,
            e.migration_id
                .map_or("assignment".into(), |m| format!("move {m}"))
        );
    }
}
