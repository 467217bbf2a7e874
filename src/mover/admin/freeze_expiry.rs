//! The freeze's bound when its mover is gone. A mover that dies (or is killed,
//! or sits out a retry's backoff) with its fence up leaves the website's writes
//! refused until something lifts it; waiting for its job to be delivered again
//! would take the orphan window or the backoff. Any worker process's freeze
//! watcher lifts it instead, as soon as it sees the freeze outlive the budget
//! with nobody holding the website's lock (or, if the lock's session lingers
//! after its host vanished, once no live mover could still be inside it).
//!
//! Safety does not rest on the lock: the watcher first takes the move over in
//! the control database (its attempt number goes up, so the old attempt's
//! cutover can never commit), then claims it on both shards (so a stale raise
//! or replay is refused in the shard's own transaction), and only then lifts
//! the fence and records the freeze as `expired`. The move's job, or the
//! sweeper, resumes it from catch-up.

use tracing::{info, warn};

use crate::app::App;
use crate::control::migrations::{self, FreezeEnd, OpenFreeze};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::fence::{self, FenceOptions};
use crate::mover::mechanics::routes::{control_conn, shard_pool};
use crate::mover::mechanics::{lock, owner_token};

/// Lifts the fence of every freeze whose mover is gone; returns how many.
pub(crate) async fn expire_abandoned(app: &App) -> Result<usize, MoveError> {
    let engine = &app.settings.engine;
    let budget_ms = engine.freeze_budget_ms as i64;
    let open = {
        let mut conn = control_conn(app).await?;
        migrations::open_freezes(&mut conn, budget_ms)
            .await
            .context(|| "reading the moves inside a freeze".into())?
    };
    // A live mover is out of its freeze by then: its raise gives up after
    // the drain timeout, and its fence comes down at the freeze limit.
    let unheld_after_ms =
        (engine.fence_drain_timeout_secs * 1000 + engine.freeze_limit_ms) as i64 + LINGER_MS;
    let mut expired = 0;
    for freeze in &open {
        match expire(app, freeze, unheld_after_ms).await {
            Ok(true) => expired += 1,
            Ok(false) => {}
            Err(e) => {
                warn!(migration_id = freeze.id.get(), error = %e, "could not lift an abandoned freeze; trying again shortly")
            }
        }
    }
    Ok(expired)
}

async fn expire(app: &App, freeze: &OpenFreeze, unheld_after_ms: i64) -> Result<bool, MoveError> {
    let guard = match lock::acquire(&app.control, freeze.website, freeze.id).await {
        Ok(guard) => Some(guard),
        Err(MoveError::Busy { .. }) if freeze.age_ms >= unheld_after_ms => None,
        // Its mover is alive: its own limit ends the freeze.
        Err(MoveError::Busy { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    // A lift waits out long lock holders for at most the drain timeout.
    let options = FenceOptions::of(&app.settings);
    let patience = options.give_up_after + std::time::Duration::from_secs(5);
    let result = tokio::time::timeout(patience, take_over_and_lift(app, freeze))
        .await
        .unwrap_or_else(|_| Err(MoveError::Interrupted));
    if let Some(guard) = guard {
        guard.release().await;
    }
    result
}

async fn take_over_and_lift(app: &App, freeze: &OpenFreeze) -> Result<bool, MoveError> {
    let attempt = {
        let mut conn = control_conn(app).await?;
        migrations::take_over(&mut conn, freeze.id, freeze.attempt)
            .await
            .context(|| "taking over an abandoned freeze".into())?
    };
    let Some(attempt) = attempt else {
        return Ok(false); // it moved on meanwhile
    };
    let source = shard_pool(app, &freeze.source)?;
    let lock_ms = app.settings.engine.fence_lock_timeout_ms;
    owner_token::claim_within(source, freeze.id, attempt, lock_ms).await?;
    let owner = (freeze.website, freeze.id, attempt);
    let options = FenceOptions::of(&app.settings);
    fence::lift_owned(source, &freeze.source, owner, &options).await?;
    let mut conn = control_conn(app).await?;
    migrations::thaw(&mut conn, freeze.id, attempt, FreezeEnd::Expired)
        .await
        .context(|| "recording the abandoned freeze".into())?;
    drop(conn);
    // Stops a stale attempt's replay into the target; the next attempt
    // claims the target anyway, so one that is down (or whose owner row a
    // dead backend still holds) can wait.
    if let Ok(target) = shard_pool(app, &freeze.target)
        && let Err(e) = owner_token::claim_within(target, freeze.id, attempt, lock_ms).await
    {
        info!(migration_id = freeze.id.get(), error = %e, "could not claim the move on its target; its next attempt will");
    }
    warn!(
        migration_id = freeze.id.get(),
        website_id = %freeze.website,
        frozen_ms = freeze.age_ms,
        "a freeze outlived its mover: fence lifted, the move catches up again when it resumes"
    );
    Ok(true)
}

/// Beyond the freeze's own bounds before the watcher lifts a fence whose
/// mover still seems to hold the website's lock.
const LINGER_MS: i64 = 5_000;
