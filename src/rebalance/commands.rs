//! Pause, resume, cancel and retry a plan. Each is a state change in the
//! control database with a trail entry; the driver acts on it at its next
//! step: a paused plan starts no move (running ones finish), a cancelled one
//! cancels its running moves (they roll back as any cancelled move does) and
//! starts none, a retried one puts its failed moves back in line.

use super::RebalanceError;
use crate::app::App;
use crate::control::rebalances;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    Cancel,
    Retry,
}

impl Command {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "cancel" => Self::Cancel,
            "retry" => Self::Retry,
            _ => return None,
        })
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Pause => "paused",
            Self::Resume => "resumed",
            Self::Cancel => "cancelled",
            Self::Retry => "retried",
        }
    }

    /// The states it applies in, and the state it leads to.
    fn transition(self) -> (&'static [&'static str], &'static str) {
        match self {
            Self::Pause => (&["running"], "paused"),
            Self::Resume => (&["paused"], "running"),
            Self::Cancel => (&["running", "paused"], "cancelling"),
            Self::Retry => (&["running", "paused", "completed_with_failures"], "running"),
        }
    }
}

/// Applies `command` to plan `id` on behalf of `by`.
pub async fn command(app: &App, id: i64, command: Command, by: &str) -> Result<(), RebalanceError> {
    let mut tx = app.control_pool().begin().await?;
    let plan = rebalances::find(&mut tx, id)
        .await?
        .ok_or(RebalanceError::UnknownPlan(id))?;
    let (from, to) = command.transition();
    let mut detail = None;
    if command == Command::Retry {
        let again = rebalances::retry_failed(&mut tx, id).await?;
        if again == 0 {
            return Err(RebalanceError::conflict(
                "cannot_retry",
                format!("rebalance {id} has no failed move to retry"),
            ));
        }
        detail = Some(format!("{again} failed moves back in line"));
    }
    // A retry of a running plan needs no state change.
    let stays = command == Command::Retry && plan.state == to;
    if !stays && !rebalances::transition(&mut tx, id, from, to).await? {
        return Err(RebalanceError::conflict(
            match command {
                Command::Pause => "cannot_pause",
                Command::Resume => "cannot_resume",
                Command::Cancel => "cannot_cancel",
                Command::Retry => "cannot_retry",
            },
            format!(
                "rebalance {id} is {}: it cannot be {} now",
                plan.state,
                command.done()
            ),
        ));
    }
    let event = command.done();
    rebalances::record_event(&mut tx, id, event, Some(by), detail.as_deref()).await?;
    tx.commit().await?;
    tracing::info!(
        rebalance_id = id,
        command = command.verb(),
        "rebalance {event}"
    );
    Ok(())
}
