//! `shardmover bench`: builds a tenant of ~1,000,000 rows and measures, in one
//! run, the engine's full (online, unloaded) move against a raw binary COPY
//! pipe of the same rows onto targets that already hold another website (as
//! every real target does), then a small website's moves through a worker
//! (the fixed cost of a move), then what the fence left on the old shard costs
//! other websites' writes, then online moves of a small and the big tenant
//! under a steady write load (the freeze, and the target's rows against the
//! writer's model), what change capture costs the moving website's own
//! writes, and what a move costs another website's writes on its shard,
//! beside an idle-in-transaction session and without. `--moves-only`,
//! `--online-only` and `--neighbours-only` run parts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use super::capture::{self, Home};
use super::neighbours::{self, NeighbourArgs, Neighbours};
use super::online::{self, Load, Tenant};
use super::writer::Route;
use super::{app_role, pool, raw};
use crate::cli::samples::scratch::{Server, settings_with};
use crate::cli::samples::{self, tenant::Scale};
use crate::config::Settings;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::Mover;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Rows of the tenant.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Rows per copy chunk for the engine.
    #[arg(long)]
    pub batch_rows: Option<u32>,
    /// Rows of the small tenant moved online under write load; the big one is
    /// the `--rows` tenant itself, so the freeze is compared at both sizes.
    #[arg(long, default_value_t = 100_000)]
    pub online_small_rows: i64,
    /// Online moves per tenant size under write load (back and forth between
    /// the two shards).
    #[arg(long, default_value_t = 3)]
    pub online_moves: usize,
    /// Rows of the website already on the target (and on the raw pipe's
    /// target), which every real target holds: the moved keys must be checked
    /// against them.
    #[arg(long, default_value_t = 100_000)]
    pub neighbour_rows: i64,
    /// Rows of the small website moved through a worker (the fixed cost).
    #[arg(long, default_value_t = 1_000)]
    pub small_rows: i64,
    /// Moves of the small website, back and forth.
    #[arg(long, default_value_t = 5)]
    pub small_moves: usize,
    /// Tables added to a small website's for the wide tenant's freeze (each
    /// with a composite key, a uuid and a self-reference).
    #[arg(long, default_value_t = 40)]
    pub wide_tables: usize,
    /// Online moves of the wide tenant, back and forth.
    #[arg(long, default_value_t = 5)]
    pub wide_moves: usize,
    /// Stops after the small and the wide website's moves (skips the fence, write-load,
    /// capture and neighbours' measurements).
    #[arg(long)]
    pub moves_only: bool,
    /// Runs only the online moves under write load and capture's cost.
    #[arg(long)]
    pub online_only: bool,
    /// Stops after the move against the raw pipe (the ratio), skipping every
    /// other part.
    #[arg(long)]
    pub ratio_only: bool,
    /// Writes per second of the moving website during those moves (inserts,
    /// updates and deletes of its rows, routed by the registry, retried on
    /// SMF01); also the neighbour's in the neighbours' case.
    #[arg(long, default_value_t = 300)]
    pub write_rate: u32,
    #[command(flatten)]
    pub neighbours: NeighbourArgs,
}

/// The bench's databases: control, the source, the raw pipe's target and the
/// engine's target. Named after this process, so two benches on one server
/// (another engineer's, or a second build's) never drop each other's.
fn databases() -> [String; 4] {
    ["control", "source", "raw", "target"]
        .map(|part| format!("shardmover_bench_{}_{part}", std::process::id()))
}

/// Runs the bench and drops its databases (and the application's role)
/// afterwards, also when it failed.
pub async fn run(base: Settings, args: BenchArgs) -> anyhow::Result<()> {
    let server = Server::from_url(&base.database.url)?;
    let names = databases();
    let result = run_in(&server, &base, &args, &names).await;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let result = server.dropping(&names, result).await;
    if let Err(e) = app_role::drop_role(&server).await {
        eprintln!("could not drop the bench's application role: {e:#}");
    }
    result
}

/// The bench's databases, connected: control, then the source, the raw
/// pipe's target and the engine's target.
pub(super) struct Scratch {
    pub urls: Vec<SecretString>,
    pub control: PgPool,
    pub pools: [PgPool; 3],
}

async fn run_in(
    server: &Server,
    base: &Settings,
    args: &BenchArgs,
    names: &[String; 4],
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=50).contains(&args.online_moves),
        "--online-moves must be 1 to 50"
    );
    anyhow::ensure!(
        (1..=16).contains(&args.neighbours.neighbours_rounds),
        "--neighbours-rounds must be 1 to 16"
    );
    let (scratch, settings) = create(server, base, names).await?;
    let mover = crate::startup::mover(crate::app::App::new(
        Arc::new(settings),
        scratch.control.clone(),
    ));
    if args.neighbours.neighbours_only {
        return neighbours(server, &mover, &scratch, args, names).await;
    }
    let big = Tenant {
        website: WebsiteId::new(1).expect("positive"),
        rows: Scale::total_rows(args.rows).rows(),
    };
    eprintln!("seeding {} rows ...", big.rows);
    seed(&scratch, big.website, args.rows).await?;
    if !args.online_only {
        raw::report(
            &mover,
            &scratch,
            big.website,
            args.neighbour_rows,
            args.batch_rows,
        )
        .await?;
        if args.ratio_only {
            return Ok(());
        }
        let small = WebsiteId::new(4).expect("positive");
        eprintln!(
            "moving a {}-row website {} times ...",
            args.small_rows, args.small_moves
        );
        seed(&scratch, small, args.small_rows).await?;
        let control = &scratch.control;
        super::small::report(&mover, control, small, args.small_rows, args.small_moves).await?;
        let wide = WebsiteId::new(5).expect("positive");
        eprintln!("moving a website of {} more tables ...", args.wide_tables);
        seed(&scratch, wide, args.small_rows).await?;
        let shards = (&scratch.pools[0], &scratch.pools[2]);
        let (tables, moves) = (args.wide_tables, args.wide_moves.max(1));
        super::wide::report(&mover, control, shards, wide, tables, moves).await?;
        if args.moves_only {
            return Ok(());
        }
        super::fence::report(&scratch.pools[0], scratch.urls[1].expose_secret()).await?;
    }
    under_write_load(&mover, &scratch, big, args).await?;
    if args.online_only {
        return Ok(());
    }
    neighbours(server, &mover, &scratch, args, names).await
}

/// Creates and connects the bench's databases; the settings name the source
/// and the engine's target as shards.
async fn create(
    server: &Server,
    base: &Settings,
    names: &[String; 4],
) -> anyhow::Result<(Scratch, Settings)> {
    let mut urls = Vec::new();
    for name in names {
        urls.push(server.recreate(name).await?);
    }
    let settings = settings_with(
        base,
        urls[0].clone(),
        &[("source", urls[1].clone()), ("target", urls[3].clone())],
    );
    let control = crate::db::control_pool(&settings).await?;
    crate::startup::migrate(&control).await?;
    samples::tenant::create_registry(&control).await?;
    let pools = [
        pool(&urls[1]).await?,
        pool(&urls[2]).await?,
        pool(&urls[3]).await?,
    ];
    for shard in &pools {
        samples::tenant::create_shard_schema(shard).await?;
    }
    let scratch = Scratch {
        urls,
        control,
        pools,
    };
    Ok((scratch, settings))
}

/// A move's cost to a neighbour's writes, as the application's role.
async fn neighbours(
    server: &Server,
    mover: &Mover,
    scratch: &Scratch,
    args: &BenchArgs,
    names: &[String; 4],
) -> anyhow::Result<()> {
    let [moving, neighbour, idle_website] =
        [5, 6, 7].map(|id| WebsiteId::new(id).expect("positive"));
    let rows = args.online_small_rows;
    eprintln!("seeding a {rows}-row website and two neighbours on the source ...");
    for (website, rows) in [(moving, rows), (neighbour, 20_000), (idle_website, 1_000)] {
        seed(scratch, website, rows).await?;
    }
    let shards = [("source", names[1].as_str()), ("target", names[3].as_str())];
    let app = app_role::connect(server, &names[0], &shards).await?;
    let case = Neighbours {
        mover,
        app: app.route.clone(),
        idle_url: app.urls["source"].expose_secret(),
        watch_url: scratch.urls[1].expose_secret(),
        moving,
        neighbour,
        idle_website,
        rate: args.write_rate,
        idle: Duration::from_millis(args.neighbours.idle_ms),
    };
    let rounds = args.neighbours.neighbours_rounds;
    neighbours::report(&case, Scale::total_rows(rows).rows(), rounds).await
}

/// Seeds `website` on the source and registers it there.
async fn seed(scratch: &Scratch, website: WebsiteId, rows: i64) -> anyhow::Result<()> {
    samples::tenant::seed(&scratch.pools[0], website, Scale::total_rows(rows)).await?;
    samples::tenant::register(&scratch.control, website, "source").await?;
    Ok(())
}

/// Online moves of a small tenant and of `big` under a steady write load, then
/// what capture costs the small tenant's writes where it ends up.
async fn under_write_load(
    mover: &Mover,
    scratch: &Scratch,
    big: Tenant,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    let small = Tenant {
        website: WebsiteId::new(3).expect("positive"),
        rows: Scale::total_rows(args.online_small_rows).rows(),
    };
    eprintln!("seeding a second tenant of {} rows ...", small.rows);
    seed(scratch, small.website, args.online_small_rows).await?;
    let route = Arc::new(Route {
        control: scratch.control.clone(),
        shards: HashMap::from([
            ("source".to_owned(), scratch.pools[0].clone()),
            ("target".to_owned(), scratch.pools[2].clone()),
        ]),
    });
    let load = Load {
        moves: args.online_moves,
        rate: args.write_rate,
    };
    let website = small.website;
    let last = online::report(mover, &route, &[small, big], &load).await?;

    let lives_on = route.shard_of(website).await?;
    let (pool, url) = if lives_on == "source" {
        (&scratch.pools[0], &scratch.urls[1])
    } else {
        (&scratch.pools[2], &scratch.urls[3])
    };
    let home = Home {
        shard: &ShardName::parse(&lives_on).map_err(anyhow::Error::msg)?,
        pool,
        url: url.expose_secret(),
        website,
        migration: last,
    };
    capture::report(mover, &home).await
}
