//! `shardmover bench-dashboard`: each dashboard page's own server time
//! (`Server-Timing`) with a long move history, against the same page with a
//! short one, in one run. Lists are paginated and their filters indexed, so the
//! ratio should stay near 1 however long the history grows.

use anyhow::{Context, bail};
use clap::Args;

use crate::cli::samples::scratch::Server;
use crate::cli::samples::{self, tenant::Scale};
use crate::config::Settings;
use crate::ids::WebsiteId;

#[derive(Debug, Args)]
pub struct BenchDashboardArgs {
    /// Moves in the long history.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(2..))]
    pub moves: i64,
    /// Moves in the short history it is compared with (enough to fill a
    /// page of 50 under most filters, so both render as many rows).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub baseline_moves: i64,
    /// Requests per page and history; the median counts.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: u32,
}

const DATABASES: [&str; 3] = [
    "shardmover_benchui_control",
    "shardmover_benchui_shard_1",
    "shardmover_benchui_shard_2",
];

/// Runs the bench and drops its databases afterwards, also when it failed.
pub async fn run(base: Settings, args: BenchDashboardArgs) -> anyhow::Result<()> {
    if args.baseline_moves >= args.moves {
        bail!("--baseline-moves must be fewer than --moves");
    }
    let server = Server::from_url(&base.database.url)?;
    let result = run_in(&server, &base, &args).await;
    server.dropping(&DATABASES, result).await
}

async fn run_in(server: &Server, base: &Settings, args: &BenchDashboardArgs) -> anyhow::Result<()> {
    let mut urls = Vec::new();
    for name in DATABASES {
        urls.push(server.recreate(name).await?);
    }
    let api = super::api::start(base, &urls).await?;
    let website = WebsiteId::new(7).expect("positive");
    for (i, url) in urls[1..].iter().enumerate() {
        let shard = super::pool(url).await?;
        samples::tenant::create_shard_schema(&shard).await?;
        if i == 0 {
            samples::tenant::seed(&shard, website, Scale::total_rows(2_000)).await?;
        }
        shard.close().await;
    }
    let control = api.control;
    samples::tenant::register(&control, website, "shard_1").await?;
    let address = api.address;
    let browser = Browser::sign_in(&address).await?;

    eprintln!("a history of {} moves ...", args.baseline_moves);
    samples::history::seed(&control, 1, args.baseline_moves).await?;
    let short = browser
        .measure(&pages(args.baseline_moves), args.samples)
        .await?;
    eprintln!("a history of {} moves ...", args.moves);
    samples::history::seed(&control, args.baseline_moves + 1, args.moves).await?;
    let long = browser.measure(&pages(args.moves), args.samples).await?;
    control.close().await;

    println!(
        "dashboard pages, server time (median of {} requests): {} moves in the history | {} moves | ratio",
        args.samples, args.baseline_moves, args.moves
    );
    let mut slowest = 0.0_f64;
    for ((_, short), (path, long)) in short.iter().zip(&long) {
        println!(
            "{path:<58} {short:>7.1} ms {long:>7.1} ms  ratio {:>5.2}",
            long / short
        );
        slowest = slowest.max(*long);
    }
    println!("slowest page with {} moves: {slowest:.1} ms", args.moves);
    Ok(())
}

/// The pages an operator opens, with the newest move of a history of `moves`.
fn pages(moves: i64) -> Vec<String> {
    vec![
        "/ui".into(),
        "/ui/moves".into(),
        format!("/ui/moves?before={}", moves / 2),
        "/ui/moves?status=failed&shard=shard_2".into(),
        "/ui/moves?requested_by=ops3%40example.com".into(),
        "/ui/moves?website=7".into(),
        format!("/ui/moves/{moves}"),
        format!("/ui/moves/{moves}/live"),
        "/ui/websites/7".into(),
        "/ui/shards/shard_1".into(),
        "/ui/audit".into(),
        "/ui/audit?changed_by=ops1%40example.com&from=2020-01-01".into(),
    ]
}

/// A signed-in session, as a browser keeps it.
struct Browser {
    client: reqwest::Client,
    address: String,
    cookie: String,
}

impl Browser {
    async fn sign_in(address: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let response = client
            .post(format!("{address}/ui/sign-in"))
            .form(&[("token", super::api::TOKEN)])
            .send()
            .await?;
        let cookie = response
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("signing in to the dashboard set no cookie")?
            .to_owned();
        Ok(Self {
            client,
            address: address.to_owned(),
            cookie,
        })
    }

    /// Each page's median server time in ms, after one unmeasured request.
    async fn measure(&self, paths: &[String], samples: u32) -> anyhow::Result<Vec<(String, f64)>> {
        let mut medians = Vec::new();
        for path in paths {
            let mut times = Vec::new();
            for sample in 0..=samples {
                let time = self.server_time(path).await?;
                if sample > 0 {
                    times.push(time);
                }
            }
            times.sort_by(f64::total_cmp);
            medians.push((path.clone(), times[times.len() / 2]));
        }
        Ok(medians)
    }

    async fn server_time(&self, path: &str) -> anyhow::Result<f64> {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("{path} answered {}", response.status());
        }
        response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok()?.strip_prefix("page;dur=")?.parse().ok())
            .with_context(|| format!("{path} did not say its time"))
    }
}
