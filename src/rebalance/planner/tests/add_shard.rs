//! Add-shard plans: jump hash moves only into the new shard; capacity fills it to the mean.

use super::*;
use crate::shard_ops::jump_hash::jump_hash;

fn add(
    shard: &str,
    by: AddBy,
    shards: &[ShardSnapshot],
    websites: &[WebsiteSize],
) -> Result<Arithmetic, PlanError> {
    plan(
        &Kind::AddShard {
            shard: shard.into(),
            by,
        },
        shards,
        websites,
    )
}

/// 300 websites over a, b and c, where placement's jump hash put them.
fn hashed_fleet() -> Vec<WebsiteSize> {
    let old = ["a", "b", "c"];
    (1..=300)
        .map(|id| site(id, old[jump_hash(id as u64, 3) as usize], 1, id))
        .collect()
}

#[test]
fn by_jump_hash_exactly_the_websites_hashed_to_the_new_bucket_move() {
    let shards = [open("a"), open("b"), open("c"), open("d")];
    let websites = hashed_fleet();
    let plan = add("d", AddBy::JumpHash, &shards, &websites).unwrap();
    let mut moved = moved_ids(&plan);
    moved.sort();
    let expected: Vec<i64> = (1..=300)
        .filter(|&id| jump_hash(id as u64, 4) == 3)
        .collect();
    assert_eq!(moved, expected);
    // Roughly a quarter of them.
    assert!((45..=105).contains(&moved.len()), "{}", moved.len());
    assert!(plan.moves.iter().all(|m| m.target_shard == "d"));
}

#[test]
fn by_jump_hash_agrees_with_placements_tie_break_when_the_new_name_sorts_last() {
    let shards = [open("a"), open("b"), open("c"), open("z")];
    let websites = hashed_fleet();
    let plan = add("z", AddBy::JumpHash, &shards, &websites).unwrap();
    // Placement's tie-break over four tied unlimited shards, sorted by name.
    let tied = ["a", "b", "c", "z"];
    for w in &websites {
        let placed = tied[jump_hash(w.website_id as u64, tied.len() as u32) as usize];
        let now = plan.moves.iter().find(|m| m.website_id == w.website_id);
        let now = now.map_or(w.shard.as_str(), |m| m.target_shard.as_str());
        assert_eq!(now, placed, "website {}", w.website_id);
    }
}

#[test]
fn by_jump_hash_buckets_leave_out_shards_that_neither_accept_nor_balance() {
    let retired = ShardSnapshot {
        balanced: false,
        ..closed("b", "status retired")
    };
    let shards = [open("a"), retired, open("c")];
    let websites: Vec<_> = (1..=200).map(|id| site(id, "a", 1, 1)).collect();
    let plan = add("c", AddBy::JumpHash, &shards, &websites).unwrap();
    let expected = (1..=200).filter(|&id| jump_hash(id as u64, 2) == 1).count();
    assert_eq!(plan.moves.len(), expected);
}

#[test]
fn by_jump_hash_a_busy_website_stays_and_a_full_new_shard_refuses_the_rest() {
    let websites = hashed_fleet();
    let hashed: Vec<&WebsiteSize> = (websites.iter())
        .filter(|w| jump_hash(w.website_id as u64, 4) == 3)
        .collect();
    let mut websites = websites.clone();
    let first = hashed.last().unwrap().website_id; // the largest of them
    websites[first as usize - 1].busy = Some("in plan 2".into());
    let shards = [open("a"), open("b"), open("c"), capped("d", 5)];
    let plan = add("d", AddBy::JumpHash, &shards, &websites).unwrap();
    assert_eq!(plan.moves.len(), 5);
    assert_eq!(plan.refusals.len(), hashed.len() - 5);
    assert!(plan.refusals[0].reason.contains("busy: in plan 2"));
    assert!(plan.refusals[1].reason.contains("shard d is full"));
}

#[test]
fn by_capacity_the_new_shard_reaches_the_floor_of_the_mean() {
    let shards = [open("a"), open("b"), open("c"), open("d")];
    let mut websites = sites(1, 10, "a");
    websites.extend(sites(20, 5, "b"));
    websites.extend(sites(30, 2, "c"));
    // 17 websites over four shards: floor(4.25) = 4, all from the most loaded.
    let plan = add("d", AddBy::Capacity, &shards, &websites).unwrap();
    assert_eq!(count_after(&plan, "d"), 4);
    assert_eq!(moved_ids(&plan), [10, 9, 8, 7]);
    assert!(plan.refusals.is_empty());
}

#[test]
fn by_capacity_each_website_comes_from_the_then_most_loaded_shard() {
    let shards = [open("a"), open("b"), open("c")];
    let mut websites = sites(1, 6, "a");
    websites.extend(sites(10, 6, "b"));
    let plan = add("c", AddBy::Capacity, &shards, &websites).unwrap();
    assert_eq!((count_after(&plan, "a"), count_after(&plan, "b")), (4, 4));
    assert_eq!(moved_ids(&plan), [15, 14, 6, 5]);
}

#[test]
fn by_capacity_the_new_shard_takes_no_more_than_its_capacity() {
    let shards = [open("a"), open("b"), capped("c", 2)];
    let plan = add("c", AddBy::Capacity, &shards, &sites(1, 12, "a")).unwrap();
    assert_eq!(count_after(&plan, "c"), 2);
    assert_eq!(plan.refusals.len(), 1);
    assert!(plan.refusals[0].reason.contains("short of the mean of 4"));
}

#[test]
fn a_new_shard_must_be_known_accepting_and_empty() {
    let shards = [open("a"), closed("b", "status maintenance"), open("c")];
    let websites = [site(1, "c", 1, 1)];
    for (shard, says) in [
        ("x", "not in the configuration"),
        ("b", "status maintenance"),
        ("c", "already holds 1"),
    ] {
        match add(shard, AddBy::JumpHash, &shards, &websites) {
            Err(PlanError::Invalid(message)) => assert!(message.contains(says), "{message}"),
            other => panic!("{shard}: {other:?}"),
        }
    }
}
