//! Email about moves and fleet plans: who hears about a final event, what the
//! notice says, and how it travels over SMTP. Notices are written to an outbox
//! in the same transaction that records a move's final status or a plan's end
//! (`outbox`) and delivered (`delivery`) by their own job (`jobs::notify_job`), so an SMTP
//! outage delays a notice but never loses it, and a retried move never mails
//! twice. A plan's moves mail only failures; the plan mails one summary.

mod compose;
mod delivery;
mod mailer;
mod notice;
pub mod outbox;
mod plan_notice;
mod settings;
mod templates;

pub use crate::config::{MailSettings, TlsMode};
pub use crate::ids::EmailAddress;
pub use compose::{compose, compose_plan};
pub use delivery::{Delivery, Notifier, NotifyError};
pub use mailer::{Mailer, SendError};
pub use notice::Notice;
pub use plan_notice::{PlanNotice, PlanNoticeMove};

/// Mail failures that are not about delivery (those are `SendError`).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail: {0}")]
    Config(String),
    #[error("mail: rendering the {template} template: {source}")]
    Template {
        template: &'static str,
        source: minijinja::Error,
    },
    #[error("mail: building the message: {0}")]
    Build(String),
}
