//! Writing a notice to the outbox: called on the transaction that records a
//! move's final status, so the status and its notice commit together or not at
//! all. The delivery job is enqueued on the same transaction.

use std::time::Duration;

use sqlx::PgConnection;
use tracing::{info, warn};

use super::{EmailAddress, compose};
use crate::config::Settings;
use crate::control::migrations::MigrationRecord;
use crate::control::notifications::{self, NewNotification};
use crate::ids::NotificationId;
use crate::queue::NotifyJob;

/// Records the notice of `record`'s final event, one per recipient, and queues
/// their delivery; returns the new notices' ids. Nothing is recorded when mail
/// is off or nobody is to be told, or again for a move that has its notices.
pub async fn record_final_event(
    conn: &mut PgConnection,
    settings: &Settings,
    record: &MigrationRecord,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let mail = &settings.mail;
    if !mail.enabled() || !record.status.is_announced() {
        return Ok(Vec::new());
    }
    let recipients = recipients(settings, record.requested_by.as_deref());
    if recipients.is_empty() {
        info!(
            migration_id = record.id.0,
            "no one to notify: requested_by is not an address and mail.notify is empty"
        );
        return Ok(Vec::new());
    }
    let sender = mail
        .sender()
        .expect("mail.from is checked when settings load");
    let event = record.status.as_str();
    let message_id = compose::message_id(record, &sender);
    let recipients: Vec<String> = recipients.into_iter().map(String::from).collect();
    let new = NewNotification {
        migration: record.id,
        event,
        recipients: &recipients,
        message_id: &message_id,
        give_up_after: mail.give_up_after(),
    };
    let ids = notifications::insert(conn, &new).await?;
    NotifyJob::enqueue_all(conn, &ids, Duration::ZERO).await?;
    Ok(ids)
}

/// The move's requester, when it is an address, then `mail.notify`.
fn recipients(settings: &Settings, requested_by: Option<&str>) -> Vec<EmailAddress> {
    let requester = requested_by.and_then(|who| match EmailAddress::parse(who) {
        Ok(address) => Some(address),
        Err(_) => {
            warn!("requested_by is not an email address; only mail.notify is told");
            None
        }
    });
    EmailAddress::dedup(
        requester
            .into_iter()
            .chain(settings.mail.notify.iter().cloned()),
    )
}
