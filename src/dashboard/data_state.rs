//! Where a move left the website's data, in one sentence an operator can act
//! on: the move page's answer to "is anything lost, and what do I run next?".

use crate::control::migrations::MigrationRecord;
use crate::control::{Phase, Status};

/// Where the website's data is, in words an operator can act on.
pub fn data_state(r: &MigrationRecord) -> String {
    let (w, from, to) = (r.website, &r.source, &r.target);
    let past_cutover = r.phase >= Phase::Cleanup;
    match r.status {
        Status::Pending => format!("Not started: website {w} lives on {from}, untouched."),
        Status::InProgress if past_cutover => format!(
            "Cut over: website {w} lives on {to}; its old rows on {from} are fenced and being deleted."
        ),
        Status::InProgress => {
            format!("Website {w} still lives on {from}; rows are being copied to {to} and checked.")
        }
        Status::Completed if r.keep_source => format!(
            "Website {w} lives on {to}; its old rows stay fenced on {from} until `shardmover finalize --website {w}`."
        ),
        Status::Completed => {
            format!("Website {w} lives on {to}; its old rows on {from} were deleted.")
        }
        Status::Failed | Status::Cancelled if past_cutover => format!(
            "Stopped after cutover: website {w} lives on {to}; its old rows on {from} are still there, fenced. Run `shardmover finalize --website {w}` once the cause is fixed."
        ),
        Status::Failed | Status::Cancelled => format!(
            "Rolled back before cutover: website {w} lives on {from} as before; everything this move wrote to {to} was deleted and the fence on {from} lifted."
        ),
    }
}
