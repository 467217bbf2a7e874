//! Discovers a shard's tenant tables from the Postgres catalogue: every table in
//! the configured schemas that has the key column, with its columns, primary key
//! and foreign keys to other tenant tables.

use sqlx::{PgConnection, Row};

use super::TenancyError;
use crate::config::TenancySettings;
use crate::sql::{QualifiedName, ident, ident_list};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub not_null: bool,
    pub generated: bool,
}

#[derive(Debug, Clone)]
pub struct TenantTable {
    pub name: QualifiedName,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Tenant tables this one references (excluding itself).
    pub parents: Vec<QualifiedName>,
    /// Has a foreign key to itself (Postgres checks it at the end of each
    /// statement, so a child may not arrive before its parent in another one).
    pub self_referencing: bool,
    /// The columns of those self-references.
    pub self_keys: Vec<String>,
}

impl TenantTable {
    /// Columns COPY carries: generated columns are recomputed by the target.
    pub fn copy_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| c.name.as_str())
            .collect()
    }

    pub fn copy_column_list(&self) -> String {
        ident_list(&self.copy_columns())
    }

    /// A self-referencing table whose self-references may be NULL goes in
    /// bounded chunks: rows first with those columns NULL, then the links in a
    /// second keyed pass; deletes unlink before they delete. Otherwise it goes
    /// as one chunk and one statement.
    pub fn links_later(&self) -> bool {
        self.self_referencing
            && self.self_keys.iter().all(|k| {
                !self.primary_key.contains(k)
                    && self
                        .columns
                        .iter()
                        .any(|c| c.name == *k && !c.not_null && !c.generated)
            })
    }

    pub fn primary_key_list(&self) -> String {
        ident_list(&self.primary_key)
    }
}

/// Lists the tenant tables of the connected database, sorted by name.
pub async fn discover(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<TenantTable>, TenancyError> {
    let rows = sqlx::query(
        "SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND n.nspname = ANY($1) AND n.nspname <> 'shardmover'
            AND EXISTS (SELECT 1 FROM pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attname = $2
                           AND a.attnum > 0 AND NOT a.attisdropped)
          ORDER BY 2, 3",
    )
    .bind(&tenancy.schemas)
    .bind(&tenancy.key_column)
    .fetch_all(&mut *conn)
    .await
    .map_err(TenancyError::database(|| "listing tenant tables".into()))?;

    let registry = QualifiedName::parse(&tenancy.registry_table, "public");
    let mut found = Vec::new();
    for row in rows {
        let name = QualifiedName::new(row.get::<String, _>("schema"), row.get::<String, _>("name"));
        if name == registry || is_excluded(&name, &tenancy.exclude_tables) {
            continue;
        }
        found.push((row.get::<i64, _>("oid"), name));
    }
    let oids: Vec<i64> = found.iter().map(|(oid, _)| *oid).collect();
    let edges = foreign_keys(conn, &oids).await?;
    let mut tables = Vec::with_capacity(found.len());
    for (oid, name) in &found {
        let mut parents = Vec::new();
        let mut self_keys: Vec<String> = Vec::new();
        let mut self_referencing = false;
        for (child, parent, keys) in &edges {
            if child != oid {
                continue;
            }
            if parent == oid {
                self_referencing = true;
                for key in keys {
                    if !self_keys.contains(key) {
                        self_keys.push(key.clone());
                    }
                }
            } else if let Some((_, parent_name)) = found.iter().find(|(o, _)| o == parent)
                && !parents.contains(parent_name)
            {
                parents.push(parent_name.clone());
            }
        }
        tables.push(TenantTable {
            name: name.clone(),
            columns: columns(conn, &name.quoted()).await?,
            primary_key: primary_key(conn, &name.quoted()).await?,
            parents,
            self_referencing,
            self_keys,
        });
    }
    Ok(tables)
}

fn is_excluded(name: &QualifiedName, excludes: &[String]) -> bool {
    excludes
        .iter()
        .any(|e| *e == name.name || *e == name.to_string())
}

/// (child, parent, the child's key columns) of every foreign key between them.
async fn foreign_keys(
    conn: &mut PgConnection,
    oids: &[i64],
) -> Result<Vec<(i64, i64, Vec<String>)>, TenancyError> {
    let rows = sqlx::query(
        "SELECT conrelid::int8 AS child, confrelid::int8 AS parent,
                ARRAY(SELECT a.attname::text FROM pg_attribute a
                       WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) AS keys
           FROM pg_constraint c
          WHERE contype = 'f' AND conrelid::int8 = ANY($1) AND confrelid::int8 = ANY($1)",
    )
    .bind(oids)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| "reading foreign keys".into()))?;
    Ok(rows
        .iter()
        .map(|r| (r.get("child"), r.get("parent"), r.get("keys")))
        .collect())
}

/// Columns of `table` (quoted name), in table order; empty if the table is missing.
pub async fn columns(conn: &mut PgConnection, table: &str) -> Result<Vec<Column>, TenancyError> {
    let rows = sqlx::query(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS data_type,
                a.attnotnull AS not_null, a.attgenerated <> '' AS generated
           FROM pg_attribute a
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum",
    )
    .bind(table)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| {
        format!("reading the columns of {table}")
    }))?;
    Ok(rows
        .iter()
        .map(|r| Column {
            name: r.get("name"),
            data_type: r.get("data_type"),
            not_null: r.get("not_null"),
            generated: r.get("generated"),
        })
        .collect())
}

/// Primary-key columns of `table` in key order; empty when it has none.
pub async fn primary_key(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<String>, TenancyError> {
    let rows = sqlx::query(
        "SELECT a.attname AS name
           FROM pg_index i
           CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = to_regclass($1) AND i.indisprimary
          ORDER BY k.ord",
    )
    .bind(table)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| {
        format!("reading the primary key of {table}")
    }))?;
    Ok(rows.iter().map(|r| r.get("name")).collect())
}

/// `WHERE` clause selecting one website's rows; `key` is the configured key column.
pub fn tenant_filter(key_column: &str, website: i64) -> String {
    format!(
        "{} = {}",
        ident(key_column),
        crate::sql::literal_i64(website)
    )
}
