//! Writing notices to the outbox: called on the transaction that records a
//! move's final status or a plan's end, so the event and its notices commit
//! together or not at all. The caller queues their delivery jobs on the same
//! transaction (`jobs::notify_job`).

use sqlx::PgConnection;
use tracing::{info, warn};

use super::{EmailAddress, compose};
use crate::config::Settings;
use crate::control::notifications::{self, NewNotification, Subject};
use crate::control::rebalances::{self, PlanRow};
use crate::domain::{MoveRecord, Status};
use crate::ids::NotificationId;

/// Records the notice of `record`'s final event, one per recipient; returns
/// the new notices' ids, whose delivery the caller queues. Nothing is recorded when mail
/// is off or nobody is to be told, or again for a move that has its notices,
/// or for what a plan's move need not say on its own (`said_by_its_plan`).
pub async fn record_final_event(
    conn: &mut PgConnection,
    settings: &Settings,
    record: &MoveRecord,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    if !settings.mail.enabled() || !record.status.is_announced() {
        return Ok(Vec::new());
    }
    let plan = rebalances::plan_state_of_move(conn, record.id).await?;
    if plan.is_some_and(|state| said_by_its_plan(record.status, &state)) {
        info!(
            migration_id = record.id.get(),
            "a plan's move: its plan's summary tells"
        );
        return Ok(Vec::new());
    }
    let Some(sender) = sender(settings) else {
        return Ok(Vec::new());
    };
    let notice = NewNotice {
        subject: Subject::Move(record.id),
        event: record.status.as_str(),
        message_id: compose::message_id(record, &sender),
    };
    write(conn, settings, record.requested_by.as_deref(), notice).await
}

/// A plan of 300 moves mails one summary, not 300 notices: its moves mail
/// only what someone must act on now — a failure, a cleanup left pending —
/// and a cancellation the plan did not ask for. A move the plan's own cancel
/// stopped (the plan is cancelling) is told in the summary alone, as is every
/// completed move.
fn said_by_its_plan(status: Status, plan_state: &str) -> bool {
    match status {
        Status::Failed | Status::CleanupPending => false,
        Status::Cancelled => matches!(plan_state, "cancelling" | "cancelled"),
        _ => true,
    }
}

/// Records the summary of `plan`'s end (`end_state`, announced by trail entry
/// `ending`) for its requester and `mail.notify`; returns the new notices' ids.
pub async fn record_plan_end(
    conn: &mut PgConnection,
    settings: &Settings,
    plan: &PlanRow,
    ending: i64,
    end_state: &str,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let Some(sender) = sender(settings) else {
        return Ok(Vec::new());
    };
    let event = format!("rebalance_{end_state}");
    let notice = NewNotice {
        subject: Subject::Plan {
            rebalance: plan.id,
            ending,
        },
        event: &event,
        message_id: compose::plan_message_id(plan, ending, end_state, &sender),
    };
    write(conn, settings, Some(&plan.requested_by), notice).await
}

/// What a new notice is about, and its stable Message-ID.
struct NewNotice<'a> {
    subject: Subject,
    event: &'a str,
    message_id: String,
}

/// `None` when mail is off.
fn sender(settings: &Settings) -> Option<lettre::message::Mailbox> {
    settings.mail.enabled().then(|| {
        settings
            .mail
            .sender()
            .expect("mail.from is checked when settings load")
    })
}

async fn write(
    conn: &mut PgConnection,
    settings: &Settings,
    requested_by: Option<&str>,
    notice: NewNotice<'_>,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let recipients = recipients(settings, requested_by);
    if recipients.is_empty() {
        info!(
            subject = ?notice.subject,
            "no one to notify: requested_by is not an address and mail.notify is empty"
        );
        return Ok(Vec::new());
    }
    let recipients: Vec<String> = recipients.into_iter().map(String::from).collect();
    let new = NewNotification {
        subject: notice.subject,
        event: notice.event,
        recipients: &recipients,
        message_id: &notice.message_id,
        give_up_after: settings.mail.give_up_after(),
    };
    notifications::insert(conn, &new).await
}

/// The requester, when it is an address, then `mail.notify`.
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

#[cfg(test)]
mod tests {
    use super::said_by_its_plan;
    use crate::domain::Status;

    #[test]
    fn a_plan_s_move_mails_only_what_someone_must_act_on_or_did_not_ask_for() {
        for plan in ["running", "paused", "cancelling", "completed"] {
            assert!(!said_by_its_plan(Status::Failed, plan));
            assert!(!said_by_its_plan(Status::CleanupPending, plan));
            assert!(said_by_its_plan(Status::Completed, plan));
        }
        assert!(said_by_its_plan(Status::Cancelled, "cancelling"));
        assert!(!said_by_its_plan(Status::Cancelled, "running"));
    }
}
