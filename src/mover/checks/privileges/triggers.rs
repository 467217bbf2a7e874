//! The application's own triggers must not fire for rows shardmover copies,
//! replays or deletes (an audit trigger would log a move as edits, a counter
//! would count rows twice). Its sessions turn them off with
//! `session_replication_role = replica`, which a role may set only if granted
//! (PostgreSQL 15: `GRANT SET ON PARAMETER`) or as a superuser; every write
//! transaction of shardmover sets it through `db::bypass_fence`.

use sqlx::PgConnection;

use crate::sql::ident;
use crate::tenancy::TenantTable;

const PARAMETER: &str = "session_replication_role";

/// Whether the connected role may set `session_replication_role`.
pub async fn may_set_replication_role(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let (superuser, version): (bool, i32) = sqlx::query_as(
        "SELECT rolsuper, current_setting('server_version_num')::int
           FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await?;
    // has_parameter_privilege (and the grant) arrived in PostgreSQL 15.
    if superuser || version < 150_000 {
        return Ok(superuser);
    }
    sqlx::query_scalar("SELECT has_parameter_privilege($1, 'SET')")
        .bind(PARAMETER)
        .fetch_one(conn)
        .await
}

/// The enabled user triggers (`table.trigger`) on the plan's tables and on the
/// tables that inherit from them (partitions included: a write through the
/// parent fires theirs), minus shardmover's own. A partition's clone of its
/// parent's trigger is named once, as the parent's.
pub async fn application_triggers(
    conn: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> = tables.iter().map(|t| t.name.quoted()).collect();
    sqlx::query_scalar(
        "WITH RECURSIVE rel(oid) AS (
             SELECT to_regclass(n)::oid FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL
             UNION
             SELECT i.inhrelid FROM pg_inherits i JOIN rel ON i.inhparent = rel.oid
         ), trg AS (
             SELECT t.oid, t.tgparentid, t.tgrelid, t.tgname
               FROM pg_trigger t JOIN rel ON t.tgrelid = rel.oid
              WHERE NOT t.tgisinternal
                AND t.tgenabled <> 'D'
                AND t.tgname NOT LIKE 'shardmover\\_%'
         )
         SELECT format('%s.%s', t.tgrelid::regclass, quote_ident(t.tgname)) FROM trg t
          WHERE NOT EXISTS (SELECT 1 FROM trg p WHERE p.oid = t.tgparentid)
          ORDER BY 1",
    )
    .bind(&names)
    .fetch_all(conn)
    .await
}

/// The item preflight lists when `triggers` would fire because `role` may not
/// turn them off.
pub(crate) fn refusal(role: &str, may_set: bool, triggers: &[String]) -> Option<String> {
    (!may_set && !triggers.is_empty()).then(|| {
        format!(
            "SET on parameter {PARAMETER}, as its copies, replays and deletes would fire \
             the application's triggers {} (as a superuser: {})",
            triggers.join(", "),
            grant(role)
        )
    })
}

/// The statement that lets `role` turn the application's triggers off.
pub(super) fn grant(role: &str) -> String {
    format!("GRANT SET ON PARAMETER {PARAMETER} TO {}", ident(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triggers() -> Vec<String> {
        vec!["pages.audit".to_owned(), "orders.\"Notify\"".to_owned()]
    }

    #[test]
    fn a_role_that_may_not_set_it_is_refused_naming_each_trigger_and_the_grant() {
        let item = refusal("shardmover", false, &triggers()).unwrap();
        assert!(item.contains("pages.audit, orders.\"Notify\""), "{item}");
        assert!(
            item.contains("GRANT SET ON PARAMETER session_replication_role TO \"shardmover\""),
            "{item}"
        );
    }

    #[test]
    fn a_role_that_may_set_it_or_tables_without_triggers_need_nothing() {
        assert_eq!(refusal("shardmover", true, &triggers()), None);
        assert_eq!(refusal("shardmover", false, &[]), None);
    }
}
