//! Balance plans: the band reached in few moves, and why a shard misses it.

use super::*;

fn balance(
    by: Measure,
    threshold: f64,
    shards: &[ShardSnapshot],
    websites: &[WebsiteSize],
) -> Arithmetic {
    plan(&Kind::Balance { by, threshold }, shards, websites).expect("a balance plan")
}

#[test]
fn ten_websites_against_none_balance_in_five_moves() {
    let plan = balance(
        Measure::Websites,
        0.1,
        &[open("a"), open("b")],
        &sites(1, 10, "a"),
    );
    assert_eq!(plan.moves.len(), 5);
    assert_eq!((count_after(&plan, "a"), count_after(&plan, "b")), (5, 5));
    assert!(plan.refusals.is_empty());
    // Largest first: the five largest websites go.
    assert_eq!(moved_ids(&plan), [10, 9, 8, 7, 6]);
}

#[test]
fn balancing_by_rows_moves_one_big_website_instead_of_many_small() {
    let mut websites = vec![site(1, "a", 50, 1)];
    websites.extend((2..7).map(|id| site(id, "a", 10, 1)));
    let plan = balance(Measure::Rows, 0.1, &[open("a"), open("b")], &websites);
    assert_eq!(moved_ids(&plan), [1]);
    assert_eq!(load_after(&plan, "b").rows, 50);
}

#[test]
fn balance_lands_every_shard_within_the_threshold_in_the_fewest_moves() {
    let shards = [open("a"), open("b"), open("c"), open("d")];
    let mut websites = sites(1, 12, "a");
    websites.extend(sites(20, 7, "b"));
    websites.extend(sites(30, 1, "c"));
    // Mean 5, band 4..=6: a gives 6 and b gives 1; c needs 3 and d needs 4.
    let plan = balance(Measure::Websites, 0.2, &shards, &websites);
    assert_eq!(plan.moves.len(), 7);
    assert!(plan.refusals.is_empty());
    for l in &plan.after {
        assert!((4..=6).contains(&l.websites), "{l:?}");
    }
}

#[test]
fn counting_websites_the_rounded_mean_is_good_enough() {
    // Mean 7/3; 10% of it admits no whole number, so 3, 2, 2 is the goal.
    let shards = [open("a"), open("b"), open("c")];
    let plan = balance(Measure::Websites, 0.1, &shards, &sites(1, 7, "a"));
    let mut counts: Vec<i64> = plan.after.iter().map(|l| l.websites).collect();
    counts.sort();
    assert_eq!(counts, [2, 2, 3]);
    assert!(plan.refusals.is_empty());
}

#[test]
fn balance_never_moves_onto_a_full_or_non_accepting_shard() {
    let shards = [
        open("a"),
        closed("b", "status maintenance"),
        capped("c", 2),
        open("d"),
    ];
    let plan = balance(Measure::Websites, 0.1, &shards, &sites(1, 10, "a"));
    assert!(plan.moves.iter().all(|m| m.target_shard != "b"));
    assert_eq!(count_after(&plan, "b"), 0);
    assert_eq!(count_after(&plan, "c"), 2);
    let why_b = plan.refusals.iter().find(|r| r.reason.contains("shard b "));
    assert!(
        why_b
            .expect("b misses")
            .reason
            .contains("status maintenance")
    );
}

#[test]
fn a_single_website_too_large_to_split_is_reported_not_moved() {
    let shards = [open("a"), open("b")];
    let plan = balance(Measure::Rows, 0.1, &shards, &[site(1, "a", 100, 1)]);
    assert!(plan.moves.is_empty());
    assert_eq!(plan.refusals.len(), 2);
    assert!(plan.refusals.iter().all(|r| r.website_id.is_none()));
    let why_a = &plan.refusals[0].reason;
    assert!(why_a.starts_with("shard a could not be brought within the threshold"));
    assert!(why_a.contains("without overshooting"), "{why_a}");
}

#[test]
fn busy_websites_stay_and_are_named_when_they_are_why_the_goal_is_missed() {
    let websites: Vec<_> = sites(1, 4, "a")
        .into_iter()
        .map(|w| busy(w, "in plan 3"))
        .collect();
    let plan = balance(Measure::Websites, 0.1, &[open("a"), open("b")], &websites);
    assert!(plan.moves.is_empty());
    assert!(
        plan.refusals[0].reason.contains("busy: in plan 3"),
        "{:?}",
        plan.refusals
    );
}

#[test]
fn a_busy_website_is_skipped_when_others_can_move_instead() {
    let mut websites = sites(1, 4, "a");
    websites[3] = busy(websites[3].clone(), "in plan 3");
    let plan = balance(Measure::Websites, 0.1, &[open("a"), open("b")], &websites);
    assert_eq!(moved_ids(&plan), [3, 2]);
    assert!(plan.refusals.is_empty());
}

#[test]
fn shards_that_do_not_count_in_balance_are_left_alone() {
    let draining = ShardSnapshot {
        balanced: false,
        ..closed("c", "status draining")
    };
    let mut websites = sites(1, 4, "a");
    websites.extend(sites(100, 50, "c"));
    let plan = balance(
        Measure::Websites,
        0.1,
        &[open("a"), open("b"), draining],
        &websites,
    );
    assert_eq!((count_after(&plan, "a"), count_after(&plan, "b")), (2, 2));
    assert_eq!(count_after(&plan, "c"), 50);
}

#[test]
fn a_fleet_already_within_the_threshold_needs_no_moves() {
    let mut websites = sites(1, 10, "a");
    websites.extend(sites(20, 11, "b"));
    let plan = balance(Measure::Websites, 0.1, &[open("a"), open("b")], &websites);
    assert!(plan.moves.is_empty() && plan.refusals.is_empty());
}

#[test]
fn balancing_by_bytes_weighs_bytes_not_counts() {
    // One website of 900 bytes against three of 100: even by bytes, uneven by count.
    let mut websites = vec![site(1, "a", 1, 900)];
    websites.extend((2..5).map(|id| site(id, "b", 1, 100)));
    let shards = [open("a"), open("b")];
    let by_bytes = balance(Measure::Bytes, 0.5, &shards, &websites);
    assert!(by_bytes.moves.is_empty() && by_bytes.refusals.is_empty());
    let by_count = balance(Measure::Websites, 0.1, &shards, &websites);
    assert_eq!(moved_ids(&by_count), [2]);
}

#[test]
fn a_threshold_outside_zero_to_one_is_invalid() {
    for threshold in [0.0, -0.1, 1.01, f64::NAN] {
        let kind = Kind::Balance {
            by: Measure::Rows,
            threshold,
        };
        let err = plan(&kind, &[open("a")], &[]).unwrap_err();
        assert!(matches!(err, PlanError::Invalid(_)), "{threshold}");
    }
    assert!(
        plan(
            &Kind::Balance {
                by: Measure::Rows,
                threshold: 1.0
            },
            &[open("a")],
            &[]
        )
        .is_ok()
    );
}
