//! The end of a move: its final status, the audit entry's, and whatever the
//! notices side records about it (`EndOfMove`), written in one control
//! transaction. A crash can lose none of them alone; a move that has ended
//! cannot end again (`finish` only ends a pending or running move), so a job
//! that runs again tells nothing twice.

use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use super::Mover;
use crate::control::migrations;
use crate::domain::{MoveRecord, Status};
use crate::ids::MoveId;

type Ending<'c> = BoxFuture<'c, Result<Option<MoveRecord>, sqlx::Error>>;

impl Mover {
    /// Records `status` as the move's final one, with its notice, if
    /// `attempt` still owns the move; false if it does not (or it had ended).
    pub(crate) async fn record_ending(
        &self,
        id: MoveId,
        attempt: i32,
        status: Status,
    ) -> Result<bool, sqlx::Error> {
        self.record_ending_if(|tx| Box::pin(migrations::finish(tx, id, attempt, status)))
            .await
    }

    /// Runs `end` on a control transaction; if it ended a move (or left its
    /// cleanup pending), announces it on the same transaction. True when it did.
    pub(crate) async fn record_ending_if<F>(&self, end: F) -> Result<bool, sqlx::Error>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> Ending<'c>,
    {
        let mut tx = self.app.control.begin().await?;
        let Some(record) = end(&mut tx).await? else {
            return Ok(false);
        };
        self.endings.announce(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(true)
    }
}
