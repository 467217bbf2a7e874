//! The move rate each planned move is estimated at: its (source, target)
//! pair's, measured over that pair's last 50 completed moves; failing that the
//! fleet's, over its last 50; failing that the default. Shards differ (disks,
//! distance, what else they carry), so one fleet-wide rate misjudges a plan
//! whose moves all run between two of them. A part the pair's moves cannot
//! measure (no small move for the fixed cost, no large one for rows per
//! second) comes from the fleet's rate, as the fleet's comes from the default.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::estimate::MoveRate;
use crate::control::rebalances::{self, Measured};

/// Where a move's rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateFrom {
    /// The pair's own completed moves.
    Pair,
    /// The fleet's: the pair has none.
    Fleet,
    /// No completed move anywhere.
    Default,
}

impl RateFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            RateFrom::Pair => "pair",
            RateFrom::Fleet => "fleet",
            RateFrom::Default => "default",
        }
    }
}

/// The rate the plan's moves between two shards are estimated at.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PairRate {
    pub source_shard: String,
    pub target_shard: String,
    pub rate: MoveRate,
    pub rate_from: RateFrom,
}

/// The fleet's rate and the measured pairs'.
pub struct Rates {
    pub fleet: MoveRate,
    fleet_from: RateFrom,
    pairs: HashMap<(String, String), MoveRate>,
}

impl Rates {
    /// Measures the fleet and every pair of `pairs`, in two queries.
    pub async fn measure(
        conn: &mut PgConnection,
        pairs: &[(String, String)],
    ) -> Result<Self, sqlx::Error> {
        let fleet = rebalances::fleet_rate(conn).await?;
        let measured = match pairs.is_empty() {
            true => Vec::new(),
            false => rebalances::pair_rates(conn, pairs).await?,
        };
        Ok(Self::from_measured(&fleet, &measured))
    }

    pub fn from_measured(fleet: &Measured, pairs: &[Measured]) -> Self {
        let (fleet, fleet_from) = match rate(fleet, MoveRate::DEFAULT) {
            Some(rate) => (rate, RateFrom::Fleet),
            None => (MoveRate::DEFAULT, RateFrom::Default),
        };
        let pairs = (pairs.iter())
            .filter_map(|m| {
                let pair = (m.source_shard.clone(), m.target_shard.clone());
                Some((pair, rate(m, fleet)?))
            })
            .collect();
        Self {
            fleet,
            fleet_from,
            pairs,
        }
    }

    /// The rate for moves from `source` to `target`, and where it comes from.
    pub fn of(&self, source: &str, target: &str) -> (MoveRate, RateFrom) {
        match self.pairs.get(&(source.to_owned(), target.to_owned())) {
            Some(rate) => (*rate, RateFrom::Pair),
            None => (self.fleet, self.fleet_from),
        }
    }
}

/// The measured rate, its missing parts from `fallback`; `None` when nothing was measured.
fn rate(m: &Measured, fallback: MoveRate) -> Option<MoveRate> {
    (m.moves > 0).then(|| MoveRate {
        fixed_secs: m.fixed_secs.unwrap_or(fallback.fixed_secs),
        rows_per_sec: m.rows_per_sec.unwrap_or(fallback.rows_per_sec),
        measured_moves: m.moves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(pair: (&str, &str), fixed: Option<f64>, rate: Option<f64>, moves: i64) -> Measured {
        Measured {
            source_shard: pair.0.into(),
            target_shard: pair.1.into(),
            fixed_secs: fixed,
            rows_per_sec: rate,
            moves,
        }
    }

    #[test]
    fn a_pair_with_moves_has_its_own_rate_and_fills_gaps_from_the_fleet() {
        let fleet = measured(("", ""), Some(3.0), Some(20_000.0), 9);
        let pairs = [
            measured(("a", "b"), Some(1.0), Some(80_000.0), 4),
            measured(("a", "c"), Some(1.5), None, 2),
        ];
        let rates = Rates::from_measured(&fleet, &pairs);
        let (ab, from) = rates.of("a", "b");
        assert_eq!(
            (ab.fixed_secs, ab.rows_per_sec, from),
            (1.0, 80_000.0, RateFrom::Pair)
        );
        let (ac, from) = rates.of("a", "c");
        assert_eq!(
            (ac.fixed_secs, ac.rows_per_sec, from),
            (1.5, 20_000.0, RateFrom::Pair)
        );
        let (ba, from) = rates.of("b", "a");
        assert_eq!(
            (ba.fixed_secs, ba.measured_moves, from),
            (3.0, 9, RateFrom::Fleet)
        );
    }

    #[test]
    fn with_nothing_measured_every_pair_gets_the_default() {
        let rates = Rates::from_measured(&measured(("", ""), None, None, 0), &[]);
        let (rate, from) = rates.of("a", "b");
        assert_eq!(from, RateFrom::Default);
        assert_eq!(rate.fixed_secs, MoveRate::DEFAULT.fixed_secs);
        // A fleet of only large moves keeps the default fixed cost.
        let fleet = measured(("", ""), None, Some(10_000.0), 3);
        let (rate, from) = Rates::from_measured(&fleet, &[]).of("a", "b");
        assert_eq!((rate.fixed_secs, rate.rows_per_sec), (2.0, 10_000.0));
        assert_eq!(from, RateFrom::Fleet);
    }
}
