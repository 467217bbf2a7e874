//! The three cases of a round: the neighbour writing beside a move, beside a
//! move and an idle session, and with no move for as long.

use std::time::{Duration, Instant};

use super::Neighbours;
use super::locks::{LockWaits, LockWatch};
use crate::cli::bench::app_role::APP_ROLE;
use crate::cli::bench::idle::{IdleSession, PhaseWatch};
use crate::cli::bench::model::Model;
use crate::cli::bench::online::online_move;
use crate::cli::bench::writer::{Writer, WriterStats};
use crate::domain::Phase;
use crate::mover::Silent;

/// The writer runs this long before each move starts and after it ends.
const SETTLE: Duration = Duration::from_millis(500);

struct Writing {
    writer: Writer,
    watch: LockWatch,
    started: Instant,
}

/// What the neighbour's writer saw in one case of one round.
pub(super) struct Sample {
    pub writer: WriterStats,
    pub locks: LockWaits,
    /// The neighbour's rows at the end unlike its writer's model.
    pub unlike: usize,
    /// From the writer's start to its stop.
    pub window: Duration,
    pub moved: Option<Moved>,
}

pub(super) struct Moved {
    pub took: Duration,
    /// As recorded on the move.
    pub freeze_ms: i64,
    /// The phase the move was in when the idle session's second transaction ended.
    pub idle_ended_in: Option<Phase>,
}

impl Neighbours<'_> {
    /// The moving website to the target and back (the way back unmeasured),
    /// the neighbour writing throughout the way there; with `idle`, beside
    /// the idle session.
    pub(super) async fn measure(&self, round: usize, idle: bool) -> anyhow::Result<Sample> {
        let writing = self
            .start_writing(round * 3 + 1 + usize::from(idle))
            .await?;
        tokio::time::sleep(SETTLE).await;
        let session = match idle {
            true => Some(IdleSession::open(self.idle_url, self.idle_website).await?),
            false => None,
        };
        let (sink, phases) = PhaseWatch::new();
        let idling = session.map(|session| session.run(phases, self.idle));
        let moving = Instant::now();
        let outcome = online_move(self.mover, self.moving, "target", &sink).await;
        let took = moving.elapsed();
        if outcome.is_err()
            && let Some(task) = &idling
        {
            task.abort();
        }
        let outcome = outcome?;
        let idle_ended_in = match idling {
            Some(task) => Some(task.await??),
            None => None,
        };
        tokio::time::sleep(SETTLE).await;
        let mut sample = self.stop_writing(writing).await?;
        sample.moved = Some(Moved {
            took,
            freeze_ms: outcome.record.freeze_ms().unwrap_or(-1),
            idle_ended_in,
        });
        online_move(self.mover, self.moving, "source", &Silent).await?;
        Ok(sample)
    }

    /// The neighbour writing for `window` with no move.
    pub(super) async fn baseline(&self, round: usize, window: Duration) -> anyhow::Result<Sample> {
        let writing = self.start_writing(round * 3).await?;
        tokio::time::sleep(window).await;
        self.stop_writing(writing).await
    }

    /// The neighbour's writer and the look at lock waits; `run` is unique
    /// per case and round.
    async fn start_writing(&self, run: usize) -> anyhow::Result<Writing> {
        let model = Model::read(self.source(), self.neighbour.get()).await?;
        let watch = LockWatch::start(self.watch_url, APP_ROLE).await?;
        Ok(Writing {
            writer: Writer::start(self.app.clone(), self.neighbour, model, self.rate, run),
            watch,
            started: Instant::now(),
        })
    }

    /// Stops the writer and compares the neighbour's rows with its model.
    async fn stop_writing(&self, writing: Writing) -> anyhow::Result<Sample> {
        let (writer, model) = writing.writer.stop().await?;
        let window = writing.started.elapsed();
        let locks = writing.watch.stop().await?;
        let ended = Model::read(self.source(), self.neighbour.get()).await?;
        Ok(Sample {
            writer,
            locks,
            unlike: model.differences(&ended),
            window,
            moved: None,
        })
    }

    fn source(&self) -> &sqlx::PgPool {
        &self.app.shards["source"]
    }
}
