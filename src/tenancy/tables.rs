//! A tenant table as the engine sees it — columns, the key it is read and
//! matched by, how its rows belong to a website, the tables it points at — and
//! the catalogue reads for one table's columns and key.

use sqlx::{PgConnection, Row};

use super::{Ownership, TenancyError};
use crate::sql::{QualifiedName, ident_list};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub not_null: bool,
    pub generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: written only with `OVERRIDING SYSTEM VALUE`.
    pub identity_always: bool,
    /// Its values hash the same on every database (a built-in type, or an
    /// array of one); others (enums, hashed by their oid, domains, extension
    /// and composite types) are hashed by their text.
    pub portable_hash: bool,
    /// Binary `COPY` carries no type oid for it: arrays of user-defined types
    /// and composites do, and are refused by a database whose oids differ.
    pub binary_safe: bool,
}

#[derive(Debug, Clone)]
pub struct TenantTable {
    pub name: QualifiedName,
    /// The table's oid on the shard it was read from.
    pub oid: u32,
    /// Partitioned: its rows live in partitions, whose row addresses (`ctid`)
    /// repeat from one partition to the next.
    pub partitioned: bool,
    /// How its rows belong to a website.
    pub owner: Ownership,
    pub columns: Vec<Column>,
    /// The primary key, or else a unique index over `NOT NULL` columns: what
    /// rows are ordered, resumed, upserted and matched by.
    pub primary_key: Vec<String>,
    /// Tenant tables this one references (excluding itself).
    pub parents: Vec<QualifiedName>,
    /// Those of `parents` it references only softly (deferrable, all-nullable
    /// or undeclared): a foreign-key cycle may be cut there.
    pub soft_parents: Vec<QualifiedName>,
    /// Copied before a soft parent, to cut a cycle: only a session that runs
    /// as a replica (foreign-key checks off) can write it.
    pub before_parents: bool,
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

    /// Binary `COPY` carries every copied column across databases.
    pub fn binary_copy(&self) -> bool {
        self.columns.iter().all(|c| c.generated || c.binary_safe)
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

    /// A condition picking the rows that `SELECT … {from_where}` finds, by row
    /// address: `alias` names the row in `from_where` (exposing `ctid` and
    /// `tableoid`). A partitioned table's rows are picked by partition too.
    pub fn rows_where(&self, alias: &str, from_where: &str) -> String {
        if self.partitioned {
            format!("(tableoid, ctid) IN (SELECT {alias}.tableoid, {alias}.ctid {from_where})")
        } else {
            format!("ctid = ANY(ARRAY(SELECT {alias}.ctid {from_where}))")
        }
    }

    /// SQL true when row `alias` belongs to `website` (a parameter or literal).
    pub fn belongs(&self, alias: &str, website: &str) -> String {
        self.owner.belongs(alias, website)
    }

    /// SQL giving row `alias`'s website.
    pub fn website_of(&self, alias: &str) -> String {
        self.owner.website_of(alias)
    }
}

/// Columns of `table` (quoted name), in table order; empty if the table is missing.
pub async fn columns(conn: &mut PgConnection, table: &str) -> Result<Vec<Column>, TenancyError> {
    let rows = sqlx::query(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS data_type,
                a.attnotnull AS not_null, a.attgenerated <> '' AS generated,
                a.attidentity = 'a' AS identity_always,
                t.oid < 16384 AND (t.typelem = 0 OR t.typelem < 16384) AS portable_hash,
                NOT (b.typtype = 'c' OR (b.typcategory = 'A' AND b.typelem >= 16384)
                     OR t.typelem >= 16384) AS binary_safe
           FROM pg_attribute a
           JOIN pg_type t ON t.oid = a.atttypid
           JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
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
            identity_always: r.get("identity_always"),
            portable_hash: r.get("portable_hash"),
            binary_safe: r.get("binary_safe"),
        })
        .collect())
}

/// Primary-key columns of `table` in key order; without a primary key, those
/// of its first unique index (by name) over `NOT NULL` columns only, with no
/// expression or predicate — such an index identifies a row just as well.
/// Empty when it has neither.
pub async fn primary_key(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<String>, TenancyError> {
    let rows = sqlx::query(
        "WITH candidate AS (
             SELECT i.indexrelid, i.indkey
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid
                AND i.indpred IS NULL AND i.indexprs IS NULL
                AND (i.indisprimary OR NOT EXISTS (
                      SELECT 1 FROM unnest(i.indkey::int2[]) k(attnum)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                       WHERE NOT a.attnotnull))
              ORDER BY i.indisprimary DESC, ic.relname
              LIMIT 1)
         SELECT a.attname AS name
           FROM candidate i
           CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum = k.attnum
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
