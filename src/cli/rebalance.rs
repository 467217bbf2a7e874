//! `shardmover rebalance plan|start|status|list|pause|resume|cancel|retry`:
//! fleet plans, as the HTTP API makes them. `plan` previews (and prints the
//! confirmation token), `start` takes the same arguments plus `--token`.

use clap::{Args, Subcommand};

use super::output::plan as print;
use crate::app::App;
use crate::rebalance::{self, AddBy, Command, Kind, ListedMove, Measure, PlanOptions, PlanRequest};

#[derive(Debug, Args)]
pub struct RebalanceArgs {
    #[command(subcommand)]
    pub command: RebalanceCommand,
    /// Print JSON (the HTTP API's objects) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RebalanceCommand {
    /// Preview a plan: every move, sizes, estimate, refusals, and its token.
    Plan(PlanArgs),
    /// Start a previewed plan: the same arguments plus `--token`.
    Start {
        #[command(flatten)]
        plan: PlanArgs,
        #[arg(long)]
        token: String,
        /// Follow its progress until it ends.
        #[arg(long)]
        watch: bool,
    },
    /// One plan's progress; `--watch` follows it with a live bar until it ends.
    Status {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        watch: bool,
    },
    /// Plans, newest first.
    List,
    Pause(Control),
    Resume(Control),
    Cancel(Control),
    /// Put the plan's failed moves back in line.
    Retry(Control),
}

#[derive(Debug, Args)]
pub struct Control {
    #[arg(long)]
    id: i64,
    #[arg(long)]
    requested_by: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Move every website off this shard.
    #[arg(long, group = "kind")]
    drain: Option<String>,
    /// Even the fleet out by websites, rows or bytes (see --threshold).
    #[arg(long, group = "kind", value_parser = measure)]
    balance: Option<Measure>,
    /// Fill this new shard (see --by).
    #[arg(long, group = "kind")]
    add_shard: Option<String>,
    /// A list of moves: WEBSITE:SHARD, comma-separated.
    #[arg(long, group = "kind", value_delimiter = ',', value_parser = str::parse::<ListedMove>)]
    moves: Vec<ListedMove>,
    /// balance: how far from the mean a shard may stay (0.1 = 10%).
    #[arg(long, default_value_t = 0.1)]
    threshold: f64,
    /// add_shard: jump_hash (the websites the new shard's hash names) or capacity (up to the mean).
    #[arg(long, default_value = "jump_hash", value_parser = add_by)]
    by: AddBy,
    #[arg(long)]
    requested_by: String,
    #[arg(long)]
    max_concurrent: Option<u32>,
    #[arg(long)]
    per_shard: Option<u32>,
    /// Moves start only inside this UTC window, e.g. 22:00-06:00.
    #[arg(long)]
    window: Option<String>,
    #[arg(long)]
    stop_on_failure: bool,
}

fn measure(text: &str) -> Result<Measure, String> {
    serde_json::from_value(text.into()).map_err(|_| "expected websites, rows or bytes".into())
}

fn add_by(text: &str) -> Result<AddBy, String> {
    serde_json::from_value(text.into()).map_err(|_| "expected jump_hash or capacity".into())
}

impl PlanArgs {
    fn request(&self, app: &App) -> anyhow::Result<PlanRequest> {
        let kind = if let Some(shard) = &self.drain {
            Kind::Drain {
                shard: shard.clone(),
            }
        } else if let Some(by) = self.balance {
            Kind::Balance {
                by,
                threshold: self.threshold,
            }
        } else if let Some(shard) = &self.add_shard {
            Kind::AddShard {
                shard: shard.clone(),
                by: self.by,
            }
        } else if !self.moves.is_empty() {
            Kind::List {
                moves: self.moves.clone(),
            }
        } else {
            anyhow::bail!(
                "name a plan: --drain SHARD, --balance MEASURE, --add-shard SHARD or --moves W:S,..."
            );
        };
        let options = PlanOptions::parse(
            self.max_concurrent,
            self.per_shard,
            self.window.as_deref(),
            Some(self.stop_on_failure),
        )?;
        Ok(PlanRequest::new(
            app.settings(),
            kind,
            &self.requested_by,
            options,
        )?)
    }
}

pub async fn run(app: &App, args: RebalanceArgs) -> anyhow::Result<()> {
    let json = args.json;
    match args.command {
        RebalanceCommand::Plan(plan) => {
            let preview = rebalance::preview(app, &plan.request(app)?).await?;
            print::preview(&preview, json)
        }
        RebalanceCommand::Start { plan, token, watch } => {
            let id = rebalance::start(app, &plan.request(app)?, &token).await?;
            eprintln!("rebalance {id} started");
            follow(app, id, watch, json).await
        }
        RebalanceCommand::Status { id, watch } => follow(app, id, watch, json).await,
        RebalanceCommand::List => print::list(&rebalance::list(app, None, 100).await?, json),
        RebalanceCommand::Pause(c) => control(app, c, Command::Pause, json).await,
        RebalanceCommand::Resume(c) => control(app, c, Command::Resume, json).await,
        RebalanceCommand::Cancel(c) => control(app, c, Command::Cancel, json).await,
        RebalanceCommand::Retry(c) => control(app, c, Command::Retry, json).await,
    }
}

async fn control(app: &App, c: Control, command: Command, json: bool) -> anyhow::Result<()> {
    let by = crate::moves::requester(app.settings(), &c.requested_by)?;
    rebalance::command(app, c.id, command, by.as_str()).await?;
    print::plan(&rebalance::show(app, c.id).await?, json)
}

/// Prints the plan once, or follows it with a live bar until it ends.
async fn follow(app: &App, id: i64, watch: bool, json: bool) -> anyhow::Result<()> {
    if !watch {
        return print::plan(&rebalance::show(app, id).await?, json);
    }
    let bar = print::Bar::new();
    loop {
        let view = rebalance::show(app, id).await?;
        bar.show(&view.summary);
        if crate::control::rebalances::LIVE.contains(&view.summary.status.as_str())
            || view.summary.status == "waiting"
        {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        bar.finish();
        return print::plan(&view, json);
    }
}
