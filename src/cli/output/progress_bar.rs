//! Shows a move's progress: a live bar on a terminal, plain lines (at most one
//! a second) when stderr is not one.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Phase;
use crate::mover::{ProgressSink, Snapshot};

pub struct TerminalProgress {
    bar: Option<ProgressBar>,
    last_line: Mutex<Option<(Instant, Phase)>>,
}

impl TerminalProgress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix:>9} [{bar:30}] {human_pos}/{human_len} rows {per_sec} eta {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            last_line: Mutex::new(None),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressSink for TerminalProgress {
    fn update(&self, s: &Snapshot) {
        let table = s.current_table.as_deref().unwrap_or("");
        if let Some(bar) = &self.bar {
            bar.set_length(s.rows_total);
            bar.set_position(s.rows_copied);
            bar.set_prefix(s.phase.as_str());
            bar.set_message(table.to_owned());
            return;
        }
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        let due = match *last {
            None => true,
            Some((at, phase)) => phase != s.phase || at.elapsed() >= Duration::from_secs(1),
        };
        if due {
            let percent = if s.rows_total == 0 {
                100.0
            } else {
                s.rows_copied as f64 * 100.0 / s.rows_total as f64
            };
            eprintln!(
                "[{}] {}/{} rows ({percent:.1}%) {table}",
                s.phase, s.rows_copied, s.rows_total
            );
            *last = Some((Instant::now(), s.phase));
        }
    }
}
