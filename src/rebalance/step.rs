//! One step of one plan, taken by the worker process holding its lease: bring
//! each running move's state over from the move itself, then act on the plan's
//! state — a paused plan starts nothing, a cancelling one cancels its running
//! moves, a running one starts waiting moves in order while its limits and the
//! shards' signals allow — and end the plan when nothing waits or runs.
//! Every move starts through `moves::request` under an idempotency key of plan,
//! website and try, so a step cut short and taken again finds the move it
//! already started instead of starting another.

use chrono::Utc;

use super::RebalanceError;
use super::throttle::Throttle;
use super::window::Window;
use crate::control::rebalances::{self, PlanMove, PlanRow};
use crate::domain::{MoveMode, MoveRecord, MoveRequest};
use crate::ids::{EmailAddress, MoveId, ShardName, WebsiteId};
use crate::mover::{MoveError, Mover};
use crate::moves::{self, MovesError};

pub async fn step(mover: &Mover, plan: &PlanRow) -> Result<(), RebalanceError> {
    let mut moves = {
        let mut conn = mover.control_pool().acquire().await?;
        rebalances::moves_of(&mut conn, plan.id).await?
    };
    let mut progressed = sync(mover, plan, &mut moves).await?;
    let waiting_for = match plan.state.as_str() {
        "cancelling" => {
            cancel_all(mover, plan, &mut moves).await?;
            None
        }
        "running" => {
            if plan.stop_on_failure && moves.iter().any(|m| m.state == "failed") {
                let why = rebalances::STOPPED_AFTER_FAILURE;
                stop_waiting(mover, plan, &mut moves, why).await?;
            }
            let (started, why) = start_waiting(mover, plan, &mut moves).await?;
            progressed |= started;
            why
        }
        _ => None,
    };
    let mut conn = mover.control_pool().acquire().await?;
    rebalances::set_waiting(&mut conn, plan.id, waiting_for.as_deref(), progressed).await?;
    if !moves
        .iter()
        .any(|m| m.state == "waiting" || m.state == "running")
    {
        finish(mover, &mut conn, plan, &moves).await?;
    }
    Ok(())
}

/// Running moves take the state their move reached; true when any changed or
/// made progress since the plan last did.
async fn sync(
    mover: &Mover,
    plan: &PlanRow,
    moves: &mut [PlanMove],
) -> Result<bool, RebalanceError> {
    let mut progressed = false;
    for m in moves.iter_mut().filter(|m| m.state == "running") {
        progressed |= m
            .move_updated_at
            .is_some_and(|at| at > plan.last_progress_at);
        let (state, reason) = match m.move_status.as_deref() {
            // Past cutover: the website lives on the target (a pending cleanup
            // is the move's own business and shows on its page).
            Some("completed" | "cleanup_pending") => ("completed", None),
            Some("failed") => ("failed", m.move_error.clone()),
            Some("cancelled") => ("cancelled", Some("the move was cancelled".to_owned())),
            _ => continue,
        };
        set(mover, plan, m, (state, m.migration_id, reason)).await?;
        progressed = true;
    }
    Ok(progressed)
}

async fn set(
    mover: &Mover,
    plan: &PlanRow,
    m: &mut PlanMove,
    (state, migration_id, reason): (&str, Option<i64>, Option<String>),
) -> Result<(), RebalanceError> {
    let mut conn = mover.control_pool().acquire().await?;
    let change = (state, migration_id, m.tries, reason.as_deref());
    rebalances::set_move(&mut conn, plan.id, m.website_id, change).await?;
    m.state = state.to_owned();
    m.migration_id = migration_id;
    m.reason = reason;
    Ok(())
}

/// Asks every running move to stop (a move past cutover finishes) and drops the waiting ones.
async fn cancel_all(
    mover: &Mover,
    plan: &PlanRow,
    moves: &mut [PlanMove],
) -> Result<(), RebalanceError> {
    for m in moves.iter().filter(|m| m.state == "running") {
        let Some(id) = m.migration_id else { continue };
        match moves::cancel(mover, MoveId::from(id)).await {
            Ok(()) | Err(MovesError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    stop_waiting(mover, plan, moves, "the plan was cancelled").await
}

async fn stop_waiting(
    mover: &Mover,
    plan: &PlanRow,
    moves: &mut [PlanMove],
    why: &str,
) -> Result<(), RebalanceError> {
    for m in moves.iter_mut().filter(|m| m.state == "waiting") {
        let migration = m.migration_id;
        set(
            mover,
            plan,
            m,
            ("cancelled", migration, Some(why.to_owned())),
        )
        .await?;
    }
    Ok(())
}

/// Starts waiting moves in order while the plan's limits and the shards allow;
/// returns whether any started, and why moves wait when something other than
/// the plan's own limits holds them.
async fn start_waiting(
    mover: &Mover,
    plan: &PlanRow,
    moves: &mut [PlanMove],
) -> Result<(bool, Option<String>), RebalanceError> {
    if let (Some(start), Some(end)) = (plan.window_start_min, plan.window_end_min) {
        let window = Window {
            start: start as u16,
            end: end as u16,
        };
        if !window.contains(Utc::now()) && moves.iter().any(|m| m.state == "waiting") {
            return Ok((false, Some(format!("outside the window {window} UTC"))));
        }
    }
    let mut running: Vec<[String; 2]> = moves
        .iter()
        .filter(|m| m.state == "running")
        .map(|m| [m.source_shard.clone(), m.target_shard.clone()])
        .collect();
    let per_shard = plan.per_shard.max(1) as usize;
    let mut throttle = Throttle::new(mover.app());
    let (mut started, mut why) = (false, None);
    for m in moves.iter_mut().filter(|m| m.state == "waiting") {
        if running.len() >= plan.max_concurrent.max(1) as usize {
            break;
        }
        let shards = [m.source_shard.clone(), m.target_shard.clone()];
        let full = shards
            .iter()
            .find(|s| running.iter().filter(|r| r.contains(s)).count() >= per_shard);
        if let Some(shard) = full {
            let reason = format!("{shard} already has {per_shard} of this plan's moves running");
            note(mover, plan, m, reason).await?;
            continue;
        }
        let held = match throttle.why_wait(&shards[0]).await {
            Some(why) => Some(why),
            None => throttle.why_wait(&shards[1]).await,
        };
        if let Some(reason) = held {
            why.get_or_insert_with(|| reason.clone());
            note(mover, plan, m, reason).await?;
            continue;
        }
        match request(mover, plan, m).await {
            Ok(record) => {
                m.tries += 1;
                set(mover, plan, m, ("running", Some(record.id.get()), None)).await?;
                running.push(shards);
                started = true;
            }
            Err(MovesError::Refused(MoveError::Busy { existing, .. })) => {
                let reason =
                    format!("move {existing} of this website is unfinished; waiting for it");
                note(mover, plan, m, reason).await?;
            }
            Err(e) if is_transient(&e) => return Err(e.into()),
            Err(e) => {
                m.tries += 1;
                set(mover, plan, m, ("failed", None, Some(e.one_line()))).await?;
                started = true;
            }
        }
    }
    Ok((started, why))
}

/// Records why a waiting move waits, when that changed.
async fn note(
    mover: &Mover,
    plan: &PlanRow,
    m: &mut PlanMove,
    reason: String,
) -> Result<(), RebalanceError> {
    if m.reason.as_deref() == Some(reason.as_str()) {
        return Ok(());
    }
    let migration = m.migration_id;
    set(mover, plan, m, ("waiting", migration, Some(reason))).await
}

async fn request(mover: &Mover, plan: &PlanRow, m: &PlanMove) -> Result<MoveRecord, MovesError> {
    let invalid = |e: String| MovesError::Refused(MoveError::UnknownShard(e));
    let request = MoveRequest {
        website: WebsiteId::new(m.website_id).map_err(invalid)?,
        target: ShardName::parse(&m.target_shard).map_err(|_| invalid(m.target_shard.clone()))?,
        keep_source: false,
        batch_rows: None,
        // Checked by `moves::requester` when the plan was made.
        requested_by: EmailAddress::parse(&plan.requested_by).ok(),
        notes: Some(format!("rebalance {}", plan.id)),
        mode: MoveMode::Online,
    };
    let key = format!("rebalance-{}-{}-{}", plan.id, m.website_id, m.tries + 1);
    let request_id = format!("rebalance-{}", plan.id);
    let origin = moves::Origin {
        request_id: &request_id,
        idempotency_key: Some(&key),
    };
    moves::request(mover, &request, origin).await
}

fn is_transient(error: &MovesError) -> bool {
    match error {
        MovesError::Database(e) => crate::db::is_transient(e),
        MovesError::Queue(_) | MovesError::ShardUnavailable(_) => true,
        MovesError::Refused(e) => e.is_transient(),
        _ => false,
    }
}

/// Ends the plan: completed, completed with failures, or cancelled. The end,
/// its trail entry and its summary notice commit together, so a plan never
/// ends unannounced or is announced twice (only the step that moves it out
/// of a live state writes either).
async fn finish(
    mover: &Mover,
    conn: &mut sqlx::PgConnection,
    plan: &PlanRow,
    moves: &[PlanMove],
) -> Result<(), RebalanceError> {
    let count = |state: &str| moves.iter().filter(|m| m.state == state).count();
    let (done, failed, cancelled) = (count("completed"), count("failed"), count("cancelled"));
    let (from, to): (&[&str], &str) = match plan.state.as_str() {
        "cancelling" => (&["cancelling"], "cancelled"),
        "running" if failed + cancelled == 0 => (&["running"], "completed"),
        "running" => (&["running"], "completed_with_failures"),
        _ => return Ok(()),
    };
    let mut tx = sqlx::Connection::begin(conn).await?;
    if !rebalances::transition(&mut tx, plan.id, from, to).await? {
        return Ok(());
    }
    let detail = format!("{done} completed, {failed} failed, {cancelled} cancelled");
    let ending = rebalances::record_event(&mut tx, plan.id, to, None, Some(&detail)).await?;
    let settings = mover.app().settings();
    crate::jobs::notify_job::announce_plan_end(&mut tx, settings, plan, ending, to).await?;
    tx.commit().await?;
    tracing::info!(
        rebalance_id = plan.id,
        state = to,
        done,
        failed,
        cancelled,
        "rebalance ended"
    );
    Ok(())
}
