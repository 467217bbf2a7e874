//! What shardmover's own role must be allowed, as grants to hand an operator
//! (docs/roles-and-privileges.md prints them; the tests run exactly these) and
//! as a preflight check that names everything missing before anything is
//! touched.

mod rls;
mod triggers;

use sqlx::{PgConnection, PgPool};

pub use rls::filtered_tables;
pub use triggers::{application_triggers, may_set_replication_role};

use crate::app::App;
use crate::config::TenancySettings;
use crate::ids::ShardName;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::routes::control_conn;
use crate::sql::{QualifiedName, ident};
use crate::tenancy::TenantTable;

/// Table privileges on every tenant table of every shard: read and verify
/// (`SELECT`), copy in (`INSERT`), replay an online move's changes (`UPDATE`),
/// clean up and roll back (`DELETE`, which also
/// allows the fence's `LOCK TABLE`), and the fence's triggers (`TRIGGER`).
const TABLE_PRIVILEGES: [&str; 5] = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRIGGER"];
/// On the sequences of tenant tables: read and advance them after a copy.
const SEQUENCE_PRIVILEGES: [&str; 2] = ["SELECT", "UPDATE"];

/// Run by a superuser or the database's owner, on the control database and on
/// every shard: connect, create schema `shardmover` (and `apalis` on the
/// control database), and make the temporary tables preflight uses.
pub fn database_grants(database: &str, role: &str) -> Vec<String> {
    vec![format!(
        "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}",
        ident(database),
        ident(role)
    )]
}

/// Run once per server by a superuser (parameter privileges are cluster-wide):
/// shardmover's sessions turn the application's triggers off for the rows they
/// copy, replay and delete.
pub fn parameter_grants(role: &str) -> Vec<String> {
    vec![triggers::grant(role)]
}

/// Run on every shard by the owner of the tenant tables.
pub fn shard_grants(role: &str, schemas: &[String]) -> Vec<String> {
    let role = ident(role);
    let tables = TABLE_PRIVILEGES.join(", ");
    let sequences = SEQUENCE_PRIVILEGES.join(", ");
    schemas
        .iter()
        .flat_map(|schema| {
            let schema = ident(schema);
            [
                format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
                format!("GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {role}"),
                format!("GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
                format!(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {tables} ON TABLES TO {role}"
                ),
                format!(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {sequences} ON SEQUENCES TO {role}"
                ),
            ]
        })
        .collect()
}

/// Run on the control database by the owner of the tenant registry (and of
/// schema `public`): shardmover reads where websites live and rewrites it at
/// cutover and assignment. The job queue's own migrations (apalis) install the
/// `pgcrypto` extension and a `generate_ulid()` function unqualified, which
/// lands them in `public`.
pub fn control_grants(role: &str, tenancy: &TenancySettings) -> Vec<String> {
    let registry = QualifiedName::parse(&tenancy.registry_table, "public");
    let role = ident(role);
    let mut grants = vec![format!(
        "GRANT USAGE, CREATE ON SCHEMA \"public\" TO {role}"
    )];
    if registry.schema != "public" {
        grants.push(format!(
            "GRANT USAGE ON SCHEMA {} TO {role}",
            ident(&registry.schema)
        ));
    }
    grants.push(format!(
        "GRANT SELECT, UPDATE ON {} TO {role}",
        registry.quoted()
    ));
    grants
}

/// Everything shardmover's role lacks on the control database and both
/// shards, in one list, before anything is touched.
pub(crate) async fn check(
    app: &App,
    shards: [(&ShardName, &PgPool); 2],
    plan: &[TenantTable],
) -> Result<(), MoveError> {
    let mut missing = Vec::new();
    let mut conn = control_conn(app).await?;
    for item in missing_on_control(&mut conn, &app.settings.tenancy)
        .await
        .context(|| "checking privileges on the control database".into())?
    {
        missing.push(format!("{item} (control database)"));
    }
    drop(conn); // never held while waiting for a shard's
    for (name, pool) in shards {
        let mut conn = pool
            .acquire()
            .await
            .context(|| format!("connecting to {name}"))?;
        for item in missing_on_shard(&mut conn, plan)
            .await
            .context(|| format!("checking privileges on {name}"))?
        {
            missing.push(format!("{item} ({name})"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MoveError::MissingPrivileges(missing.join("; ")))
    }
}

/// What the connected role lacks on a shard for a move of `tables`, one
/// readable item each: grants, then row-level security that would hide rows
/// from it, then application triggers it could not keep from firing.
async fn missing_on_shard(
    conn: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<String>, sqlx::Error> {
    let mut missing = missing_grants(&mut *conn, tables).await?;
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await?;
    let filtered = rls::filtered_tables(&mut *conn, tables).await?;
    missing.extend(rls::refusal(&role, &filtered));
    if !triggers::may_set_replication_role(&mut *conn).await? {
        let found = triggers::application_triggers(&mut *conn, tables).await?;
        missing.extend(triggers::refusal(&role, false, &found));
    }
    Ok(missing)
}

async fn missing_grants(
    conn: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> = tables.iter().map(|t| t.name.quoted()).collect();
    let mut schemas: Vec<&str> = tables.iter().map(|t| t.name.schema.as_str()).collect();
    schemas.sort_unstable();
    schemas.dedup();
    sqlx::query_scalar(
        "WITH t(name) AS (SELECT unnest($1::text[]))
         SELECT 'USAGE on schema ' || quote_ident(s) FROM unnest($4::text[]) s
          WHERE NOT has_schema_privilege(s, 'USAGE')
         UNION ALL
         SELECT format('%s on table %s', p, t.name::regclass) FROM t, unnest($2::text[]) p
          WHERE NOT has_table_privilege(t.name, p)
         UNION ALL
         SELECT format('%s on sequence %s', p, s.oid::regclass)
           FROM t JOIN pg_depend d ON d.refobjid = t.name::regclass
                       AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S',
                unnest($3::text[]) p
          WHERE NOT has_sequence_privilege(s.oid, p)
         UNION ALL
         SELECT 'CREATE on database ' || current_database() || ' (to create schema shardmover)'
          WHERE to_regnamespace('shardmover') IS NULL
            AND NOT has_database_privilege(current_database(), 'CREATE')
         UNION ALL
         SELECT 'USAGE and CREATE on schema shardmover'
          WHERE to_regnamespace('shardmover') IS NOT NULL
            AND NOT (has_schema_privilege('shardmover', 'USAGE')
                     AND has_schema_privilege('shardmover', 'CREATE'))
         UNION ALL
         SELECT 'ownership of function ' || f.oid::regprocedure || ' (it was created by '
                || pg_get_userbyid(f.proowner) || ')'
           FROM pg_proc f
          WHERE f.pronamespace = to_regnamespace('shardmover')
            AND f.proname LIKE 'fence\\_guard%'
            AND NOT pg_has_role(f.proowner, 'USAGE')
         UNION ALL
         SELECT 'TEMPORARY on database ' || current_database()
          WHERE NOT has_database_privilege(current_database(), 'TEMPORARY')",
    )
    .bind(&names)
    .bind(TABLE_PRIVILEGES.as_slice())
    .bind(SEQUENCE_PRIVILEGES.as_slice())
    .bind(&schemas)
    .fetch_all(conn)
    .await
}

/// What the connected role lacks on the control database's tenant registry.
async fn missing_on_control(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<String>, sqlx::Error> {
    let registry = QualifiedName::parse(&tenancy.registry_table, "public").quoted();
    sqlx::query_scalar(
        "SELECT format('%s on table %s', p, $1::regclass) FROM unnest(ARRAY['SELECT', 'UPDATE']) p
          WHERE NOT has_table_privilege($1, p)",
    )
    .bind(&registry)
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented grants are what the test suite grants: they cannot drift apart.
    #[test]
    fn the_docs_show_exactly_the_grants_the_tests_run() {
        let docs = include_str!("../../../docs/roles-and-privileges.md");
        let tenancy = crate::config::Settings::load(None).unwrap().tenancy;
        let statements = database_grants("shard_1", "shardmover")
            .into_iter()
            .chain(parameter_grants("shardmover"))
            .chain(shard_grants("shardmover", &tenancy.schemas))
            .chain(control_grants("shardmover", &tenancy));
        for sql in statements {
            assert!(
                docs.contains(&format!("{sql};")),
                "docs/roles-and-privileges.md lacks {sql}"
            );
        }
    }
}
