//! Where a move left the website's data, in one sentence an operator can act
//! on: the move page's answer to "is anything lost, and what do I run next?".
//! It says what the API's `after_cutover` says, in words.

use crate::domain::{MoveMode, MoveRecord, Phase, Status};

pub fn data_state(r: &MoveRecord) -> String {
    let (w, from, to) = (r.website, &r.source, &r.target);
    if r.phase >= Phase::Cleanup {
        return after_cutover(r);
    }
    match r.status {
        Status::Pending => format!("Not started: website {w} lives on {from}, untouched."),
        Status::InProgress => format!(
            "Website {w} still lives on {from}; its rows are being copied to {to} and checked; {}.",
            writes_while_moving(r)
        ),
        Status::Failed if r.error_code.as_deref() == Some("rollback_refused") => format!(
            "Not rolled back: the registry changed during the move, so nothing was undone. \
             The error says what was left where (rows copied to {to}, the fence on {from}); \
             check where website {w} should live before cleaning up by hand."
        ),
        Status::Failed | Status::Cancelled => format!(
            "Rolled back before cutover: website {w} lives on {from} as before; everything \
             this move wrote to {to} was deleted and the fence on {from} lifted."
        ),
        // Only reached past cutover (handled above); kept for old records.
        Status::CleanupPending | Status::Completed => after_cutover(r),
    }
}

/// Before cutover, whether the website can write where it lives.
fn writes_while_moving(r: &MoveRecord) -> &'static str {
    match (r.mode, r.phase) {
        (MoveMode::Offline, _) => "its writes are refused for the whole move (offline)",
        (MoveMode::Online, Phase::Freezing | Phase::Verifying | Phase::Cutover) => {
            "its writes are refused in the final freeze"
        }
        (MoveMode::Online, _) => "it keeps taking writes, which are captured and replayed",
    }
}

/// Past cutover the website lives on the target, whatever else happened.
fn after_cutover(r: &MoveRecord) -> String {
    let (w, from, to) = (r.website, &r.source, &r.target);
    let done = r.status == Status::Completed;
    let target_fenced = !done && r.target_unfenced_at.is_none();
    let writes = if target_fenced {
        format!(" Its writes on {to} may still be refused by a fence an earlier move left there.")
    } else {
        String::new()
    };
    match r.status {
        Status::Completed if r.keep_source && r.source_cleaned_at.is_none() => format!(
            "Website {w} lives on {to}; its old rows stay fenced on {from} until \
             `shardmover finalize --website {w}`."
        ),
        Status::Completed => {
            format!("Website {w} lives on {to}; its old rows on {from} were deleted.")
        }
        Status::InProgress => format!(
            "Cut over: website {w} lives on {to}; the cleanup of its old rows on {from} (fenced) is running.{writes}"
        ),
        _ => format!(
            "Cut over, cleanup stopped: website {w} lives on {to}; its old rows on {from} are \
             still there, fenced.{writes} Fix the cause, then resume the cleanup with \
             `shardmover finalize --website {w}` (or `POST /api/v1/migrations/{id}/finalize`).",
            id = r.id
        ),
    }
}
