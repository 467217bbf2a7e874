//! Row-level security filters silently: a role it applies to would copy,
//! verify and delete only the rows its policies show it, and a move could end
//! with the source deleted and part of the website never copied. So preflight
//! refuses unless shardmover's role sees every row of every plan table.

use sqlx::PgConnection;

use crate::sql::ident;
use crate::tenancy::TenantTable;

/// Plan tables whose row-level security applies to the connected role, in plan
/// order. Superusers and `BYPASSRLS` roles are never subject to it; an owner
/// (or a member with the owner's rights) is, only when the table also has
/// `FORCE ROW LEVEL SECURITY`.
pub async fn filtered_tables(
    conn: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> = tables.iter().map(|t| t.name.quoted()).collect();
    sqlx::query_scalar(
        "SELECT c.oid::regclass::text
           FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n)
           JOIN pg_class c ON c.oid = to_regclass(t.name)
           JOIN pg_roles r ON r.rolname = current_user
          WHERE c.relrowsecurity
            AND NOT (r.rolsuper OR r.rolbypassrls)
            AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))
          ORDER BY t.n",
    )
    .bind(&names)
    .fetch_all(conn)
    .await
}

/// The item preflight lists when `tables` would be filtered for `role` (no
/// "; " inside: preflight joins items with it).
/// `BYPASSRLS` is the fix to name: ownership does not help a forced table, and
/// handing the application's tables to shardmover is not ours to suggest.
pub(crate) fn refusal(role: &str, tables: &[String]) -> Option<String> {
    (!tables.is_empty()).then(|| {
        format!(
            "BYPASSRLS, as row-level security would hide rows of {} from it \
             (as a superuser: ALTER ROLE {} BYPASSRLS)",
            tables.join(", "),
            ident(role)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_without_row_level_security_need_nothing() {
        assert_eq!(refusal("shardmover", &[]), None);
    }

    #[test]
    fn the_refusal_names_every_table_and_the_statement_that_fixes_it() {
        let tables = ["pages".to_owned(), "app.orders".to_owned()];
        let item = refusal("shard mover", &tables).unwrap();
        assert!(item.contains("pages, app.orders"), "{item}");
        assert!(
            item.contains("ALTER ROLE \"shard mover\" BYPASSRLS"),
            "{item}"
        );
    }
}
