//! Human-readable and JSON renderings of preflight reports and move outcomes.

mod online;

use serde_json::{Value, json};

use crate::domain::{MoveMode, MoveRecord, NoticeStatus, Phase, Status};
use crate::mover::{MoveOutcome, PreflightReport, SchemaNotes};

pub fn print_preflight(report: &PreflightReport) {
    println!(
        "preflight OK: website {} can move from {} ({}) to {} ({})",
        report.website_id,
        report.source_shard,
        report.source_location,
        report.target_shard,
        report.target_location
    );
    println!(
        "{:<32} {:>12}  {:<24} rows found by",
        "table (copy order)", "rows", "key"
    );
    for table in &report.tables {
        let note = if table.self_referencing && !table.links_later {
            "  (self-referencing, links NOT NULL: one chunk)"
        } else if table.self_referencing {
            "  (self-referencing: a long tree goes in chunks, links filled in after)"
        } else {
            ""
        };
        println!(
            "{:<32} {:>12}  {:<24} {}{note}",
            table.name,
            table.rows,
            format!("({})", table.primary_key.join(", ")),
            table.owner
        );
    }
    println!("{:<32} {:>12}", "total", report.rows_total);
    print_schema_notes(&report.schema);
    for leftover in &report.leftovers {
        println!("leftover: {leftover}");
    }
    println!("dry run: nothing was changed");
}

fn print_schema_notes(notes: &SchemaNotes) {
    for table in &notes.left_alone {
        println!("left alone: {} ({})", table.name, table.why);
    }
    if !notes.application_triggers.is_empty() {
        let how = if notes.triggers_silenced {
            "not fired by shardmover's writes (its sessions run as replicas)"
        } else {
            "WOULD FIRE for shardmover's writes"
        };
        println!(
            "application triggers: {} ({how})",
            notes.application_triggers.join(", ")
        );
    }
    if !notes.row_security.is_empty() {
        println!(
            "row-level security: {} (shardmover's role reads them unfiltered)",
            notes.row_security.join(", ")
        );
    }
    for view in &notes.materialized_views {
        println!(
            "materialized view {} reads these tables: after the move run `{}` on both shards",
            view.name,
            view.refresh_sql()
        );
    }
}

pub fn print_outcome(outcome: &MoveOutcome) {
    let r = &outcome.record;
    println!(
        "move {}: website {} {} -> {}: {} (phase {}, attempt {})",
        r.id, r.website, r.source, r.target, r.status, r.phase, r.attempts
    );
    for line in online::lines(r) {
        println!("{line}");
    }
    if let Some(line) = after_cutover_line(r) {
        println!("{line}");
    }
    if let Some(message) = &r.error_message {
        println!(
            "error: {} ({})",
            message,
            r.error_code.as_deref().unwrap_or("")
        );
    }
    println!(
        "{:<28} {:>10} {:>10}  {:<6} source checksum = target checksum",
        "table", "rows", "copied", "ok"
    );
    for t in &outcome.tables {
        println!(
            "{:<28} {:>10} {:>10}  {:<6} {}",
            t.name,
            t.rows_total,
            t.rows_copied,
            if t.verified { "yes" } else { "no" },
            t.source_checksum.as_deref().unwrap_or("-")
        );
    }
    let t = &outcome.timings;
    if t.copy.as_millis() > 0 {
        // An online move's freeze holds its verify and cutover.
        let online = if r.mode == MoveMode::Online {
            format!(
                ", catch-up {:.2}s, freeze {} ms",
                t.catch_up.as_secs_f64(),
                t.freeze.as_millis()
            )
        } else {
            String::new()
        };
        println!(
            "timings: preflight {:.2}s, copy {:.2}s{online}, verify {:.2}s, cutover {:.2}s, cleanup {:.2}s",
            t.preflight.as_secs_f64(),
            t.copy.as_secs_f64(),
            t.verify.as_secs_f64(),
            t.cutover.as_secs_f64(),
            t.cleanup.as_secs_f64()
        );
    }
}

/// Past cutover, what is true and what is left, in one line.
fn after_cutover_line(r: &MoveRecord) -> Option<String> {
    if r.phase < Phase::Cleanup || r.status == Status::Completed {
        return None;
    }
    let writes = if r.target_unfenced_at.is_some() {
        "takes writes there"
    } else {
        "may have its writes refused there until the cleanup lifts an earlier move's fence"
    };
    let rows = if r.source_cleaned_at.is_some() {
        "its rows on the source are deleted"
    } else {
        "its old rows on the source are still there, fenced"
    };
    let next = if r.status == Status::CleanupPending {
        format!(
            "cleanup pending: resume it with `shardmover finalize --website {}` or POST /api/v1/migrations/{}/finalize",
            r.website, r.id
        )
    } else {
        "cleanup running".to_owned()
    };
    Some(format!(
        "the website lives on {} and {writes}; {rows}; {next}",
        r.target
    ))
}

pub fn outcome_json(outcome: &MoveOutcome) -> Value {
    let r = &outcome.record;
    let mut body = json!({
        "id": r.id,
        "website_id": r.website,
        "source_shard": r.source,
        "target_shard": r.target,
        "status": r.status,
        "phase": r.phase,
        "attempts": r.attempts,
        "error": r.error_code.as_ref().map(|code| json!({"code": code, "message": r.error_message})),
        "rows_total": r.rows_total,
        "rows_copied": r.rows_copied,
        "tables": outcome.tables,
        "target_unfenced_at": r.target_unfenced_at,
        "source_cleaned_at": r.source_cleaned_at,
        "created_at": r.created_at,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
    });
    if let (Value::Object(body), Value::Object(online)) = (&mut body, online::json_fields(r)) {
        body.extend(online);
    }
    body
}

/// One line per email notice of the move: sent, waiting for a retry, or given up.
pub fn print_notices(notices: &[crate::control::notifications::Notification]) {
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    for n in notices {
        let state = match (n.status, n.sent_at, n.next_attempt_at) {
            (NoticeStatus::Sent, Some(sent), _) => format!("sent {}", at(sent)),
            (NoticeStatus::Pending, _, Some(next)) if n.attempts > 0 => format!(
                "not sent yet ({} attempts; next {}): {}",
                n.attempts,
                at(next),
                n.last_error.as_deref().unwrap_or("")
            ),
            (NoticeStatus::Pending, _, _) => "waiting to be sent".to_owned(),
            (_, _, _) => format!("given up: {}", n.last_error.as_deref().unwrap_or("")),
        };
        println!("notice ({}) to {}: {state}", n.event, n.recipient);
    }
}
