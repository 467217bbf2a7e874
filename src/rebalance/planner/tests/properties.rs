//! Properties every plan keeps over random fleets: loads are conserved, a website
//! moves once and from where it is, targets take websites and stay within capacity.

use std::collections::HashSet;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::shard_ops::jump_hash::jump_hash;

/// One to five shards (given out of name order), up to 40 websites on them.
pub(super) fn fleet() -> impl Strategy<Value = (Vec<ShardSnapshot>, Vec<WebsiteSize>)> {
    let shard = (
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.8),
        prop::option::of(0i64..20),
    );
    vec(shard, 1..6).prop_flat_map(|specs| {
        let n = specs.len();
        let shards: Vec<ShardSnapshot> = (specs.into_iter().enumerate().rev())
            .map(|(i, (accepts, balanced, capacity))| ShardSnapshot {
                name: format!("s{i}"),
                accepts,
                balanced: balanced || accepts,
                capacity,
                why_not: (!accepts).then(|| "status maintenance".into()),
            })
            .collect();
        let website = (0..n, 0i64..1000, 0i64..10_000, prop::bool::weighted(0.1));
        let websites = vec(website, 0..40).prop_map(|raw| {
            (raw.into_iter().enumerate())
                .map(|(i, (shard, rows, bytes, busy))| WebsiteSize {
                    website_id: i as i64 * 7919 + 1,
                    shard: format!("s{shard}"),
                    rows,
                    bytes,
                    busy: busy.then(|| "in another plan".into()),
                })
                .collect()
        });
        (Just(shards), websites)
    })
}

pub(super) fn measure() -> impl Strategy<Value = Measure> {
    prop_oneof![
        Just(Measure::Websites),
        Just(Measure::Rows),
        Just(Measure::Bytes)
    ]
}

/// What every plan keeps true, whatever it is for.
fn holds_for_any_plan(
    plan: &Arithmetic,
    shards: &[ShardSnapshot],
    websites: &[WebsiteSize],
) -> Result<(), TestCaseError> {
    let total = |loads: &[ShardLoad]| {
        loads.iter().fold((0, 0, 0), |(w, r, b), l| {
            (w + l.websites, r + l.rows, b + l.bytes)
        })
    };
    prop_assert_eq!(total(&plan.before), total(&plan.after));
    prop_assert_eq!(plan.before.len(), shards.len());
    let mut seen = HashSet::new();
    for m in &plan.moves {
        prop_assert!(
            seen.insert(m.website_id),
            "website {} moves twice",
            m.website_id
        );
        let w = websites
            .iter()
            .find(|w| w.website_id == m.website_id)
            .unwrap();
        prop_assert_eq!(&m.source_shard, &w.shard);
        prop_assert_ne!(&m.target_shard, &m.source_shard);
        prop_assert!(w.busy.is_none());
        let target = shards.iter().find(|s| s.name == m.target_shard).unwrap();
        prop_assert!(target.accepts, "moved onto {}", target.name);
    }
    for (before, after) in plan.before.iter().zip(&plan.after) {
        let cap = shards
            .iter()
            .find(|s| s.name == after.shard)
            .unwrap()
            .capacity;
        if let Some(cap) = cap {
            prop_assert!(after.websites <= cap.max(before.websites), "{:?}", after);
        }
    }
    Ok(())
}

fn largest_first(plan: &Arithmetic) -> bool {
    let keys: Vec<_> = (plan.moves.iter())
        .map(|m| (-m.bytes, -m.rows, m.website_id))
        .collect();
    keys.windows(2).all(|pair| pair[0] <= pair[1])
}

/// The sum of squared distances from the mean, over the balanced shards.
fn spread(loads: &[ShardLoad], shards: &[ShardSnapshot], by: Measure) -> f64 {
    let values: Vec<f64> = (loads.iter())
        .filter(|l| shards.iter().any(|s| s.name == l.shard && s.balanced))
        .map(|l| match by {
            Measure::Websites => l.websites,
            Measure::Rows => l.rows,
            Measure::Bytes => l.bytes,
        } as f64)
        .collect();
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum()
}

proptest! {
    #[test]
    fn a_drain_keeps_the_invariants_and_empties_the_shard_of_all_it_can((shards, websites) in fleet(), pick in 0usize..5) {
        let drained = format!("s{}", pick % shards.len());
        let result = plan(&Kind::Drain { shard: drained.clone() }, &shards, &websites);
        if shards.len() == 1 {
            prop_assert!(matches!(result, Err(PlanError::Invalid(_))));
            return Ok(());
        }
        let plan = result.unwrap();
        holds_for_any_plan(&plan, &shards, &websites)?;
        prop_assert!(largest_first(&plan));
        prop_assert!(plan.moves.iter().all(|m| m.target_shard != drained));
        let on_it = websites.iter().filter(|w| w.shard == drained).count();
        prop_assert_eq!(plan.moves.len() + plan.refusals.len(), on_it);
    }

    #[test]
    fn a_balance_keeps_the_invariants_and_never_widens_the_spread(
        (shards, websites) in fleet(), by in measure(), threshold in 0.01f64..=1.0,
    ) {
        let plan = plan(&Kind::Balance { by, threshold }, &shards, &websites).unwrap();
        holds_for_any_plan(&plan, &shards, &websites)?;
        prop_assert!(largest_first(&plan));
        let (before, after) = (spread(&plan.before, &shards, by), spread(&plan.after, &shards, by));
        prop_assert!(after <= before * (1.0 + 1e-9), "spread {} -> {}", before, after);
        for m in &plan.moves {
            let source = shards.iter().find(|s| s.name == m.source_shard).unwrap();
            prop_assert!(source.balanced);
        }
    }

    #[test]
    fn counting_websites_over_open_unlimited_shards_balance_always_lands_within_the_threshold(
        counts in vec(0i64..30, 1..7), threshold in 0.01f64..=1.0,
    ) {
        let shards: Vec<_> = (0..counts.len()).map(|i| open(&format!("s{i}"))).collect();
        let mut websites = Vec::new();
        for (i, &count) in counts.iter().enumerate() {
            websites.extend(sites(100 * i as i64, count, &format!("s{i}")));
        }
        let kind = Kind::Balance { by: Measure::Websites, threshold };
        let plan = plan(&kind, &shards, &websites).unwrap();
        prop_assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
        let mean = websites.len() as f64 / shards.len() as f64;
        let (low, high) = ((mean * (1.0 - threshold)).min(mean.floor()), (mean * (1.0 + threshold)).max(mean.ceil()));
        for l in &plan.after {
            prop_assert!(low - 1e-9 <= l.websites as f64 && l.websites as f64 <= high + 1e-9, "{:?}", l);
        }
        // The fewest moves: each website above the band must leave, one move each.
        let excess: i64 = plan.before.iter().map(|l| (l.websites - high.floor() as i64).max(0)).sum();
        let deficit: i64 = plan.before.iter().map(|l| (low.ceil() as i64 - l.websites).max(0)).sum();
        prop_assert_eq!(plan.moves.len() as i64, excess.max(deficit));
    }

    #[test]
    fn adding_a_shard_by_jump_hash_never_moves_a_website_between_two_old_shards(
        (mut shards, websites) in fleet(), pick in 0usize..5,
    ) {
        let new = pick % shards.len();
        shards[new].accepts = true;
        let name = shards[new].name.clone();
        let websites: Vec<_> = websites.into_iter().filter(|w| w.shard != name).collect();
        let kind = Kind::AddShard { shard: name.clone(), by: AddBy::JumpHash };
        let plan = plan(&kind, &shards, &websites).unwrap();
        holds_for_any_plan(&plan, &shards, &websites)?;
        let n = shards.iter().filter(|s| s.name != name && (s.accepts || s.balanced)).count() as u32;
        for m in &plan.moves {
            prop_assert_eq!(&m.target_shard, &name);
            prop_assert_eq!(jump_hash(m.website_id as u64, n + 1), n);
        }
    }

    #[test]
    fn adding_a_shard_by_capacity_fills_it_to_the_mean_or_says_why((mut shards, websites) in fleet(), pick in 0usize..5) {
        let new = pick % shards.len();
        shards[new].accepts = true;
        let name = shards[new].name.clone();
        let websites: Vec<_> = websites.into_iter().filter(|w| w.shard != name).collect();
        let kind = Kind::AddShard { shard: name.clone(), by: AddBy::Capacity };
        let plan = plan(&kind, &shards, &websites).unwrap();
        holds_for_any_plan(&plan, &shards, &websites)?;
        prop_assert!(plan.moves.iter().all(|m| m.target_shard == name));
        let others: Vec<_> = shards.iter().filter(|s| s.name != name && s.balanced).collect();
        let total = websites.iter().filter(|w| others.iter().any(|s| s.name == w.shard)).count();
        let goal = (total / (others.len() + 1)) as i64;
        let goal = goal.min(shards[new].capacity.unwrap_or(i64::MAX));
        let reached = count_after(&plan, &name);
        prop_assert!(reached <= goal);
        prop_assert!(reached == goal || !plan.refusals.is_empty(), "{} of {}", reached, goal);
    }

    #[test]
    fn a_list_keeps_the_invariants_and_answers_every_listed_move(
        (shards, websites) in fleet(), listed in vec((0usize..45, 0usize..6), 0..12),
    ) {
        let mut ids = HashSet::new();
        let moves: Vec<ListedMove> = (listed.into_iter())
            .map(|(w, s)| ListedMove { website_id: w as i64 * 7919 + 1, target_shard: format!("s{s}") })
            .filter(|m| ids.insert(m.website_id))
            .collect();
        let plan = plan(&Kind::List { moves: moves.clone() }, &shards, &websites).unwrap();
        holds_for_any_plan(&plan, &shards, &websites)?;
        prop_assert_eq!(plan.moves.len() + plan.refusals.len(), moves.len());
        let planned: Vec<i64> = moves.iter().map(|m| m.website_id).filter(|id| plan.moves.iter().any(|p| p.website_id == *id)).collect();
        prop_assert_eq!(planned, moved_ids(&plan));
    }
}
