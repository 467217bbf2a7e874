//! Sizing only what a plan needs plans the same as sizing every website: each
//! kind planned over exact sizes and again with the websites `needed` leaves
//! out carrying other (estimated) sizes gives the same moves and refusals.

use proptest::collection::vec;
use proptest::prelude::*;

use super::properties::{fleet, measure};
use super::*;

/// The websites `sizing` leaves out get sizes from `other` instead.
fn estimated(websites: &[WebsiteSize], sizing: &Sizing, other: &[(i64, i64)]) -> Vec<WebsiteSize> {
    (websites.iter().enumerate())
        .map(|(i, w)| match sizing.includes(w.website_id) {
            true => w.clone(),
            false => {
                let (rows, bytes) = other[i % other.len()];
                WebsiteSize {
                    rows,
                    bytes,
                    ..w.clone()
                }
            }
        })
        .collect()
}

fn placed(websites: &[WebsiteSize]) -> Vec<(i64, String)> {
    (websites.iter())
        .map(|w| (w.website_id, w.shard.clone()))
        .collect()
}

/// Plans `kind` both ways and compares what it decides.
fn same_both_ways(
    kind: &Kind,
    shards: &[ShardSnapshot],
    websites: &[WebsiteSize],
    other: &[(i64, i64)],
) -> Result<(), TestCaseError> {
    let sizing = needed(kind, shards, &placed(websites));
    let exact = plan(kind, shards, websites);
    let partly = plan(kind, shards, &estimated(websites, &sizing, other));
    match (exact, partly) {
        (Ok(exact), Ok(partly)) => {
            prop_assert_eq!(&exact.moves, &partly.moves);
            prop_assert_eq!(&exact.refusals, &partly.refusals);
            for m in &exact.moves {
                prop_assert!(
                    sizing.includes(m.website_id),
                    "{} moved unsized",
                    m.website_id
                );
            }
        }
        (exact, partly) => prop_assert_eq!(exact.err(), partly.err()),
    }
    Ok(())
}

fn kind() -> impl Strategy<Value = Kind> {
    let listed = vec((0usize..45, 0usize..6), 0..12).prop_map(|raw| Kind::List {
        moves: (raw.into_iter())
            .map(|(w, s)| ListedMove {
                website_id: w as i64 * 7919 + 1,
                target_shard: format!("s{s}"),
            })
            .fold(Vec::new(), |mut moves: Vec<ListedMove>, m| {
                if moves.iter().all(|o| o.website_id != m.website_id) {
                    moves.push(m);
                }
                moves
            }),
    });
    let add_by = prop_oneof![Just(AddBy::JumpHash), Just(AddBy::Capacity)];
    prop_oneof![
        (0usize..5).prop_map(|s| Kind::Drain {
            shard: format!("s{s}")
        }),
        (measure(), 0.01f64..=1.0).prop_map(|(by, threshold)| Kind::Balance { by, threshold }),
        (0usize..5, add_by).prop_map(|(s, by)| Kind::AddShard {
            shard: format!("s{s}"),
            by
        }),
        listed,
    ]
}

proptest! {
    #[test]
    fn every_kind_plans_the_same_moves_and_refusals_sized_only_where_needed(
        (shards, websites) in fleet(), kind in kind(), other in vec((0i64..1000, 0i64..10_000), 1..40),
    ) {
        same_both_ways(&kind, &shards, &websites, &other)?;
    }

    /// A new shard that is empty and accepts websites, so jump hash plans moves.
    #[test]
    fn adding_a_shard_by_jump_hash_plans_the_same_sized_only_where_needed(
        (mut shards, websites) in fleet(), pick in 0usize..5, other in vec((0i64..1000, 0i64..10_000), 1..40),
    ) {
        let new = pick % shards.len();
        shards[new].accepts = true;
        shards[new].capacity = shards[new].capacity.map(|c| c.min(3));
        let name = shards[new].name.clone();
        let websites: Vec<_> = websites.into_iter().filter(|w| w.shard != name).collect();
        let kind = Kind::AddShard { shard: name, by: AddBy::JumpHash };
        same_both_ways(&kind, &shards, &websites, &other)?;
    }
}

#[test]
fn a_drain_sizes_the_drained_shard_only_and_a_balance_everything() {
    let shards = [open("a"), open("b"), open("c")];
    let mut websites = sites(1, 3, "a");
    websites.extend(sites(10, 4, "b"));
    let placed = placed(&websites);
    let drain = Kind::Drain { shard: "a".into() };
    assert_eq!(
        needed(&drain, &shards, &placed),
        Sizing::Only([1, 2, 3].into())
    );
    let listed = Kind::List {
        moves: vec![ListedMove {
            website_id: 11,
            target_shard: "c".into(),
        }],
    };
    assert_eq!(needed(&listed, &shards, &placed), Sizing::Only([11].into()));
    let balance = Kind::Balance {
        by: Measure::Websites,
        threshold: 0.1,
    };
    assert_eq!(needed(&balance, &shards, &placed), Sizing::All);
}

#[test]
fn adding_a_shard_by_jump_hash_sizes_exactly_the_websites_the_hash_sends_to_it() {
    let shards = [open("a"), open("b"), open("c")];
    let mut websites = sites(1, 200, "a");
    websites.extend(sites(1000, 200, "b"));
    let kind = Kind::AddShard {
        shard: "c".into(),
        by: AddBy::JumpHash,
    };
    let Sizing::Only(sized) = needed(&kind, &shards, &placed(&websites)) else {
        panic!("a jump-hash add_shard sizes only some websites");
    };
    let planned = plan(&kind, &shards, &websites).unwrap();
    let mut moved = moved_ids(&planned);
    moved.sort_unstable();
    let mut sized: Vec<i64> = sized.into_iter().collect();
    sized.sort_unstable();
    assert_eq!(moved, sized);
    // About a third of 400, not all of them.
    assert!((100..170).contains(&sized.len()), "{}", sized.len());
}
