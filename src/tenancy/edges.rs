//! The references between tables that decide which rows belong to a website:
//! foreign keys declared in the catalogue, relations given in the
//! configuration (`[[tenancy.relations]]`), and the foreign keys of tables
//! outside a move's plan that point into it (which a move must refuse: deleting
//! the source's rows would cascade into, or orphan, rows nobody copied).

use sqlx::{PgConnection, Row};

use super::discovery::{Candidate, named_in};
use super::tables::primary_key;
use super::{TenancyError, TenantTable};
use crate::config::TenancySettings;
use crate::sql::QualifiedName;

/// Child rows of `child` point at rows of `parent` by these columns.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    pub child: u32,
    pub parent: u32,
    pub columns: Vec<String>,
    pub parent_columns: Vec<String>,
    /// `None` for a configured relation.
    pub constraint: Option<String>,
    /// The database need not see the parent first: a configured relation, a
    /// deferrable foreign key, or one whose columns may all be NULL.
    pub soft: bool,
}

/// Every foreign key between two candidates, columns in key order.
pub(super) async fn declared_edges(
    conn: &mut PgConnection,
    candidates: &[Candidate],
) -> Result<Vec<Edge>, TenancyError> {
    let oids: Vec<i64> = candidates.iter().map(|c| i64::from(c.oid)).collect();
    let rows = sqlx::query(
        "SELECT c.conrelid::int8 AS child, c.confrelid::int8 AS parent, c.conname::text AS name,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                       ORDER BY k.o) AS columns,
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                       ORDER BY k.o) AS parent_columns,
                c.condeferrable OR NOT EXISTS (
                    SELECT 1 FROM unnest(c.conkey) k(n)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                     WHERE a.attnotnull) AS soft
           FROM pg_constraint c
          WHERE c.contype = 'f' AND c.conparentid = 0
            AND c.conrelid::int8 = ANY($1) AND c.confrelid::int8 = ANY($1)
          ORDER BY c.conname",
    )
    .bind(&oids)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| "reading foreign keys".into()))?;
    Ok(rows
        .iter()
        .map(|r| Edge {
            child: r.get::<i64, _>("child") as u32,
            parent: r.get::<i64, _>("parent") as u32,
            columns: r.get("columns"),
            parent_columns: r.get("parent_columns"),
            constraint: Some(r.get("name")),
            soft: r.get("soft"),
        })
        .collect())
}

/// The configured relations, checked against the catalogue: both tables and
/// every column must exist (a typo would silently leave rows behind).
pub(super) async fn configured_relations(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
    candidates: &[Candidate],
) -> Result<Vec<Edge>, TenancyError> {
    let find = |name: &str, what: &str| {
        candidates
            .iter()
            .find(|c| named_in(&c.name, &[name.to_owned()]))
            .ok_or_else(|| {
                TenancyError::Configuration(format!(
                    "tenancy.relations: {what} {name:?} is not a table of schemas {:?} \
                     (or it is excluded, or it is the registry)",
                    tenancy.schemas
                ))
            })
    };
    let mut edges = Vec::new();
    for relation in &tenancy.relations {
        let child = find(&relation.table, "table")?;
        let parent = find(&relation.parent, "parent")?;
        let parent_columns = if relation.parent_columns.is_empty() {
            primary_key(conn, &parent.name.quoted()).await?
        } else {
            relation.parent_columns.clone()
        };
        for (table, cols) in [(child, &relation.columns), (parent, &parent_columns)] {
            if let Some(missing) = cols.iter().find(|c| !table.columns.contains(c)) {
                return Err(TenancyError::Configuration(format!(
                    "tenancy.relations: {} has no column {missing:?}",
                    table.name
                )));
            }
        }
        if relation.columns.is_empty() || relation.columns.len() != parent_columns.len() {
            return Err(TenancyError::Configuration(format!(
                "tenancy.relations: {} → {} pairs {} column(s) with {}",
                child.name,
                parent.name,
                relation.columns.len(),
                parent_columns.len()
            )));
        }
        edges.push(Edge {
            child: child.oid,
            parent: parent.oid,
            columns: relation.columns.clone(),
            parent_columns,
            constraint: None,
            soft: true,
        });
    }
    Ok(edges)
}

/// A foreign key from a table outside the plan into one of the plan's tables.
#[derive(Debug, Clone)]
pub struct ForeignKeyInto {
    pub table: QualifiedName,
    pub constraint: String,
    pub references: QualifiedName,
}

/// Foreign keys of tables outside `plan` (any schema) that reference a plan table.
pub async fn foreign_keys_into(
    conn: &mut PgConnection,
    plan: &[TenantTable],
) -> Result<Vec<ForeignKeyInto>, TenancyError> {
    let oids: Vec<i64> = plan.iter().map(|t| i64::from(t.oid)).collect();
    let rows = sqlx::query(
        "SELECT cn.nspname AS child_schema, cc.relname AS child, c.conname::text AS name,
                pn.nspname AS parent_schema, pc.relname AS parent
           FROM pg_constraint c
           JOIN pg_class cc ON cc.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
           JOIN pg_class pc ON pc.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
          WHERE c.contype = 'f' AND c.conparentid = 0 AND NOT cc.relispartition
            AND c.confrelid::int8 = ANY($1) AND NOT c.conrelid::int8 = ANY($1)
          ORDER BY 1, 2, 3",
    )
    .bind(&oids)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| {
        "reading foreign keys into tenant tables".into()
    }))?;
    Ok(rows
        .iter()
        .map(|r| ForeignKeyInto {
            table: QualifiedName::new(
                r.get::<String, _>("child_schema"),
                r.get::<String, _>("child"),
            ),
            constraint: r.get("name"),
            references: QualifiedName::new(
                r.get::<String, _>("parent_schema"),
                r.get::<String, _>("parent"),
            ),
        })
        .collect())
}
