//! Catch-up's replay rate, from which it judges what the freeze can drain.

use std::time::Duration;

/// The replay rate, smoothed over recent rounds.
#[derive(Debug, Default)]
pub(super) struct Rate {
    per_second: Option<f64>,
}

impl Rate {
    pub(super) fn observe(&mut self, changes: u64, took: Duration) {
        if changes == 0 {
            return;
        }
        let now = changes as f64 / took.as_secs_f64().max(1e-6);
        self.per_second = Some(match self.per_second {
            Some(before) => 0.7 * before + 0.3 * now,
            None => now,
        });
    }

    pub(super) fn per_second(&self) -> Option<f64> {
        self.per_second
    }

    /// Changes that drain within `seconds` at this rate (none while unmeasured).
    pub(super) fn fits(&self, seconds: f64) -> i64 {
        self.per_second.map_or(0, |rate| (rate * seconds) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_fits_until_the_rate_is_measured_and_then_it_scales_with_the_budget() {
        let mut rate = Rate::default();
        assert_eq!(rate.fits(0.5), 0);
        rate.observe(1000, Duration::from_millis(100));
        assert_eq!(rate.fits(0.5), 5000);
        rate.observe(0, Duration::from_secs(5));
        assert_eq!(
            rate.fits(0.5),
            5000,
            "an empty round says nothing about the rate"
        );
        rate.observe(100, Duration::from_millis(100));
        assert!(rate.fits(0.5) < 5000);
    }
}
