//! The application's own role in the bench's databases: a plain login role
//! (not a superuser, as shardmover's sessions in the bench are) with the
//! rights an application has — reading the registry, writing its tables — so
//! the neighbours' sessions are the application's, apart from shardmover's,
//! as in the engine tests. The role is the server's; the bench drops it at
//! the end.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;

use super::pool;
use super::writer::Route;
use crate::cli::samples::scratch::Server;
use crate::sql::ident;

pub(super) const APP_ROLE: &str = "shardmover_bench_app";
/// Only for the bench's own scratch databases, dropped with the role.
const PASSWORD: &str = "shardmover-bench-only";

/// The application's connections: its registry and its shards by name, and
/// the shards' URLs for sessions of its own.
pub(super) struct AppRole {
    pub route: Arc<Route>,
    pub urls: HashMap<String, SecretString>,
}

/// Creates the role if need be and grants it the application's rights in
/// `control` and each of `shards` (shard name, database), whose schemas exist.
pub(super) async fn connect(
    server: &Server,
    control: &str,
    shards: &[(&str, &str)],
) -> anyhow::Result<AppRole> {
    server.ensure_role(APP_ROLE, PASSWORD).await?;
    let role = ident(APP_ROLE);
    let connect =
        |database: &str| format!("GRANT CONNECT ON DATABASE {} TO {role}", ident(database));
    server
        .run_as_admin(
            control,
            &[
                connect(control),
                format!("GRANT SELECT ON pwb_websites TO {role}"),
            ],
        )
        .await?;
    let mut route = Route {
        control: pool(&server.url_as(control, APP_ROLE, PASSWORD)).await?,
        shards: HashMap::new(),
    };
    let mut urls = HashMap::new();
    for (name, database) in shards {
        let grants = [
            connect(database),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
            format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        ];
        server.run_as_admin(database, &grants).await?;
        let url = server.url_as(database, APP_ROLE, PASSWORD);
        route.shards.insert((*name).to_owned(), pool(&url).await?);
        urls.insert((*name).to_owned(), url);
    }
    Ok(AppRole {
        route: Arc::new(route),
        urls,
    })
}

/// Drops the role, once the databases it had rights in are gone.
pub(super) async fn drop_role(server: &Server) -> anyhow::Result<()> {
    let sql = format!("DROP ROLE IF EXISTS {}", ident(APP_ROLE));
    server.run_as_admin("postgres", &[sql]).await
}
