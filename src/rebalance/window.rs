//! A plan's window, `"22:00-06:00"` in UTC: moves of the plan start only
//! inside it (a move already running finishes). A window may wrap midnight.

use chrono::{DateTime, Timelike, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Minutes after 00:00 UTC.
    pub start: u16,
    pub end: u16,
}

impl Window {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("window must look like \"22:00-06:00\" (UTC), not {text:?}");
        let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
        let window = Self {
            start: minutes(start).ok_or_else(bad)?,
            end: minutes(end).ok_or_else(bad)?,
        };
        if window.start == window.end {
            return Err(format!(
                "window {text:?} is empty: start and end are the same"
            ));
        }
        Ok(window)
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let now = (at.hour() * 60 + at.minute()) as u16;
        if self.start < self.end {
            (self.start..self.end).contains(&now)
        } else {
            now >= self.start || now < self.end
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.trim().len() == 5).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
    }

    #[test]
    fn a_window_over_midnight_holds_the_night_and_not_the_day() {
        let night = Window::parse("22:00-06:00").unwrap();
        assert!(
            night.contains(at(23, 30)) && night.contains(at(0, 0)) && night.contains(at(5, 59))
        );
        assert!(
            !night.contains(at(6, 0)) && !night.contains(at(12, 0)) && !night.contains(at(21, 59))
        );
        assert_eq!(night.to_string(), "22:00-06:00");
    }

    #[test]
    fn a_day_window_holds_its_hours_only() {
        let day = Window::parse("09:30-17:00").unwrap();
        assert!(day.contains(at(9, 30)) && day.contains(at(16, 59)));
        assert!(!day.contains(at(17, 0)) && !day.contains(at(9, 29)));
    }

    #[test]
    fn malformed_windows_are_refused_with_the_expected_shape() {
        for bad in [
            "",
            "22-06",
            "25:00-06:00",
            "22:00",
            "22:00-22:00",
            "2:00-06:00",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }
}
