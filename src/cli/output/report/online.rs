//! The move's mode, its catch-up and its freeze, in the CLI's text and JSON.

use serde_json::{Value, json};

use crate::domain::{MoveMode, MoveRecord, Phase};

/// One line on how the move treats the website's writes, then the catch-up
/// while it runs and the freeze once recorded.
pub fn lines(r: &MoveRecord) -> Vec<String> {
    let mut lines = vec![match r.mode {
        MoveMode::Online => {
            "mode: online (writes go on while copying; refused only in the final freeze)".to_owned()
        }
        MoveMode::Offline => "mode: offline (writes refused for the whole move)".to_owned(),
    }];
    if r.mode == MoveMode::Online && (r.changes_applied > 0 || r.changes_waiting > 0) {
        lines.push(format!(
            "catch-up: {} changes replayed, {} waiting{}",
            r.changes_applied,
            r.changes_waiting,
            r.catch_up_rate
                .map(|rate| format!(", {rate:.0} changes/s"))
                .unwrap_or_default()
        ));
    }
    if let Some(sessions) = &r.freeze_waits_for {
        lines.push(format!(
            "freeze: ready, waiting for locks the fence would queue behind: {sessions}"
        ));
    }
    if let Some(line) = freeze_line(r) {
        lines.push(line);
    }
    if let Some(step) = &r.follow_up {
        lines.push(format!("follow-up: {step}"));
    }
    lines
}

fn freeze_line(r: &MoveRecord) -> Option<String> {
    let started = r.freeze_started_at?;
    let drained = r.freeze_changes.unwrap_or(0);
    Some(match r.freeze_ms() {
        Some(ms) => format!("freeze: writes refused for {ms} ms; {drained} changes drained in it"),
        // The freeze lasts through verify and cutover, until the registry switch.
        None if !r.status.is_final() && r.phase < Phase::Cleanup => format!(
            "freeze: writes refused since {}",
            started.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
        None => format!(
            "freeze: began {} and did not end (the move left it)",
            started.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
    })
}

/// The same facts as JSON fields, merged into the move's object.
pub fn json_fields(r: &MoveRecord) -> Value {
    let freeze = r.freeze_started_at.map(|started| {
        json!({
            "started_at": started,
            "ended_at": r.freeze_ended_at,
            "duration_ms": r.freeze_ms(),
            "changes_drained": r.freeze_changes,
        })
    });
    json!({
        "mode": r.mode,
        "changes_applied": r.changes_applied,
        "changes_waiting": r.changes_waiting,
        "catch_up_rate": r.catch_up_rate,
        "freeze_waits_for": r.freeze_waits_for,
        "follow_up": r.follow_up,
        "freeze": freeze,
    })
}
