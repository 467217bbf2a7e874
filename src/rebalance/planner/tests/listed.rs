//! List plans: every listed move is planned or refused with its reason.

use super::*;

fn to(website_id: i64, target_shard: &str) -> ListedMove {
    ListedMove {
        website_id,
        target_shard: target_shard.into(),
    }
}

fn fleet() -> (Vec<ShardSnapshot>, Vec<WebsiteSize>) {
    let shards = vec![
        open("a"),
        capped("b", 1),
        closed("c", "UNHEALTHY"),
        open("d"),
    ];
    let websites = vec![
        site(1, "a", 10, 100),
        site(2, "a", 20, 200),
        busy(site(3, "a", 1, 1), "move 9 is unfinished"),
        site(4, "d", 1, 1),
    ];
    (shards, websites)
}

fn list(moves: Vec<ListedMove>) -> Result<Arithmetic, PlanError> {
    let (shards, websites) = fleet();
    plan(&Kind::List { moves }, &shards, &websites)
}

fn refusal_for(moves: Vec<ListedMove>) -> String {
    let plan = list(moves).expect("a list plan");
    assert!(plan.moves.is_empty(), "{:?}", plan.moves);
    plan.refusals[0].reason.clone()
}

#[test]
fn listed_moves_that_check_out_are_planned_in_the_order_given() {
    let plan = list(vec![to(1, "d"), to(2, "b"), to(4, "a")]).unwrap();
    assert_eq!(moved_ids(&plan), [1, 2, 4]);
    assert_eq!(plan.moves[1].source_shard, "a");
    assert_eq!(plan.moves[1].target_shard, "b");
    assert_eq!((plan.moves[1].rows, plan.moves[1].bytes), (20, 200));
    assert!(plan.refusals.is_empty());
    assert_eq!(count_after(&plan, "a"), 2);
}

#[test]
fn a_website_not_in_the_registry_is_refused() {
    assert_eq!(
        refusal_for(vec![to(99, "d")]),
        "website 99 is not in the registry"
    );
}

#[test]
fn a_target_that_is_not_a_known_shard_is_refused() {
    assert!(refusal_for(vec![to(1, "x")]).contains("shard x is not a known shard"));
}

#[test]
fn a_website_already_on_the_target_is_refused() {
    assert_eq!(refusal_for(vec![to(4, "d")]), "website 4 is already on d");
}

#[test]
fn a_target_that_does_not_accept_websites_is_refused_with_why() {
    assert!(refusal_for(vec![to(1, "c")]).contains("UNHEALTHY"));
}

#[test]
fn a_busy_website_is_refused_with_its_busy_reason() {
    assert!(refusal_for(vec![to(3, "d")]).contains("move 9 is unfinished"));
}

#[test]
fn a_target_filled_by_an_earlier_listed_move_refuses_the_later_one() {
    let plan = list(vec![to(1, "b"), to(2, "b")]).unwrap();
    assert_eq!(moved_ids(&plan), [1]);
    assert_eq!(plan.refusals[0].website_id, Some(2));
    assert!(plan.refusals[0].reason.contains("full"));
}

#[test]
fn a_website_listed_twice_makes_the_list_invalid() {
    let err = list(vec![to(1, "d"), to(1, "b")]).unwrap_err();
    assert_eq!(
        err,
        PlanError::Invalid("website 1 is listed more than once".into())
    );
}
