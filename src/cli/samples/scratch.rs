//! Throwaway databases on one Postgres server, for the demo, the benchmark and
//! the tests: created fresh under a given name, dropped when done.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgConnection};

use crate::config::{Settings, ShardSettings};
use crate::shard_status::ShardStatus;
use crate::sql::{audited, ident};

pub struct Server {
    base: url::Url,
}

impl Server {
    /// The server behind `url` (any database on it).
    pub fn from_url(url: &SecretString) -> anyhow::Result<Self> {
        let base = url::Url::parse(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("database.url is not a valid URL"))?;
        Ok(Self { base })
    }

    pub fn url_for(&self, database: &str) -> SecretString {
        let mut url = self.base.clone();
        url.set_path(&format!("/{database}"));
        SecretString::from(url.to_string())
    }

    async fn admin(&self) -> anyhow::Result<PgConnection> {
        let url = self.url_for("postgres");
        let location = format!(
            "{}:{}",
            self.base.host_str().unwrap_or("?"),
            self.base.port().unwrap_or(5432)
        );
        PgConnection::connect(url.expose_secret())
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at {location}: {e}"))
    }

    /// Drops `database` if it exists and creates it empty; returns its URL.
    pub async fn recreate(&self, database: &str) -> anyhow::Result<SecretString> {
        let mut admin = self.admin().await?;
        sqlx::raw_sql(audited(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(database)
        )))
        .execute(&mut admin)
        .await?;
        sqlx::raw_sql(audited(&format!("CREATE DATABASE {}", ident(database))))
            .execute(&mut admin)
            .await?;
        Ok(self.url_for(database))
    }

    pub async fn drop_database(&self, database: &str) -> anyhow::Result<()> {
        let mut admin = self.admin().await?;
        sqlx::raw_sql(audited(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(database)
        )))
        .execute(&mut admin)
        .await?;
        Ok(())
    }

    /// Drops `databases` once a run that used them ended, however it ended,
    /// and passes its result on (a failed drop is only reported).
    pub async fn dropping<T>(
        &self,
        databases: &[&str],
        result: anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        for name in databases {
            if let Err(e) = self.drop_database(name).await {
                eprintln!("could not drop {name}: {e:#}");
            }
        }
        result
    }
}

/// `base` with its control database and shards replaced.
pub fn settings_with(
    base: &Settings,
    control: SecretString,
    shards: &[(&str, SecretString)],
) -> Settings {
    let mut settings = base.clone();
    settings.database.url = control;
    settings.shards = shards
        .iter()
        .map(|(name, url)| {
            let shard = ShardSettings {
                url: url.clone(),
                status: ShardStatus::Available,
                capacity: None,
            };
            ((*name).to_owned(), shard)
        })
        .collect::<BTreeMap<_, _>>();
    settings.tenancy.default_shard = shards.first().map(|(name, _)| (*name).to_owned());
    settings
}

impl Server {
    /// Creates a plain login role (no superuser, no CREATEDB, no CREATEROLE) if
    /// none of that name exists; concurrent callers race safely.
    pub async fn ensure_role(&self, role: &str, password: &str) -> anyhow::Result<()> {
        let mut admin = self.admin().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(role)
                .fetch_one(&mut admin)
                .await?;
        if exists {
            return Ok(());
        }
        let sql = format!(
            "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}",
            ident(role),
            literal(password)
        );
        match sqlx::raw_sql(audited(&sql)).execute(&mut admin).await {
            Ok(_) => Ok(()),
            // Another test created it between our look and our create.
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("42710" | "23505")) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs statements as the superuser in `database`.
    pub async fn run_as_admin(&self, database: &str, statements: &[String]) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(self.url_for(database).expose_secret()).await?;
        for sql in statements {
            sqlx::raw_sql(audited(sql)).execute(&mut conn).await?;
        }
        Ok(())
    }

    /// The URL of `database` for `role` instead of the server's own user.
    pub fn url_as(&self, database: &str, role: &str, password: &str) -> SecretString {
        let mut url = self.base.clone();
        url.set_path(&format!("/{database}"));
        let _ = url.set_username(role);
        let _ = url.set_password(Some(password));
        SecretString::from(url.to_string())
    }
}

/// A string literal for the few statements that take no parameters (`PASSWORD`).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
