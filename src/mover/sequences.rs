//! Phase 5: advances every sequence owned by a tenant table's column (serial or
//! identity) on the target past the largest value this move brought there.

use sqlx::{PgPool, Row};

use super::error::{Context, MoveError};
use crate::ids::WebsiteId;
use crate::sql::{audited, ident};
use crate::tenancy::TenantTable;

pub async fn advance(
    target: &PgPool,
    tables: &[TenantTable],
    key_column: &str,
    website: WebsiteId,
) -> Result<u32, MoveError> {
    let mut advanced = 0;
    for table in tables {
        let quoted = table.name.quoted();
        let owned = sqlx::query(
            "SELECT s.oid::regclass::text AS sequence, a.attname AS column_name
               FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                AND d.refobjid = to_regclass($1) AND d.deptype IN ('a', 'i')",
        )
        .bind(&quoted)
        .fetch_all(target)
        .await
        .context(|| format!("listing the sequences of {}", table.name))?;
        for row in owned {
            let sequence: String = row.get("sequence");
            let column: String = row.get("column_name");
            let sql = format!(
                "SELECT setval($1::regclass, greatest(m, coalesce(pg_sequence_last_value($1::regclass), m)))
                   FROM (SELECT max({col})::int8 AS m FROM {quoted} WHERE {key} = $2) x
                  WHERE m IS NOT NULL",
                col = ident(&column),
                key = ident(key_column),
            );
            sqlx::query(audited(&sql))
                .bind(&sequence)
                .bind(website.get())
                .execute(target)
                .await
                .context(|| format!("advancing sequence {sequence}"))?;
            advanced += 1;
        }
    }
    Ok(advanced)
}
