//! List: the operator names each move; the plan checks each one, in the order
//! given, against the registry, the shards and the moves listed before it
//! (two listed moves may not both take a shard's last free place).

use std::collections::HashSet;

use super::fleet::Fleet;
use super::{ListedMove, PlanError, Refusal};

pub(super) fn listed(fleet: &mut Fleet, moves: &[ListedMove]) -> Result<Vec<Refusal>, PlanError> {
    let mut seen = HashSet::new();
    if let Some(twice) = moves.iter().find(|m| !seen.insert(m.website_id)) {
        return Err(PlanError::Invalid(format!(
            "website {} is listed more than once",
            twice.website_id
        )));
    }
    let mut refusals = Vec::new();
    for listed in moves {
        match check(fleet, listed) {
            Ok((website, target)) => fleet.apply(website, target),
            Err(reason) => refusals.push(Refusal {
                website_id: Some(listed.website_id),
                reason,
            }),
        }
    }
    Ok(refusals)
}

/// The website's index and the target's, or why the move cannot be planned.
fn check(fleet: &Fleet, listed: &ListedMove) -> Result<(usize, usize), String> {
    let id = listed.website_id;
    let to = &listed.target_shard;
    let website = (fleet.websites.iter())
        .position(|w| w.website_id == id)
        .ok_or_else(|| format!("website {id} is not in the registry"))?;
    let target = fleet
        .index(to)
        .ok_or_else(|| format!("shard {to} is not a known shard"))?;
    if fleet.websites[website].shard == *to {
        return Err(format!("website {id} is already on {to}"));
    }
    if !fleet.takes(target) {
        return Err(format!(
            "shard {to} takes no websites: {}",
            fleet.why_not(target)
        ));
    }
    if let Some(busy) = fleet.busy(website) {
        return Err(busy.reason);
    }
    Ok((website, target))
}
