//! `migrate`, `finalize`, `status` and `cancel`.

use anyhow::{Context, bail};
use clap::Args;

use super::output::progress_bar::TerminalProgress;
use super::output::report;
use crate::control::audit_logs::AuditFilter;
use crate::domain::{MoveMode, MoveRequest};
use crate::ids::{EmailAddress, MoveId, ShardName, WebsiteId};
use crate::mover::Mover;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The website (tenant key) to move.
    #[arg(long)]
    pub website: WebsiteId,
    /// The shard to move it to.
    #[arg(long = "to", value_parser = super::parse_shard)]
    pub target: ShardName,
    /// Run the preflight checks and print the report; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Leave the source rows (fenced) in place; `finalize` deletes them later.
    #[arg(long)]
    pub keep_source: bool,
    /// Rows per copy chunk (each chunk commits with its checkpoint).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_rows: Option<u32>,
    /// Who asked for the move: recorded and told of its end. Without it the
    /// move's notes record the local user who ran the command.
    #[arg(long, value_parser = parse_requester)]
    pub requested_by: Option<EmailAddress>,
    /// online: writes go on while the website is copied and are refused only
    /// in a short final freeze; offline: writes are refused for the whole move.
    #[arg(long, default_value = "online", value_parser = parse_mode)]
    pub mode: MoveMode,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_requester(text: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(&text.to_lowercase())
}

fn parse_mode(text: &str) -> Result<MoveMode, String> {
    text.parse()
        .map_err(|_| "expected online or offline".to_owned())
}

pub async fn run(mover: &Mover, args: MigrateArgs) -> anyhow::Result<()> {
    if args.dry_run {
        let report = mover.preflight(args.website, &args.target).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            report::print_preflight(&report);
        }
        return Ok(());
    }
    let record = match mover.active_move(args.website).await? {
        Some(active) if active.target == args.target => {
            // A resumed move keeps the mode it was recorded with.
            eprintln!(
                "resuming move {} of website {} (phase {}, mode {})",
                active.id, active.website, active.phase, active.mode
            );
            active
        }
        Some(active) => bail!(
            "website {} has an unfinished move {} to {}; resume it with --to {} or cancel it",
            active.website,
            active.id,
            active.target,
            active.target
        ),
        None => {
            let request = MoveRequest {
                website: args.website,
                target: args.target.clone(),
                keep_source: args.keep_source,
                batch_rows: args.batch_rows,
                requested_by: args.requested_by.clone(),
                notes: match &args.requested_by {
                    Some(_) => None,
                    None => std::env::var("USER")
                        .ok()
                        .map(|user| format!("requested from the CLI by {user}")),
                },
                mode: args.mode,
            };
            mover.request(&request).await?
        }
    };
    let progress = TerminalProgress::new();
    let outcome = mover.run(record.id, &progress).await;
    progress.finish();
    let outcome = outcome
        .with_context(|| format!("move {} of website {} failed", record.id, record.website))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::outcome_json(&outcome))?
        );
    } else {
        report::print_outcome(&outcome);
    }
    Ok(())
}

/// Resumes a pending cleanup, or deletes the source rows a `--keep-source` move kept.
pub async fn finalize(mover: &Mover, website: WebsiteId) -> anyhow::Result<()> {
    let (migration, rows) = mover.finalize(website).await?;
    println!("deleted {rows} source rows of website {website} left by move {migration}");
    Ok(())
}

pub async fn status(mover: &Mover, id: MoveId, json: bool) -> anyhow::Result<()> {
    let outcome = mover.run_report(id).await?;
    let notices = {
        let mut conn = mover.control_pool().acquire().await?;
        crate::control::notifications::list_for_migration(&mut conn, id).await?
    };
    if json {
        let mut body = report::outcome_json(&outcome);
        body["notifications"] = serde_json::to_value(&notices)?;
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        report::print_outcome(&outcome);
        report::print_notices(&notices);
    }
    Ok(())
}

pub async fn cancel(mover: &Mover, id: MoveId) -> anyhow::Result<()> {
    crate::moves::cancel(mover, id).await?;
    println!("move {id} will stop at its next checkpoint and roll back");
    Ok(())
}

pub async fn audit(mover: &Mover, filter: &AuditFilter, json: bool) -> anyhow::Result<()> {
    let entries = mover.audit_log(filter).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!(
        "{:>6} {:>10} {:<12} {:<12} {:<11} {:<24} when",
        "id", "website", "from", "to", "status", "by"
    );
    for e in &entries {
        println!(
            "{:>6} {:>10} {:<12} {:<12} {:<11} {:<24} {}",
            e.id,
            e.website_id,
            e.old_shard_name.as_deref().unwrap_or("-"),
            e.new_shard_name,
            e.status,
            e.changed_by_email.as_deref().unwrap_or("-"),
            e.created_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(())
}
