//! Delivering one outbox row: the notice is claimed (its row locked while SMTP
//! talks, so two workers never send the same notice), composed from its move or
//! plan as they stand now, and sent. A transient SMTP failure is recorded with
//! the time of the next try (the caller queues it on the same transaction) until
//! `give_up_at`; a permanent one ends it. The notice job (`jobs::notify_job`)
//! runs this on its own transaction.
//!
//! The one window that can send twice: SMTP accepted the message and the
//! process died before the `sent` status committed. The row unlocks, the job is
//! re-delivered and the notice goes again, with the same Message-ID.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use tracing::{info, warn};

use super::{MailError, Mailer, Notice, PlanNotice, compose, compose_plan};
use crate::config::Settings;
use crate::control::notifications::{self, Outgoing, Subject};
use crate::control::{migrations, tables};
use crate::ids::NotificationId;

/// What delivering a notice needs: the control database, settings and an SMTP client.
pub struct Notifier {
    control: PgPool,
    settings: Arc<Settings>,
    mailer: Mailer,
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// SMTP failed transiently; the next attempt is due `after` from now.
    Retrying {
        error: String,
        after: Duration,
    },
    /// SMTP refused for good, or the retry window closed.
    GaveUp {
        error: String,
    },
    /// Already sent or given up, or another worker is sending it right now.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notice {id}: {source}")]
    Database {
        id: NotificationId,
        source: sqlx::Error,
    },
    #[error("notice {0}: its move is gone")]
    MoveMissing(NotificationId),
    #[error("notice {0}: its rebalance is gone")]
    PlanMissing(NotificationId),
}

impl Notifier {
    /// `None` when mail is off (`mail.smtp_host` empty).
    pub fn new(control: PgPool, settings: Arc<Settings>) -> Result<Option<Self>, MailError> {
        if !settings.mail.enabled() {
            return Ok(None);
        }
        let mailer = Mailer::new(&settings.mail)?;
        Ok(Some(Self {
            control,
            settings,
            mailer,
        }))
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn control(&self) -> &PgPool {
        &self.control
    }

    /// One delivery attempt of notice `id`, recorded on `tx`; a transient
    /// failure's next try is due `retry_in(attempts so far)` later.
    pub async fn attempt(
        &self,
        tx: &mut PgConnection,
        id: NotificationId,
        retry_in: fn(u32) -> Duration,
    ) -> Result<Delivery, NotifyError> {
        let db = |source| NotifyError::Database { id, source };
        let Some(notice) = notifications::claim(tx, id).await.map_err(db)? else {
            return Ok(Delivery::Skipped);
        };
        let message = self.compose(tx, &notice).await?;
        let delivery = match message {
            Err(error) => self.give_up(tx, &notice, error.to_string()).await,
            Ok(message) => match self.mailer.send(message).await {
                Ok(()) => {
                    notifications::mark_sent(tx, id).await.map_err(db)?;
                    Ok(Delivery::Sent)
                }
                Err(error) if error.permanent => self.give_up(tx, &notice, error.to_string()).await,
                Err(error) => {
                    let after = retry_in(notice.attempts as u32 + 1);
                    self.retry_later(tx, &notice, error.to_string(), after)
                        .await
                }
            },
        }?;
        log(&notice, &delivery);
        Ok(delivery)
    }

    /// The message, from the move or plan as it stands now.
    async fn compose(
        &self,
        conn: &mut PgConnection,
        notice: &Outgoing,
    ) -> Result<Result<lettre::Message, MailError>, NotifyError> {
        let db = |source| NotifyError::Database {
            id: notice.id,
            source,
        };
        let (from, to) = (
            self.mailer.sender(),
            std::slice::from_ref(&notice.recipient),
        );
        let public_url = &self.settings.api.public_url;
        match notice.subject {
            Subject::Move(id) => {
                let Some(event) = notice.move_event() else {
                    let unknown = format!("a move notice of unknown event {:?}", notice.event);
                    return Ok(Err(MailError::Build(unknown)));
                };
                let record = migrations::find(conn, id)
                    .await
                    .map_err(db)?
                    .ok_or(NotifyError::MoveMissing(notice.id))?;
                let tables = tables::list(conn, id).await.map_err(db)?;
                let content = Notice::new(&record, event, &tables, public_url);
                Ok(compose(&content, from, to, &notice.message_id))
            }
            Subject::Plan { rebalance, .. } => {
                // The notice was written in the transaction that ended the plan.
                let (outcome, ended_at) = (notice.plan_outcome(), notice.created_at);
                let content = PlanNotice::load(conn, rebalance, outcome, ended_at, public_url)
                    .await
                    .map_err(db)?
                    .ok_or(NotifyError::PlanMissing(notice.id))?;
                Ok(compose_plan(&content, from, to, &notice.message_id))
            }
        }
    }

    async fn retry_later(
        &self,
        conn: &mut PgConnection,
        notice: &Outgoing,
        error: String,
        delay: Duration,
    ) -> Result<Delivery, NotifyError> {
        let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        if next > notice.give_up_at {
            let error = format!("gave up after {} attempts: {error}", notice.attempts + 1);
            return self.give_up(conn, notice, error).await;
        }
        let db = |source| NotifyError::Database {
            id: notice.id,
            source,
        };
        notifications::mark_failed_attempt(conn, notice.id, &error, Some(delay))
            .await
            .map_err(db)?;
        Ok(Delivery::Retrying {
            error,
            after: delay,
        })
    }

    async fn give_up(
        &self,
        conn: &mut PgConnection,
        notice: &Outgoing,
        error: String,
    ) -> Result<Delivery, NotifyError> {
        notifications::mark_failed_attempt(conn, notice.id, &error, None)
            .await
            .map_err(|source| NotifyError::Database {
                id: notice.id,
                source,
            })?;
        Ok(Delivery::GaveUp { error })
    }
}

/// SMTP answers may quote the address; logs never carry one.
fn log(notice: &Outgoing, delivery: &Delivery) {
    let scrub = |error: &str| error.replace(notice.recipient.as_str(), "<recipient>");
    let id = notice.id.0;
    match delivery {
        Delivery::Sent => info!(notification_id = id, event = %notice.event, "notice sent"),
        Delivery::Retrying { error, .. } => {
            warn!(notification_id = id, error = %scrub(error), "notice not sent; retrying later")
        }
        Delivery::GaveUp { error } => {
            warn!(notification_id = id, error = %scrub(error), "notice given up")
        }
        Delivery::Skipped => {}
    }
}
