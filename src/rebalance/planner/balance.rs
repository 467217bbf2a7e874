//! Balance: bring every balanced shard's load (websites, rows or bytes) within
//! the threshold of the mean, in few moves, largest first.
//!
//! Greedy: the most loaded shard gives to the least loaded shard that takes
//! websites, while one of the two is outside the band. It gives the largest
//! website that overshoots neither (the receiver stays at most the upper bound,
//! the giver at least the lower); failing that, the one that most narrows the
//! farther of the two from the mean. Every move is smaller than the gap between
//! the two shards, so the sum of squared distances from the mean falls with
//! each move, and a website moves at most once: the loop ends, within as many
//! moves as there are websites. Busy websites stay where they are.

use std::cmp::Reverse;

use super::band::Band;
use super::fleet::{Fleet, size};
use super::{Measure, PlanError, Refusal, shortfall};

/// What a balance plan aims at.
pub(super) struct Goal {
    pub by: Measure,
    pub band: Band,
    /// The balanced shards.
    pub members: Vec<usize>,
}

pub(super) fn balance(
    fleet: &mut Fleet,
    by: Measure,
    threshold: f64,
) -> Result<Vec<Refusal>, PlanError> {
    if !(threshold > 0.0 && threshold <= 1.0) {
        return Err(PlanError::Invalid(format!(
            "threshold {threshold} must be above 0 and at most 1 (0.1 is ±10% of the mean)"
        )));
    }
    let members: Vec<usize> = (0..fleet.shards.len())
        .filter(|&i| fleet.shards[i].balanced)
        .collect();
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let total: i128 = members.iter().map(|&i| fleet.load(i, by)).sum();
    let band = Band::new(total, members.len(), threshold, by);
    let goal = Goal { by, band, members };
    for _ in 0..fleet.websites.len() {
        if goal.met(fleet) {
            break;
        }
        match goal.next_move(fleet, |f, w| f.movable(w), None) {
            Some((website, target)) => fleet.apply(website, target),
            None => break,
        }
    }
    Ok(shortfall::explain(fleet, &goal))
}

impl Goal {
    pub fn met(&self, fleet: &Fleet) -> bool {
        self.members
            .iter()
            .all(|&i| self.band.holds(fleet.load(i, self.by)))
    }

    /// The next (website, target): the most loaded giver and least loaded
    /// receiver that have an improving move, one of them outside the band.
    /// `only` keeps to pairs involving that shard.
    pub fn next_move(
        &self,
        fleet: &Fleet,
        may_move: impl Fn(&Fleet, usize) -> bool,
        only: Option<usize>,
    ) -> Option<(usize, usize)> {
        let load = |i: usize| fleet.load(i, self.by);
        let mut givers = self.members.clone();
        givers.sort_by_key(|&i| (Reverse(load(i)), i));
        let mut receivers: Vec<usize> = self
            .members
            .iter()
            .copied()
            .filter(|&i| fleet.takes(i))
            .collect();
        receivers.sort_by_key(|&i| (load(i), i));
        for &giver in &givers {
            let candidates = self.candidates(fleet, giver, &may_move);
            for &receiver in &receivers {
                let (g, r) = (load(giver), load(receiver));
                let involved = only.is_none_or(|s| s == giver || s == receiver);
                let needed = !self.band.holds(g) || !self.band.holds(r);
                if g <= r || !involved || !needed {
                    continue;
                }
                if let Some(w) = self.pick(fleet, &candidates, g, r) {
                    return Some((w, receiver));
                }
            }
        }
        None
    }

    /// The giver's websites that may move, largest first under the measure.
    fn candidates(
        &self,
        fleet: &Fleet,
        giver: usize,
        may_move: &impl Fn(&Fleet, usize) -> bool,
    ) -> Vec<usize> {
        let mut on: Vec<usize> = fleet
            .on(giver)
            .into_iter()
            .filter(|&w| may_move(fleet, w) && size(&fleet.websites[w], self.by) > 0)
            .collect();
        // Stable: equal sizes keep the bytes-rows-id order of `on`.
        on.sort_by_key(|&w| Reverse(size(&fleet.websites[w], self.by)));
        on
    }

    fn pick(
        &self,
        fleet: &Fleet,
        candidates: &[usize],
        giver: i128,
        receiver: i128,
    ) -> Option<usize> {
        let band = &self.band;
        let now = band.off(giver).max(band.off(receiver));
        let mut best: Option<(f64, usize)> = None;
        for &w in candidates {
            let s = size(&fleet.websites[w], self.by);
            if s >= giver - receiver {
                continue;
            }
            let (g, r) = (giver - s, receiver + s);
            if r as f64 <= band.high && g as f64 >= band.low {
                return Some(w);
            }
            let after = band.off(g).max(band.off(r));
            if after < now && best.is_none_or(|(b, _)| after < b) {
                best = Some((after, w));
            }
        }
        best.map(|(_, w)| w)
    }
}
