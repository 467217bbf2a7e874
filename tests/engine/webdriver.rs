//! Headless Chromium for the browser tests: a chromedriver started on a free
//! port for one test (killed when dropped), driven by `fantoccini` over plain
//! HTTP on loopback (no TLS stack). `Browser` keeps the tests' vocabulary —
//! each step fails the test with what went wrong instead of returning an error.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    /// Starts chromedriver, or `None` (the caller skips) when it is not installed.
    pub async fn start() -> Option<Self> {
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .map(str::to_owned)
            .or_else(|| which("chromedriver"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed but did not start");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = reqwest::get(format!("{}/status", driver.url)).await;
            if let Ok(response) = ready
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver never became ready");
    }

    /// A headless Chromium session at `width` × 900.
    pub async fn browser(&self, width: u32) -> Browser {
        let chromium = [
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists());
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            format!("--window-size={width},900"),
        ]});
        if let Some(path) = chromium {
            options["binary"] = json!(path);
        }
        let Value::Object(capabilities) = json!({
            "browserName": "chrome", "goog:chromeOptions": options,
            "unhandledPromptBehavior": "ignore",
        }) else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("no WebDriver session: {error}"));
        Browser { client }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<String> {
    std::env::var("PATH").ok()?.split(':').find_map(|dir| {
        let path = Path::new(dir).join(name);
        path.exists().then(|| path.to_string_lossy().into_owned())
    })
}

pub struct Browser {
    client: Client,
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("WebDriver goto {url}: {error}"));
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self.client.find(Locator::Css(css)).await;
        Element(found.unwrap_or_else(|error| panic!("no element {css}: {error}")))
    }

    /// The page's visible text, read in one step (empty while a page loads).
    pub async fn text(&self) -> String {
        let script = "return document.body ? document.body.innerText : '';";
        self.client
            .execute(script, Vec::new())
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub async fn script(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("WebDriver script {script}: {error}"))
    }

    pub async fn accept_alert(&self) {
        self.client.accept_alert().await.unwrap();
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Waits up to `seconds` for the page text to contain `text`.
    pub async fn wait_for_text(&self, text: &str, seconds: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let body = self.text().await;
            if body.contains(text) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared; the page says:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn quit(self) {
        let _ = self.client.close().await;
    }
}

pub struct Element(fantoccini::elements::Element);

impl Element {
    pub async fn click(&self) {
        self.0.click().await.unwrap();
    }

    pub async fn type_text(&self, text: &str) {
        self.0.send_keys(text).await.unwrap();
    }
}
