//! Why a balance plan leaves a shard outside the band: one refusal per such
//! shard, naming the load, the band, and the reason the greedy found no move —
//! nowhere to put its websites, nothing that fits, or (only when that is the
//! reason) websites that are busy.

use super::Refusal;
use super::balance::Goal;
use super::fleet::Fleet;

pub(super) fn explain(fleet: &Fleet, goal: &Goal) -> Vec<Refusal> {
    goal.members
        .iter()
        .copied()
        .filter(|&i| !goal.band.holds(fleet.load(i, goal.by)))
        .map(|shard| Refusal {
            website_id: None,
            reason: format!(
                "shard {} could not be brought within the threshold: {}",
                fleet.name(shard),
                why(fleet, goal, shard)
            ),
        })
        .collect()
}

fn why(fleet: &Fleet, goal: &Goal, shard: usize) -> String {
    let load = fleet.load(shard, goal.by);
    let band = &goal.band;
    let unit = format!("{:?}", goal.by).to_lowercase();
    let state = format!(
        "it holds {load} {unit} against a mean of {:.1} (allowed {:.1} to {:.1})",
        band.mean, band.low, band.high
    );
    // Had busy websites been free, would there be a move? Then that is why.
    let unbusy = goal.next_move(fleet, |f, w| !f.has_moved(w), Some(shard));
    if let Some((website, _)) = unbusy {
        let w = &fleet.websites[website];
        if let Some(busy) = &w.busy {
            return format!(
                "{state}; website {} that would move is busy: {busy}",
                w.website_id
            );
        }
    }
    let above = load as f64 > band.high;
    let reason = if above {
        let lighter = |i: &usize| *i != shard && fleet.takes(*i) && fleet.load(*i, goal.by) < load;
        if !goal.members.iter().any(lighter) {
            "no less loaded balanced shard takes websites".to_string()
        } else if fleet.on(shard).is_empty() {
            "none of its websites is left to move".to_string()
        } else {
            "none of its websites fits on a less loaded shard without overshooting".to_string()
        }
    } else if !fleet.takes(shard) {
        format!("it takes no websites ({})", fleet.why_not(shard))
    } else {
        "no website on a more loaded shard fits on it without overshooting".to_string()
    };
    format!("{state}; {reason}")
}
