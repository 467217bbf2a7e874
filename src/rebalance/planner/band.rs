//! The band a balanced shard's load must end in: the mean ± threshold × mean.
//!
//! Counting websites, loads are whole numbers, and the best any fleet can do is
//! every shard at the mean rounded down or up; a tight threshold (say 10% of a
//! mean of 2.5) may admit no whole number at all. So for websites the band also
//! takes in floor(mean)..=ceil(mean): a shard there cannot be brought closer by
//! moving a single website without pushing another shard further away.

use super::Measure;

#[derive(Debug, Clone, Copy)]
pub(super) struct Band {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

impl Band {
    pub fn new(total: i128, shards: usize, threshold: f64, by: Measure) -> Self {
        let mean = total as f64 / shards as f64;
        // A hair of tolerance, so a load exactly on the bound is not lost to rounding.
        let slack = threshold * mean + mean.abs() * 1e-12;
        let (mut low, mut high) = (mean - slack, mean + slack);
        if by == Measure::Websites {
            low = low.min(mean.floor());
            high = high.max(mean.ceil());
        }
        Band { mean, low, high }
    }

    pub fn holds(&self, load: i128) -> bool {
        let load = load as f64;
        self.low <= load && load <= self.high
    }

    /// How far the load is from the mean.
    pub fn off(&self, load: i128) -> f64 {
        (load as f64 - self.mean).abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_exactly_on_the_bound_is_within() {
        let band = Band::new(300, 3, 0.1, Measure::Rows);
        assert!(band.holds(110) && band.holds(90));
        assert!(!band.holds(111) && !band.holds(89));
    }

    #[test]
    fn counting_websites_the_rounded_mean_is_always_within() {
        // Mean 2.5; 10% admits no whole number, so 2 and 3 must count as within.
        let band = Band::new(5, 2, 0.1, Measure::Websites);
        assert!(band.holds(2) && band.holds(3));
        assert!(!band.holds(1) && !band.holds(4));
    }

    #[test]
    fn measured_in_rows_the_rounded_mean_gets_no_allowance() {
        let band = Band::new(5, 2, 0.1, Measure::Rows);
        assert!(!band.holds(2) && !band.holds(3));
    }
}
