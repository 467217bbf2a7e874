//! The fixed cost of a move: a small website moved through the service path —
//! requested through the use case the API calls (the move and its job in one
//! transaction), picked up by a move worker running here, driven to
//! `completed` (source rows deleted) — back and forth between the bench's
//! shards, both of which hold other websites. Most websites of a real fleet
//! are small, so this decides how long a fleet plan takes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::domain::Status;

use crate::control::{migrations, phase_history};
use crate::ids::{MoveId, WebsiteId};
use crate::mover::Mover;
use crate::moves::Origin;

/// How often the bench looks at the move's status while it runs.
const LOOK: Duration = Duration::from_millis(2);
/// The worker idles this long before each request (longer than its poll
/// interval), as it mostly does between a fleet's moves, so the pickup is
/// measured from idle rather than right after the last job.
const IDLE: Duration = Duration::from_secs(1);

/// One move: wall time from the request's commit to `completed`, and how long
/// the move spent in each phase (from the phase history).
struct Measured {
    to: String,
    total: Duration,
    phases: Vec<(String, i64)>,
}

/// Moves `website` (on `shards[0]`) `moves` times between `shards` through a
/// worker started here, and prints each move and the median.
pub(super) async fn report(
    mover: &Mover,
    control: &PgPool,
    website: WebsiteId,
    rows: i64,
    moves: usize,
) -> anyhow::Result<()> {
    let worker_mover = Arc::new(mover.with_control_pool(control.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn({
        let control = control.clone();
        async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            crate::jobs::worker::run(&control, worker_mover, "bench-small", shutdown).await
        }
    });
    let shards = ["target", "source"];
    let mut runs = Vec::with_capacity(moves);
    let result = async {
        for round in 0..moves {
            let to = shards[round % 2];
            tokio::time::sleep(IDLE).await;
            runs.push(move_once(mover, control, website, to).await?);
        }
        anyhow::Ok(())
    }
    .await;
    let _ = stop.send(());
    worker.await??;
    result?;
    print(rows, &mut runs);
    Ok(())
}

async fn move_once(
    mover: &Mover,
    control: &PgPool,
    website: WebsiteId,
    to: &str,
) -> anyhow::Result<Measured> {
    let request = super::online::online_request(website, to)?;
    let origin = Origin {
        request_id: "bench-small",
        idempotency_key: None,
    };
    let started = Instant::now();
    let record = crate::moves::request(mover, &request, origin).await?;
    let status = wait_for_end(control, record.id).await?;
    let total = started.elapsed();
    anyhow::ensure!(
        status == Status::Completed,
        "the small website's move ended {status}"
    );
    Ok(Measured {
        to: to.to_owned(),
        total,
        phases: phase_times(control, record.id).await?,
    })
}

async fn wait_for_end(control: &PgPool, id: MoveId) -> anyhow::Result<Status> {
    loop {
        let record = migrations::find(&mut *control.acquire().await?, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("move {id} vanished"))?;
        if record.status.is_final() {
            return Ok(record.status);
        }
        tokio::time::sleep(LOOK).await;
    }
}

/// Milliseconds from the request to the first phase (the job's pickup), then
/// in each phase, from the history the control database keeps.
async fn phase_times(control: &PgPool, id: MoveId) -> anyhow::Result<Vec<(String, i64)>> {
    let mut conn = control.acquire().await?;
    let record = migrations::find(&mut conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("move {id} vanished"))?;
    let history = phase_history::list(&mut conn, id).await?;
    let mut times = Vec::new();
    let mut last = ("pickup".to_owned(), record.created_at);
    for entry in history {
        times.push((last.0, (entry.entered_at - last.1).num_milliseconds()));
        last = (entry.phase, entry.entered_at);
    }
    if let Some(finished) = record.finished_at {
        times.push((last.0, (finished - last.1).num_milliseconds()));
    }
    Ok(times)
}

fn print(rows: i64, runs: &mut [Measured]) {
    println!("small website ({rows} rows), request to completed through a worker, source deleted:");
    for run in runs.iter() {
        let phases: Vec<String> = run
            .phases
            .iter()
            .map(|(phase, ms)| format!("{phase} {ms}"))
            .collect();
        println!(
            "  to {:<6} {:>6.0} ms  ({} ms)",
            run.to,
            run.total.as_secs_f64() * 1000.0,
            phases.join(", ")
        );
    }
    runs.sort_by_key(|run| run.total);
    let median = runs[runs.len() / 2].total;
    println!(
        "  median {:.0} ms (target <= 500 ms)",
        median.as_secs_f64() * 1000.0
    );
}
