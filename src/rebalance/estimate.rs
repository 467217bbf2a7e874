//! How long a plan should take: each move's duration from the fleet's measured
//! move rate (a fixed cost per move plus its rows at the measured rows per
//! second), then the plan's moves scheduled as the driver starts them — in
//! order, at most `max_concurrent` at once and `per_shard` on any one shard.

use serde::Serialize;
use utoipa::ToSchema;

/// What recent moves say a move costs.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct MoveRate {
    pub fixed_secs: f64,
    pub rows_per_sec: f64,
    /// Completed moves measured (0: the defaults are used).
    pub measured_moves: i64,
}

impl MoveRate {
    /// Used until moves have been measured.
    pub const DEFAULT: Self = Self {
        fixed_secs: 2.0,
        rows_per_sec: 50_000.0,
        measured_moves: 0,
    };

    pub fn secs(&self, rows: i64) -> f64 {
        self.fixed_secs + rows.max(0) as f64 / self.rows_per_sec.max(1.0)
    }
}

/// One move to schedule: its duration and the two shards it occupies.
pub struct Job<'a> {
    pub secs: f64,
    pub shards: [&'a str; 2],
}

/// The plan's wall time when its moves start in order under the limits.
pub fn schedule(jobs: &[Job<'_>], max_concurrent: u32, per_shard: u32) -> f64 {
    let mut running: Vec<(f64, [&str; 2])> = Vec::new();
    let mut waiting: Vec<&Job<'_>> = jobs.iter().collect();
    let mut now = 0.0_f64;
    while !waiting.is_empty() || !running.is_empty() {
        let mut started = true;
        while started {
            started = false;
            let busy = |shard: &str, running: &[(f64, [&str; 2])]| {
                running.iter().filter(|r| r.1.contains(&shard)).count() as u32
            };
            if running.len() as u32 >= max_concurrent.max(1) {
                break;
            }
            if let Some(i) = waiting.iter().position(|j| {
                j.shards
                    .iter()
                    .all(|s| busy(s, &running) < per_shard.max(1))
            }) {
                let job = waiting.remove(i);
                running.push((now + job.secs, job.shards));
                started = true;
            }
        }
        let Some(next) = running.iter().map(|r| r.0).reduce(f64::min) else {
            break;
        };
        now = next;
        running.retain(|r| r.0 > now);
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_off_one_shard_with_one_per_shard_run_one_after_another() {
        let jobs: Vec<Job> = ["b", "c", "b", "c"]
            .iter()
            .map(|t| Job {
                secs: 10.0,
                shards: ["a", t],
            })
            .collect();
        assert_eq!(schedule(&jobs, 2, 1), 40.0);
        assert_eq!(schedule(&jobs, 2, 2), 20.0);
    }

    #[test]
    fn disjoint_moves_run_side_by_side_up_to_the_plan_limit() {
        let jobs = [
            Job {
                secs: 5.0,
                shards: ["a", "b"],
            },
            Job {
                secs: 5.0,
                shards: ["c", "d"],
            },
            Job {
                secs: 5.0,
                shards: ["e", "f"],
            },
        ];
        assert_eq!(schedule(&jobs, 2, 1), 10.0);
        assert_eq!(schedule(&jobs, 3, 1), 5.0);
        assert_eq!(schedule(&[], 2, 1), 0.0);
    }
}
