//! The SMTP client. One conversation per notice, bounded by a timeout, with its
//! failures sorted into "try again later" and "this will never go through".

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::{MailError, MailSettings, TlsMode};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    server: String,
}

#[derive(Debug, thiserror::Error)]
#[error("SMTP {server}: {message}")]
pub struct SendError {
    pub server: String,
    pub message: String,
    /// A 5xx answer: retrying the same message will not help.
    pub permanent: bool,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let host = settings.smtp_host.trim();
        let builder = match settings.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| MailError::Config(format!("mail.smtp_host {host:?}: {e}")))?,
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| MailError::Config(format!("mail.smtp_host {host:?}: {e}")))?,
        };
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(settings.timeout()));
        if let Some(user) = settings.username.as_deref().filter(|u| !u.is_empty()) {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.to_owned(), password));
        }
        Ok(Self {
            transport: builder.build(),
            sender: settings.sender()?,
            server: settings.describe(),
        })
    }

    pub fn sender(&self) -> &Mailbox {
        &self.sender
    }

    /// `host:port` of the SMTP server.
    pub fn server(&self) -> &str {
        &self.server
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| SendError {
                server: self.server.clone(),
                permanent: e.is_permanent(),
                message: one_line(&e),
            })
    }
}

/// The error and its causes on one line ("connection refused" hides in a source).
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
