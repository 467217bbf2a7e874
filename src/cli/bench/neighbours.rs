//! What a move costs its neighbours: another website on the moving website's
//! shard keeps writing (`writer.rs`'s clients, as the application's role)
//! while the website moves online, and every write's latency is kept. Per
//! round the bench measures a move, a move beside an application session idle
//! in a transaction (`idle.rs`), and as long a stretch with no move at all;
//! the website is moved back, unmeasured, after each move. It prints, per case
//! over all rounds, the neighbour's write count, p50, p99 and worst, and the
//! moves' against no move. Aim: the neighbour's worst write within 50 ms.

mod cases;
mod locks;

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::writer::Route;
use crate::ids::WebsiteId;
use crate::mover::Mover;
use cases::Sample;
use locks::LockWaits;

#[derive(Debug, Args)]
pub struct NeighbourArgs {
    /// Runs only the neighbours' case (a move's cost to another website's writes).
    #[arg(long)]
    pub neighbours_only: bool,
    /// Rounds of the neighbours' case: each a move, a move beside an idle
    /// session and a stretch without a move.
    #[arg(long, default_value_t = 3)]
    pub neighbours_rounds: usize,
    /// How long the idle session stays idle in each of its transactions, ms.
    #[arg(long, default_value_t = 2000)]
    pub idle_ms: u64,
}

/// The websites on the source shard, and how the case is driven.
pub(super) struct Neighbours<'a> {
    pub mover: &'a Mover,
    /// The application's connections.
    pub app: Arc<Route>,
    /// The source shard as the application, for the idle session.
    pub idle_url: &'a str,
    /// The source shard as the superuser, who sees every session's waits.
    pub watch_url: &'a str,
    /// Moved back and forth.
    pub moving: WebsiteId,
    /// Writes throughout, never moves.
    pub neighbour: WebsiteId,
    /// The idle session's row is one of its orders.
    pub idle_website: WebsiteId,
    /// The neighbour's writes per second.
    pub rate: u32,
    pub idle: Duration,
}

const CASES: [&str; 3] = ["no move", "move", "move + idle session"];
/// Aim for the neighbour's worst write.
const AIM: Duration = Duration::from_millis(50);

/// Runs `rounds` rounds and prints each and the summary.
pub(super) async fn report(case: &Neighbours<'_>, rows: i64, rounds: usize) -> anyhow::Result<()> {
    eprintln!(
        "a neighbour writing {}/s beside online moves of a {rows}-row website, {rounds} rounds ...",
        case.rate
    );
    let mut all: [Vec<Sample>; 3] = Default::default();
    for round in 0..rounds {
        let moved = case.measure(round, false).await?;
        let idle = case.measure(round, true).await?;
        let none = case.baseline(round, moved.window).await?;
        for (i, sample) in [none, moved, idle].into_iter().enumerate() {
            print_sample(round, CASES[i], &sample);
            all[i].push(sample);
        }
    }
    println!(
        "neighbour's writes beside online moves of a {rows}-row website on its shard \
         ({}/s, 3 clients, as the application), {rounds} rounds, idle transactions of {} ms:",
        case.rate,
        case.idle.as_millis()
    );
    let baseline = Latency::of(&all[0]);
    for (i, samples) in all.iter().enumerate() {
        let latency = Latency::of(samples);
        let unlike: usize = samples.iter().map(|s| s.unlike).sum();
        let against = (i > 0).then(|| {
            format!(
                "; against no move: p99 {:.2}x, worst {:+.1} ms",
                latency.p99 / baseline.p99.max(1e-3),
                latency.worst - baseline.worst
            )
        });
        println!(
            "  {:<20} {latency}{}",
            CASES[i],
            against.unwrap_or_default()
        );
        let looks = samples
            .iter()
            .fold(LockWaits::default(), |all, s| all.add(&s.locks));
        println!(
            "  {:<20} {looks}; rows unlike the writer's model {unlike}",
            ""
        );
    }
    println!("aim: the neighbour's worst write <= {} ms", AIM.as_millis());
    Ok(())
}

fn print_sample(round: usize, case: &str, sample: &Sample) {
    let latency = Latency::new(sample.writer.waits.clone());
    let moved = sample.moved.as_ref().map(|m| {
        let idle = m
            .idle_ended_in
            .map(|phase| format!(", 2nd idle transaction ended in {}", phase.as_str()))
            .unwrap_or_default();
        format!(
            "; move {:.2}s, freeze {} ms{idle}",
            m.took.as_secs_f64(),
            m.freeze_ms
        )
    });
    println!(
        "  round {} {case:<20} {latency}{}",
        round + 1,
        moved.unwrap_or_default()
    );
    println!("  {:<28} {}", "", sample.locks);
}

/// Milliseconds.
struct Latency {
    writes: usize,
    p50: f64,
    p99: f64,
    worst: f64,
    slow: usize,
}

impl Latency {
    /// Over every write of `samples`.
    fn of(samples: &[Sample]) -> Self {
        Self::new(
            samples
                .iter()
                .flat_map(|s| s.writer.waits.iter().copied())
                .collect(),
        )
    }

    fn new(mut waits: Vec<Duration>) -> Self {
        waits.sort_unstable();
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        // Nearest rank.
        let rank = |q: f64| ((q * waits.len() as f64).ceil() as usize).saturating_sub(1);
        Self {
            writes: waits.len(),
            p50: ms(waits.get(rank(0.50))),
            p99: ms(waits.get(rank(0.99))),
            worst: ms(waits.last()),
            slow: waits.iter().filter(|w| **w > AIM / 2).count(),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>6} writes  p50 {:>5.1} ms  p99 {:>5.1} ms  worst {:>6.1} ms  over {} ms: {}",
            self.writes,
            self.p50,
            self.p99,
            self.worst,
            (AIM / 2).as_millis(),
            self.slow
        )
    }
}
