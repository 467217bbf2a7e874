//! Turns a notice (a move's, or a plan's summary) into a MIME message: a
//! plain-text and an HTML part, and a Message-ID derived from the event so a
//! resend is recognisable as the same notice.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::Serialize;

use super::templates::{self, Templates};
use super::{EmailAddress, MailError, Notice, PlanNotice};
use crate::control::rebalances::PlanRow;
use crate::domain::MoveRecord;

#[derive(Serialize)]
struct Context<'a, N> {
    #[serde(flatten)]
    notice: &'a N,
    subject: &'a str,
}

/// The Message-ID of a move's final event: the same however often it is sent.
/// The move's creation time keeps it unique across control databases that
/// reuse move ids (staging and production, a rebuilt one), as mail providers
/// drop a message whose Message-ID they have seen.
pub fn message_id(record: &MoveRecord, sender: &Mailbox) -> String {
    format!(
        "<move-{}.{}.{}@{}>",
        record.id.get(),
        record.status,
        record.created_at.timestamp_millis(),
        sender.email.domain()
    )
}

/// The Message-ID of one ending of a plan (a retried plan can end again, under
/// another trail entry); the plan's creation time keeps it unique across
/// control databases as a move's does.
pub fn plan_message_id(plan: &PlanRow, ending: i64, end_state: &str, sender: &Mailbox) -> String {
    format!(
        "<rebalance-{}.{end_state}.{ending}.{}@{}>",
        plan.id,
        plan.created_at.timestamp_millis(),
        sender.email.domain()
    )
}

pub fn compose(
    notice: &Notice,
    from: &Mailbox,
    to: &[EmailAddress],
    message_id: &str,
) -> Result<Message, MailError> {
    compose_with(templates::MOVE, notice, from, to, message_id)
}

pub fn compose_plan(
    notice: &PlanNotice,
    from: &Mailbox,
    to: &[EmailAddress],
    message_id: &str,
) -> Result<Message, MailError> {
    compose_with(templates::PLAN, notice, from, to, message_id)
}

fn compose_with(
    templates: Templates,
    notice: &impl Serialize,
    from: &Mailbox,
    to: &[EmailAddress],
    message_id: &str,
) -> Result<Message, MailError> {
    let subject = templates::render(templates.subject, notice)?
        .trim()
        .to_owned();
    let context = Context {
        notice,
        subject: &subject,
    };
    let text = templates::render(templates.text, &context)?;
    let html = templates::render(templates.html, &context)?;
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject)
        .message_id(Some(message_id.to_owned()));
    for address in to {
        builder = builder.to(Mailbox::new(None, address.to_lettre()));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| MailError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::templates::{HTML, SUBJECT, TEXT};
    use super::*;

    fn failed_after_cutover() -> Notice {
        Notice {
            outcome: "cleanup_pending",
            migration_id: 9,
            website_id: 42,
            source: "shard_1".into(),
            target: "shard_2".into(),
            requested_by: Some("ops@example.com".into()),
            requested_at: "2026-11-29 10:00:00 UTC".into(),
            started_at: Some("2026-11-29 10:00:01 UTC".into()),
            finished_at: Some("2026-11-29 10:02:01 UTC".into()),
            duration: Some("2m 00s".into()),
            rows_copied: 10,
            tables: Vec::new(),
            progress_url: "https://moves.example.com/api/v1/migrations/9".into(),
            phase: "cleanup",
            error_code: Some("database_error".into()),
            error_message: Some("deleting <script>alert(1)</script> rows".into()),
            follow_up: Some("REFRESH MATERIALIZED VIEW <b>v</b>".into()),
            after_cutover: true,
            target_fenced: false,
            left_for_operator: false,
            keep_source: false,
            mode: "online",
            freeze: None,
            freeze_changes: None,
        }
    }

    fn parts(message: &Message) -> String {
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn a_failure_after_cutover_says_the_website_moved_and_how_to_finish() {
        let subject = templates::render(SUBJECT, failed_after_cutover()).unwrap();
        assert_eq!(
            subject.trim(),
            "[shardmover] website 42 moved to shard_2 — cleanup pending"
        );
        let from: Mailbox = "shardmover <noreply@ops.example.com>".parse().unwrap();
        let to = [EmailAddress::parse("ops@example.com").unwrap()];
        let notice = failed_after_cutover();
        let text = templates::render(TEXT, &notice).unwrap();
        assert!(
            text.contains("The website already lives on shard_2"),
            "{text}"
        );
        assert!(text.contains("shardmover finalize --website 42"), "{text}");
        assert!(
            text.contains("POST https://moves.example.com/api/v1/migrations/9/finalize"),
            "{text}"
        );
        assert!(
            text.contains("cleanup after its move from shard_1 stopped and is pending"),
            "{text}"
        );
        assert!(!text.contains("rolled back"), "{text}");
        let message = compose(&notice, &from, &to, "<move-9.failed@ops.example.com>").unwrap();
        let raw = parts(&message);
        assert!(
            raw.contains("Message-ID: <move-9.failed@ops.example.com>"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
    }

    #[test]
    fn a_completed_move_says_how_long_writes_were_paused() {
        let online = Notice {
            outcome: "completed",
            freeze: Some("420 ms".into()),
            freeze_changes: Some(17),
            ..failed_after_cutover()
        };
        let text = templates::render(TEXT, &online).unwrap();
        let line = "Writes:       paused for 420 ms only, in the final freeze of this online move; 17 changes made during the move were drained in it\n";
        assert!(text.contains(line), "{text}");
        let context = Context {
            notice: &online,
            subject: "s",
        };
        let html = templates::render(HTML, &context).unwrap();
        assert!(html.contains("paused for 420 ms only"), "{html}");
        let offline = Notice {
            mode: "offline",
            freeze: None,
            ..online
        };
        let text = templates::render(TEXT, &offline).unwrap();
        let line = "Writes:       paused for the whole move (offline move), 2m 00s\n";
        assert!(text.contains(line), "{text}");
        let failed = Notice {
            outcome: "failed",
            ..failed_after_cutover()
        };
        assert!(
            !templates::render(TEXT, &failed)
                .unwrap()
                .contains("Writes:")
        );
    }

    #[test]
    fn the_html_part_escapes_what_the_error_says() {
        let context = Context {
            notice: &failed_after_cutover(),
            subject: "s",
        };
        let html = templates::render(HTML, &context).unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
