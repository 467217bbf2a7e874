//! Turns a notice into a MIME message: a plain-text and an HTML part, and a
//! Message-ID derived from the event so a resend is recognisable as the same notice.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::Serialize;

use super::templates::{self, HTML, SUBJECT, TEXT};
use super::{EmailAddress, MailError, Notice};

#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    notice: &'a Notice,
    subject: &'a str,
}

/// The Message-ID of a move's final event: the same however often it is sent.
pub fn message_id(migration_id: i64, event: &str, sender: &Mailbox) -> String {
    format!("<move-{migration_id}.{event}@{}>", sender.email.domain())
}

pub fn compose(
    notice: &Notice,
    from: &Mailbox,
    to: &[EmailAddress],
    message_id: &str,
) -> Result<Message, MailError> {
    let subject = templates::render(SUBJECT, notice)?.trim().to_owned();
    let context = Context {
        notice,
        subject: &subject,
    };
    let text = templates::render(TEXT, &context)?;
    let html = templates::render(HTML, &context)?;
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
    use super::*;

    #[test]
    fn message_ids_are_stable_per_event_and_differ_between_events() {
        let from: Mailbox = "shardmover <noreply@ops.example.com>".parse().unwrap();
        assert_eq!(
            message_id(42, "completed", &from),
            "<move-42.completed@ops.example.com>"
        );
        assert_ne!(
            message_id(42, "completed", &from),
            message_id(42, "failed", &from)
        );
    }
}
