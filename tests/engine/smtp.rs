//! A real SMTP server for the tests: mailin-embedded speaks the protocol over
//! TCP on a port of its own, and keeps what it is sent for the test to read.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Response, Server, response};
use shardmover::config::Settings;
use shardmover::mail::{EmailAddress, TlsMode};

/// One message as the server received it: the envelope and the raw MIME.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Clone)]
struct Catcher {
    inbox: Arc<Mutex<Vec<Received>>>,
    current: Received,
}

impl Handler for Catcher {
    /// Addresses at `bounce.example.com` do not exist: a permanent 550.
    fn rcpt(&mut self, to: &str) -> Response {
        if to.ends_with("@bounce.example.com") {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Received {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
        };
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = std::mem::take(&mut self.current);
        self.inbox.lock().unwrap().push(message);
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    /// Starts a server on a free port; it lives until the test process ends.
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Starts a server on `port`, e.g. one a test left dark until now.
    pub fn start_on_port(port: u16) -> Self {
        Self::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    /// A port with nothing listening on it (yet): SMTP is "down" there.
    pub fn dark_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn start_on(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::default();
        let mut server = Server::new(Catcher {
            inbox: Arc::clone(&inbox),
            current: Received::default(),
        });
        server.with_name("smtp.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, inbox }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }
}

/// Points `settings` at an SMTP server on `port` on this machine, with an ops list.
pub fn mail_to(settings: &mut Settings, port: u16) {
    let mail = &mut settings.mail;
    mail.smtp_host = "127.0.0.1".into();
    mail.smtp_port = port;
    mail.tls = TlsMode::None;
    mail.from = "shardmover <shardmover@ops.example.com>".into();
    mail.notify = vec![EmailAddress::parse("ops@example.com").unwrap()];
    mail.timeout_secs = 5;
}
