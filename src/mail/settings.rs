//! What mail makes of its settings: the sender's mailbox.

use lettre::message::Mailbox;

use super::{MailError, MailSettings};

impl MailSettings {
    pub fn sender(&self) -> Result<Mailbox, MailError> {
        self.from
            .parse()
            .map_err(|e| MailError::Config(format!("mail.from {:?}: {e}", self.from)))
    }
}
