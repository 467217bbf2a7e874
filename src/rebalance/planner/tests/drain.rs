//! Drain plans: where each website of a drained shard goes, and which stay.

use super::*;
use crate::shard_ops::jump_hash::jump_hash;

fn drain(shard: &str, shards: &[ShardSnapshot], websites: &[WebsiteSize]) -> Arithmetic {
    plan(
        &Kind::Drain {
            shard: shard.into(),
        },
        shards,
        websites,
    )
    .expect("a drain plan")
}

#[test]
fn drain_moves_every_website_off_and_never_onto_the_drained_shard() {
    let shards = [open("a"), open("b"), capped("c", 50)];
    let mut websites = sites(1, 20, "a");
    websites.extend(sites(100, 3, "b"));
    let plan = drain("a", &shards, &websites);
    assert_eq!(plan.moves.len(), 20);
    assert!(plan.refusals.is_empty());
    assert!(
        plan.moves
            .iter()
            .all(|m| m.source_shard == "a" && m.target_shard != "a")
    );
    assert_eq!(count_after(&plan, "a"), 0);
    assert_eq!(load_after(&plan, "a").bytes, 0);
}

#[test]
fn drain_spreads_evenly_over_two_empty_unlimited_shards() {
    let shards = [open("a"), open("b"), open("c")];
    let plan = drain("a", &shards, &sites(1, 11, "a"));
    let (b, c) = (count_after(&plan, "b"), count_after(&plan, "c"));
    assert_eq!(b + c, 11);
    assert!((b - c).abs() <= 1, "b {b}, c {c}");
}

#[test]
fn drain_onto_unlimited_shards_fills_the_emptier_one_first() {
    let shards = [open("a"), open("b"), open("c")];
    let mut websites = sites(1, 4, "a");
    websites.extend(sites(10, 6, "b"));
    let plan = drain("a", &shards, &websites);
    assert_eq!(count_after(&plan, "c"), 4);
}

#[test]
fn drain_prefers_the_shard_with_the_most_free_capacity() {
    let shards = [open("a"), capped("b", 10), capped("c", 4)];
    let plan = drain("a", &shards, &sites(1, 3, "a"));
    assert!(plan.moves.iter().all(|m| m.target_shard == "b"));
}

#[test]
fn drain_breaks_a_tie_in_free_capacity_by_placements_jump_hash() {
    let shards = [open("a"), capped("b", 9), capped("c", 9)];
    for id in [1, 2, 3, 42, 1_000_003] {
        let plan = drain("a", &shards, &[site(id, "a", 1, 1)]);
        let tied = ["b", "c"];
        assert_eq!(
            plan.moves[0].target_shard,
            tied[jump_hash(id as u64, 2) as usize]
        );
    }
}

#[test]
fn drain_moves_the_largest_websites_first() {
    let shards = [open("a"), open("b")];
    let websites = [
        site(1, "a", 5, 10),
        site(2, "a", 1, 30),
        site(3, "a", 9, 10),
    ];
    let plan = drain("a", &shards, &websites);
    assert_eq!(moved_ids(&plan), [2, 3, 1]);
}

#[test]
fn drain_refuses_a_website_when_no_shard_takes_it() {
    let shards = [open("a"), closed("b", "status maintenance"), capped("c", 1)];
    let websites = [site(1, "a", 1, 1), site(2, "c", 1, 1)];
    let plan = drain("a", &shards, &websites);
    assert!(plan.moves.is_empty());
    let reason = &plan.refusals[0].reason;
    assert_eq!(plan.refusals[0].website_id, Some(1));
    assert!(reason.contains("no shard can take website 1"), "{reason}");
    assert!(reason.contains("b (status maintenance)"), "{reason}");
    assert!(reason.contains("c (full"), "{reason}");
}

#[test]
fn drain_fills_a_limited_shard_and_refuses_what_no_longer_fits() {
    let shards = [open("a"), capped("b", 2), closed("c", "UNHEALTHY")];
    let plan = drain("a", &shards, &sites(1, 3, "a"));
    assert_eq!(moved_ids(&plan), [3, 2]);
    assert_eq!(plan.refusals.len(), 1);
    assert_eq!(plan.refusals[0].website_id, Some(1));
    assert_eq!(count_after(&plan, "b"), 2);
}

#[test]
fn drain_leaves_a_busy_website_and_gives_its_busy_reason() {
    let shards = [open("a"), open("b")];
    let websites = [
        busy(site(1, "a", 1, 1), "move 7 is unfinished"),
        site(2, "a", 1, 1),
    ];
    let plan = drain("a", &shards, &websites);
    assert_eq!(moved_ids(&plan), [2]);
    assert_eq!(plan.refusals[0].website_id, Some(1));
    assert!(plan.refusals[0].reason.contains("move 7 is unfinished"));
}

#[test]
fn draining_an_unknown_shard_is_an_error() {
    let err = plan(&Kind::Drain { shard: "x".into() }, &[open("a")], &[]).unwrap_err();
    assert_eq!(err, PlanError::UnknownShard("x".into()));
}

#[test]
fn draining_the_only_shard_is_invalid() {
    let err = plan(&Kind::Drain { shard: "a".into() }, &[open("a")], &[]).unwrap_err();
    assert!(matches!(err, PlanError::Invalid(_)));
}

#[test]
fn before_and_after_list_every_shard_by_name() {
    let shards = [open("c"), open("a"), open("b")];
    let plan = drain("c", &shards, &[site(1, "c", 7, 70)]);
    let names: Vec<&str> = plan.before.iter().map(|l| l.shard.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        plan.before[2],
        ShardLoad {
            shard: "c".into(),
            websites: 1,
            rows: 7,
            bytes: 70
        }
    );
    assert_eq!(
        plan.after[2],
        ShardLoad {
            shard: "c".into(),
            websites: 0,
            rows: 0,
            bytes: 0
        }
    );
}
