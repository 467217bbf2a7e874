//! The `[mail]` section of the configuration (SMTP server, sender, who gets notices).

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::ids::EmailAddress;

#[derive(Debug, Clone, Deserialize)]
pub struct MailSettings {
    /// Empty turns notices off: none are recorded and none are sent.
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `shardmover <shardmover@example.com>`.
    pub from: String,
    /// Addresses that get every notice; `SHARD_NOTIFY_EMAILS` overrides it.
    #[serde(default)]
    pub notify: Vec<EmailAddress>,
    /// One SMTP conversation may take this long before it counts as failed.
    pub timeout_secs: u64,
    /// A notice that SMTP keeps refusing (transiently) is given up after this.
    pub give_up_after_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP: only for a local catcher such as Mailpit.
    None,
    /// Upgrade with STARTTLS, required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl MailSettings {
    pub fn enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    pub fn give_up_after(&self) -> Duration {
        Duration::from_secs(self.give_up_after_secs)
    }

    /// `host:port`, for logs and the demo (never credentials).
    pub fn describe(&self) -> String {
        format!("{}:{}", self.smtp_host, self.smtp_port)
    }
}
