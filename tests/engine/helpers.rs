//! A fresh control database and two fresh shard databases per test, with the
//! sample application schema; dropped when the test ends. As in production, the
//! superuser only creates the databases and the roles (and grants shardmover's
//! one server-wide parameter): the application owns its tables and writes as
//! `sm_test_app`, shardmover runs as `sm_test_mover` with exactly the grants
//! docs/roles-and-privileges.md documents.

use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use shardmover::cli::samples::scratch::{Server, settings_with};
use shardmover::cli::samples::{self, tenant::Scale};
use shardmover::config::Settings;
use shardmover::domain::{MoveMode, MoveRequest, Phase};
use shardmover::ids::{MoveId, ShardName, WebsiteId};
use shardmover::mover::{Mover, ProgressSink, Snapshot, privileges};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub const TABLES: [&str; 5] = [
    "pages",
    "page_parts",
    "products",
    "orders",
    "website_settings",
];

pub fn server_url() -> SecretString {
    SecretString::from(
        std::env::var("SHARDMOVER_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    )
}

pub fn website(id: i64) -> WebsiteId {
    WebsiteId::new(id).unwrap()
}

pub fn shard(name: &str) -> ShardName {
    ShardName::parse(name).unwrap()
}

pub const APP_ROLE: &str = "sm_test_app";
pub const MOVER_ROLE: &str = "sm_test_mover";
const ROLE_PASSWORD: &str = "sm-test-only";

pub struct TestEnv {
    /// shardmover's settings: every URL connects as `MOVER_ROLE`.
    pub settings: Settings,
    /// The control database as shardmover.
    pub control: PgPool,
    /// The control database as the application (owner of the registry).
    pub app_control: PgPool,
    /// The shards as the application, which owns and writes the tenant tables.
    pub shard_1: PgPool,
    pub shard_2: PgPool,
    /// The shards as shardmover (as in `settings`).
    pub shard_urls: [SecretString; 2],
    /// The shards as the application.
    pub app_urls: [SecretString; 2],
    mover_shards: [PgPool; 2],
    names: Vec<String>,
}

impl TestEnv {
    /// Runs each notice job queued right now once, with the job's own handler,
    /// as a worker would (ignoring `run_at`, so a retry scheduled for later
    /// runs now; retries it queues wait for the next call).
    pub async fn drain_notices(&self, notifier: &Arc<shardmover::mail::Notifier>) -> usize {
        let queued: Vec<Vec<u8>> = sqlx::query_scalar(
            "UPDATE apalis.jobs SET status = 'Done'
              WHERE job_type = $1 AND status = 'Pending' RETURNING job",
        )
        .bind(<shardmover::jobs::NotifyJob as shardmover::jobs::Job>::QUEUE)
        .fetch_all(&self.control)
        .await
        .unwrap();
        for payload in &queued {
            let job = serde_json::from_slice(payload).unwrap();
            shardmover::jobs::run_notify(job, apalis::prelude::Data::new(notifier.clone()))
                .await
                .unwrap();
        }
        queued.len()
    }

    /// Control database plus `shard_1` and `shard_2`, both with the sample schema.
    pub async fn new() -> Self {
        let server = Server::from_url(&server_url()).unwrap();
        let prefix = format!("sm_test_{:016x}", rand::random::<u64>());
        let names: Vec<String> = ["control", "shard_1", "shard_2"]
            .iter()
            .map(|n| format!("{prefix}_{n}"))
            .collect();
        for role in [APP_ROLE, MOVER_ROLE] {
            server
                .ensure_role(role, ROLE_PASSWORD)
                .await
                .expect("PostgreSQL must be reachable for the tests");
        }
        grant_parameters(&server).await;
        let (mut app, mut mover) = (Vec::new(), Vec::new());
        for name in &names {
            server.recreate(name).await.unwrap();
            let mut grants = vec![
                format!("GRANT CONNECT, TEMPORARY ON DATABASE \"{name}\" TO {APP_ROLE}"),
                format!("ALTER SCHEMA public OWNER TO {APP_ROLE}"),
            ];
            grants.extend(privileges::database_grants(name, MOVER_ROLE));
            server.run_as_admin(name, &grants).await.unwrap();
            app.push(server.url_as(name, APP_ROLE, ROLE_PASSWORD));
            mover.push(server.url_as(name, MOVER_ROLE, ROLE_PASSWORD));
        }
        let base = Settings::load(None).unwrap();
        let mut settings = settings_with(
            &base,
            mover[0].clone(),
            &[("shard_1", mover[1].clone()), ("shard_2", mover[2].clone())],
        );
        // Mail is off unless a test starts its own SMTP server (see `smtp.rs`).
        settings.mail.smtp_host.clear();
        // The application's own schema and its grants to shardmover, by the application.
        let app_control = pool(&app[0]).await;
        samples::tenant::create_registry(&app_control)
            .await
            .unwrap();
        run_all(
            &app_control,
            &privileges::control_grants(MOVER_ROLE, &settings.tenancy),
        )
        .await;
        let (shard_1, shard_2) = (pool(&app[1]).await, pool(&app[2]).await);
        for shard in [&shard_1, &shard_2] {
            samples::tenant::create_shard_schema(shard).await.unwrap();
            run_all(
                shard,
                &privileges::shard_grants(MOVER_ROLE, &settings.tenancy.schemas),
            )
            .await;
        }
        let control = pool(&mover[0]).await;
        shardmover::startup::migrate(&control).await.unwrap();
        Self {
            settings,
            control,
            app_control,
            shard_1,
            shard_2,
            mover_shards: [pool(&mover[1]).await, pool(&mover[2]).await],
            shard_urls: [mover[1].clone(), mover[2].clone()],
            app_urls: [app[1].clone(), app[2].clone()],
            names,
        }
    }

    /// A shard's database name.
    fn database(&self, shard: &str) -> &str {
        match shard {
            "shard_1" => &self.names[1],
            "shard_2" => &self.names[2],
            other => panic!("no shard {other}"),
        }
    }

    /// A shard's URL for the server's superuser.
    pub fn superuser_url(&self, shard: &str) -> SecretString {
        Server::from_url(&server_url())
            .unwrap()
            .url_for(self.database(shard))
    }

    /// Runs `statements` on a shard as the superuser (extensions the
    /// application's role may not create).
    pub async fn as_superuser(&self, shard: &str, statements: &[&str]) {
        let statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
        Server::from_url(&server_url())
            .unwrap()
            .run_as_admin(self.database(shard), &statements)
            .await
            .unwrap();
    }

    /// A shard as shardmover sees it (its own schema `shardmover` included).
    pub fn as_mover(&self, name: &str) -> &PgPool {
        match name {
            "shard_1" => &self.mover_shards[0],
            "shard_2" => &self.mover_shards[1],
            other => panic!("no shard {other}"),
        }
    }

    pub fn mover(&self) -> Mover {
        new_mover(Arc::new(self.settings.clone()), self.control.clone())
    }

    pub fn mover_with(&self, change: impl FnOnce(&mut Settings)) -> Mover {
        let mut settings = self.settings.clone();
        change(&mut settings);
        new_mover(Arc::new(settings), self.control.clone())
    }

    pub fn pool(&self, name: &str) -> &PgPool {
        match name {
            "shard_1" => &self.shard_1,
            "shard_2" => &self.shard_2,
            other => panic!("no shard {other}"),
        }
    }

    /// Seeds `rows` rows of `website` on `shard` and registers it there.
    pub async fn seed(&self, website_id: i64, shard_name: &str, rows: i64) {
        samples::tenant::seed(
            self.pool(shard_name),
            website(website_id),
            Scale::total_rows(rows),
        )
        .await
        .unwrap();
        samples::tenant::register(&self.app_control, website(website_id), shard_name)
            .await
            .unwrap();
    }

    pub async fn registry(&self, website_id: i64) -> Option<String> {
        sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
            .bind(website_id)
            .fetch_one(&self.control)
            .await
            .unwrap()
    }

    pub async fn request(
        &self,
        mover: &Mover,
        website_id: i64,
        target: &str,
        batch_rows: u32,
    ) -> MoveId {
        self.request_in_mode(mover, website_id, target, batch_rows, MoveMode::Online)
            .await
    }

    /// An offline move: the website's writes are fenced from the copy on.
    pub async fn request_offline(
        &self,
        mover: &Mover,
        website_id: i64,
        target: &str,
        batch_rows: u32,
    ) -> MoveId {
        self.request_in_mode(mover, website_id, target, batch_rows, MoveMode::Offline)
            .await
    }

    async fn request_in_mode(
        &self,
        mover: &Mover,
        website_id: i64,
        target: &str,
        batch_rows: u32,
        mode: MoveMode,
    ) -> MoveId {
        let request = MoveRequest {
            website: website(website_id),
            target: shard(target),
            keep_source: false,
            batch_rows: Some(batch_rows),
            requested_by: shardmover::ids::EmailAddress::parse("test@example.com").ok(),
            notes: None,
            mode,
        };
        mover.request(&request).await.unwrap().id
    }
}

/// The superuser's server-wide grants to shardmover's role. Granting again is a
/// no-op, but two sessions granting at once can fail with "tuple concurrently
/// updated": an advisory lock (in database `postgres`, which every test shares)
/// takes them in turn.
async fn grant_parameters(server: &Server) {
    let lock = "hashtext('shardmover tests: parameter grants')";
    let mut statements = vec![format!("SELECT pg_advisory_lock({lock})")];
    statements.extend(privileges::parameter_grants(MOVER_ROLE));
    statements.push(format!("SELECT pg_advisory_unlock({lock})"));
    server.run_as_admin("postgres", &statements).await.unwrap();
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.names);
        // Async work cannot run in Drop; a short-lived runtime on its own thread can.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let server = Server::from_url(&server_url()).unwrap();
                for name in names {
                    let _ = server.drop_database(&name).await;
                }
            });
        })
        .join();
    }
}

async fn run_all(pool: &PgPool, statements: &[String]) {
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(pool)
            .await
            .unwrap();
    }
}

pub async fn pool(url: &SecretString) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .connect(url.expose_secret())
        .await
        .unwrap()
}

/// Every row of `website` in every sample table, as text, sorted: a full picture to compare.
pub async fn dump(pool: &PgPool, website_id: i64) -> Vec<String> {
    let mut all = Vec::new();
    for table in TABLES {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT '{table}:' || ROW(t.*)::text FROM {table} t WHERE website_id = $1 ORDER BY 1"
        )))
        .bind(website_id)
        .fetch_all(pool)
        .await
        .unwrap();
        all.extend(rows);
    }
    all
}

/// Every row of every website on the shard, plus its fence list: "nothing changed" means this is equal.
pub async fn whole_shard(env: &TestEnv, shard: &str) -> Vec<String> {
    let pool = env.pool(shard);
    let mut all = Vec::new();
    for table in TABLES {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT ROW(t.*)::text FROM {table} t ORDER BY 1"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        all.extend(rows);
    }
    all.extend(
        fences(env, shard)
            .await
            .iter()
            .map(|w| format!("fence:{w}")),
    );
    all
}

/// The websites `shard` fences (read as shardmover: the application sees nothing of ours).
pub async fn fences(env: &TestEnv, shard: &str) -> Vec<i64> {
    let present: bool =
        sqlx::query_scalar("SELECT to_regclass('shardmover.fenced_websites') IS NOT NULL")
            .fetch_one(env.as_mover(shard))
            .await
            .unwrap();
    if !present {
        return Vec::new();
    }
    sqlx::query_scalar("SELECT website_id FROM shardmover.fenced_websites ORDER BY 1")
        .fetch_all(env.as_mover(shard))
        .await
        .unwrap()
}

/// A progress sink that, once the move has copied `after_rows` rows, runs an
/// action (the test's interference) to completion before the move goes on.
/// The action gets its own thread, runtime and connections, so it never
/// depends on the runtime it is holding still.
pub struct Interlude {
    phase: Phase,
    after_rows: u64,
    action: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    ran: Mutex<bool>,
}

impl Interlude {
    pub fn after(after_rows: u64, action: impl FnOnce() + Send + 'static) -> Self {
        Self {
            phase: Phase::Copying,
            after_rows,
            action: Mutex::new(Some(Box::new(action))),
            ran: Mutex::new(false),
        }
    }

    /// Runs the action as the move enters `phase`, before the phase's work.
    pub fn on_entering(phase: Phase, action: impl FnOnce() + Send + 'static) -> Self {
        Self {
            phase,
            ..Self::after(0, action)
        }
    }

    pub fn ran(&self) -> bool {
        *self.ran.lock().unwrap()
    }
}

impl ProgressSink for Interlude {
    fn update(&self, s: &Snapshot) {
        if s.phase != self.phase || s.rows_copied < self.after_rows {
            return;
        }
        if let Some(action) = self.action.lock().unwrap().take() {
            std::thread::spawn(action)
                .join()
                .expect("the interlude's action failed");
            *self.ran.lock().unwrap() = true;
        }
    }
}

/// Waits for a thread (a worker stopped by the test) off the test's runtime,
/// which may be serving what the thread still needs (a proxy, an API, SMTP):
/// a blocking `join` there could wait for ever. Fails after `secs` seconds.
pub async fn join_thread<T: Send + 'static>(thread: std::thread::JoinHandle<T>, secs: u64) -> T {
    let joined = tokio::task::spawn_blocking(move || thread.join());
    match tokio::time::timeout(std::time::Duration::from_secs(secs), joined).await {
        Ok(result) => result.expect("joining").expect("the thread panicked"),
        Err(_) => panic!("the thread did not end within {secs} s of being stopped"),
    }
}

/// Runs a future to completion on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs the binary against the test databases: (success, stdout, stderr).
pub fn shardmover_cli(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    use secrecy::ExposeSecret;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardmover"))
        .args(args)
        .env(
            "SHARDMOVER__DATABASE__URL",
            env.settings.database.url.expose_secret(),
        )
        .env(
            "SHARDMOVER__SHARDS__SHARD_1__URL",
            env.shard_urls[0].expose_secret(),
        )
        .env(
            "SHARDMOVER__SHARDS__SHARD_2__URL",
            env.shard_urls[1].expose_secret(),
        )
        .env("SHARDMOVER__LOG__LEVEL", "warn")
        .env("USER", "cli@example.com")
        .output()
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

/// After 250 rows, changes a row the copy already committed on shard_2 (chunk 0
/// of website 7's pages, at 100-row chunks): verification must catch it.
pub fn rot_a_copied_row(env: &TestEnv) -> Interlude {
    let url = env.app_urls[1].clone();
    Interlude::after(250, move || {
        block_on(async move {
            sqlx::query("UPDATE pages SET title = 'bit rot' WHERE id = 700000050")
                .execute(&pool(&url).await)
                .await
                .unwrap();
        })
    })
}

/// Rows of `website_id` on `shard_name` without registering it there (a
/// leftover that makes a move to that shard refuse).
pub async fn seed_rows_only(env: &TestEnv, website_id: i64, shard_name: &str) {
    samples::tenant::seed(
        env.pool(shard_name),
        website(website_id),
        Scale::total_rows(20),
    )
    .await
    .unwrap();
}

/// Deletes every row of `website_id` on `shard_name`, children first.
pub async fn delete_rows(env: &TestEnv, website_id: i64, shard_name: &str) {
    for table in [
        "page_parts",
        "pages",
        "orders",
        "products",
        "website_settings",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE website_id = $1"
        )))
        .bind(website_id)
        .execute(env.pool(shard_name))
        .await
        .unwrap();
    }
}

/// The move engine over `settings` and `control`, telling each move's end to
/// the notices, as every entry point builds it.
pub fn new_mover(settings: Arc<Settings>, control: PgPool) -> Mover {
    shardmover::startup::mover(shardmover::app::App::new(settings, control))
}
