//! `shardmover fences [list|lift]`: which websites each shard refuses writes
//! for, and the manual lift the runbook prescribes for a website fenced where
//! it lives.

use clap::{Args, Subcommand};

use crate::ids::{ShardName, WebsiteId};
use crate::mover::Mover;

#[derive(Debug, Args)]
pub struct FencesArgs {
    #[command(subcommand)]
    pub command: Option<FencesCommand>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum FencesCommand {
    /// Every fence on every configured shard (the default).
    List,
    /// Lift one website's fence on one shard.
    Lift {
        #[arg(long)]
        website: WebsiteId,
        #[arg(long, value_parser = super::parse_shard)]
        shard: ShardName,
        /// Also drop a fence on a shard the website has left (stale writers could then land rows there).
        #[arg(long)]
        stale: bool,
    },
}

pub async fn run(mover: &Mover, args: FencesArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(FencesCommand::List) {
        FencesCommand::List => list(mover, args.json).await,
        FencesCommand::Lift {
            website,
            shard,
            stale,
        } => {
            mover.lift_fence(&shard, website, stale).await?;
            println!("website {website} is no longer fenced on {shard}");
            Ok(())
        }
    }
}

async fn list(mover: &Mover, json: bool) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for name in mover.settings().shards.keys() {
        let shard = ShardName::parse(name).map_err(anyhow::Error::msg)?;
        all.extend(mover.fences_on(&shard).await?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if all.is_empty() {
        println!("no website is fenced on any shard");
    }
    for f in &all {
        let note = if f.fenced_where_it_lives {
            "  FENCED WHERE IT LIVES: see docs/runbook.md"
        } else {
            ""
        };
        println!(
            "{:<16} website {:<10} move {:<8} since {}{note}",
            f.shard,
            f.website_id,
            f.migration_id,
            f.since.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
    Ok(())
}
