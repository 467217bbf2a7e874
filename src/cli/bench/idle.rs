//! An application session idle in a transaction beside a move (a pool or ORM
//! mistake, as in the engine test `neighbours`): it has updated one order of
//! another website and then does nothing for `idle`, holding that table's
//! write lock. It does so twice per move, each time across one of
//! shardmover's lock changes on the source: from before the move starts until
//! `idle` after capture's install began, and for `idle` from the copy's start,
//! into catch-up, where the freeze would raise the fence. The move's phases
//! come from its progress sink.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::Phase;
use crate::ids::WebsiteId;
use crate::mover::{ProgressSink, Snapshot};

/// Passes the move's phase on to whoever watches.
pub(super) struct PhaseWatch(watch::Sender<Phase>);

impl PhaseWatch {
    pub(super) fn new() -> (Self, watch::Receiver<Phase>) {
        let (sender, receiver) = watch::channel(Phase::Queued);
        (Self(sender), receiver)
    }
}

impl ProgressSink for PhaseWatch {
    fn update(&self, snapshot: &Snapshot) {
        self.0.send_if_modified(|phase| {
            let changed = *phase != snapshot.phase;
            *phase = snapshot.phase;
            changed
        });
    }
}

/// The session, in its first transaction already; `run` plays the rest.
pub(super) struct IdleSession {
    conn: PgConnection,
    website: WebsiteId,
}

impl IdleSession {
    /// Connects (as the application) and opens the first idle transaction.
    pub(super) async fn open(url: &str, website: WebsiteId) -> anyhow::Result<Self> {
        let mut session = Self {
            conn: PgConnection::connect(url).await?,
            website,
        };
        session.begin().await?;
        Ok(session)
    }

    /// Plays both idle transactions against the move whose phases `phases`
    /// shows. Returns the phase the move was in when the second ended: it
    /// must be before `Freezing` for the freeze to have met it.
    pub(super) fn run(
        mut self,
        mut phases: watch::Receiver<Phase>,
        idle: Duration,
    ) -> JoinHandle<anyhow::Result<Phase>> {
        tokio::spawn(async move {
            phases.wait_for(|p| *p >= Phase::Capturing).await?;
            tokio::time::sleep(idle).await;
            self.commit().await?;
            phases.wait_for(|p| *p >= Phase::Copying).await?;
            self.begin().await?;
            tokio::time::sleep(idle).await;
            let ended_in = *phases.borrow();
            self.commit().await?;
            Ok(ended_in)
        })
    }

    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("BEGIN").execute(&mut self.conn).await?;
        sqlx::query(
            "UPDATE orders SET note = 'idle' \
              WHERE id = (SELECT min(id) FROM orders WHERE website_id = $1)",
        )
        .bind(self.website.get())
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("COMMIT").execute(&mut self.conn).await?;
        Ok(())
    }
}
