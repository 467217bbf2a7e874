//! A TCP proxy in front of PostgreSQL that a test can cut (live connections
//! dropped, new ones closed at once) and restore: a database blip on demand.

use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    up: Arc<watch::Sender<bool>>,
}

impl Proxy {
    /// Forwards a local port to `127.0.0.1:target`.
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(watch::channel(true).0);
        let state = up.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *state.borrow() {
                    tokio::spawn(forward(client, target, state.subscribe()));
                } // else: dropped, the client sees the connection closed
            }
        });
        Self { port, up }
    }

    /// Drops every live connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

async fn forward(mut client: TcpStream, target: u16, mut up: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|up| !*up) => {}
    }
}

/// The port of a Postgres URL (5432 when it names none).
pub fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap_or(5432)
}

/// `url` with its port replaced.
pub fn via(url: &str, port: u16) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_port(Some(port)).unwrap();
    url.to_string()
}
