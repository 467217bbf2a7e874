//! Retry delays shared by the jobs.

use std::time::Duration;

/// 2^attempt seconds (capped at 5 minutes), plus up to 25% jitter so many
/// workers retrying after one outage do not stampede together.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.min(8)).min(Duration::from_secs(300));
    let jitter = base.mul_f64(rand_fraction() * 0.25);
    base + jitter
}

fn rand_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        for attempt in 0..12 {
            let base = Duration::from_secs(1u64 << attempt.min(8)).min(Duration::from_secs(300));
            let delay = backoff(attempt);
            assert!(
                delay >= base && delay <= base.mul_f64(1.25),
                "attempt {attempt}: {delay:?}"
            );
        }
    }
}
