//! Finds a shard's tenant tables in the Postgres catalogue: every table of the
//! configured schemas that has the tenant key column (or the column configured
//! for it, or a foreign key to the registry), and every table whose rows belong
//! to a website only through parents — by its declared foreign keys or by the
//! relations the configuration adds — at any depth. A table nobody reaches is
//! global and left alone.

use std::collections::BTreeMap;

use sqlx::{PgConnection, Row};

use super::edges::{Edge, configured_relations, declared_edges};
use super::paths::owners;
use super::tables::{columns, primary_key};
use super::{TenancyError, TenantTable};
use crate::config::TenancySettings;
use crate::sql::QualifiedName;

/// A table of the configured schemas, before it is known to be a tenant's.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub oid: u32,
    pub partitioned: bool,
    pub name: QualifiedName,
    pub columns: Vec<String>,
}

/// A table of the configured schemas that no website's rows are in, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftAlone {
    pub name: String,
    pub why: String,
}

/// The tenant tables (sorted by name) and the tables left alone.
#[derive(Debug, Clone)]
pub struct Survey {
    pub tables: Vec<TenantTable>,
    pub left_alone: Vec<LeftAlone>,
    /// Tables left alone that carry a polymorphic reference (`<x>_type` with
    /// `<x>_id`, as Rails writes them): it may point at the website's rows,
    /// and no foreign key says which. `table (x_type, x_id)`.
    pub polymorphic: Vec<String>,
}

/// Lists the tenant tables of the connected database, sorted by name.
pub async fn discover(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<TenantTable>, TenancyError> {
    Ok(survey(conn, tenancy).await?.tables)
}

/// Every table of the configured schemas: the tenant tables, and the others
/// with the reason each is left alone.
pub async fn survey(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Survey, TenancyError> {
    let registry = QualifiedName::parse(&tenancy.registry_table, "public");
    let mut left_alone = Vec::new();
    let mut candidates = Vec::new();
    for candidate in self::candidates(conn, tenancy).await? {
        let why = if candidate.name == registry {
            "the tenant registry"
        } else if named_in(&candidate.name, &tenancy.exclude_tables) {
            "excluded (tenancy.exclude_tables)"
        } else {
            candidates.push(candidate);
            continue;
        };
        left_alone.push(LeftAlone {
            name: candidate.name.to_string(),
            why: why.into(),
        });
    }
    let mut edges = declared_edges(conn, &candidates).await?;
    edges.extend(configured_relations(conn, tenancy, &candidates).await?);
    let registry_keys = registry_references(conn, &registry, tenancy).await?;
    let owners = owners(tenancy, &candidates, &edges, &registry_keys)?;

    let mut tables = Vec::with_capacity(owners.len());
    let mut polymorphic = Vec::new();
    for candidate in &candidates {
        let Some(owner) = owners.get(&candidate.oid) else {
            if let Some(pair) = polymorphic_pair(&candidate.columns) {
                polymorphic.push(format!("{} ({pair})", candidate.name));
            }
            left_alone.push(LeftAlone {
                name: candidate.name.to_string(),
                why: "global: no tenant key column and no reference to a tenant table".into(),
            });
            continue;
        };
        let mut table = TenantTable {
            name: candidate.name.clone(),
            oid: candidate.oid,
            partitioned: candidate.partitioned,
            owner: owner.clone(),
            columns: columns(conn, &candidate.name.quoted()).await?,
            primary_key: primary_key(conn, &candidate.name.quoted()).await?,
            parents: Vec::new(),
            soft_parents: Vec::new(),
            before_parents: false,
            self_referencing: false,
            self_keys: Vec::new(),
        };
        for edge in edges.iter().filter(|e| e.child == candidate.oid) {
            if edge.parent == candidate.oid {
                table.self_referencing = true;
            } else if owners.contains_key(&edge.parent)
                && let Some(parent) = candidates.iter().find(|c| c.oid == edge.parent)
                && !table.parents.contains(&parent.name)
            {
                table.parents.push(parent.name.clone());
            }
        }
        let self_edges: Vec<&Edge> = edges
            .iter()
            .filter(|e| e.child == candidate.oid && e.parent == candidate.oid)
            .collect();
        table.self_keys = self_keys(&table, &self_edges);
        table.soft_parents = table
            .parents
            .iter()
            .filter(|parent| {
                let oid = candidates
                    .iter()
                    .find(|c| &c.name == *parent)
                    .map(|c| c.oid);
                edges
                    .iter()
                    .filter(|e| e.child == candidate.oid && Some(e.parent) == oid)
                    .all(|e| e.soft)
            })
            .cloned()
            .collect();
        tables.push(table);
    }
    left_alone.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Survey {
        tables,
        left_alone,
        polymorphic,
    })
}

/// The first `<x>_type`, `<x>_id` pair among `columns`.
fn polymorphic_pair(columns: &[String]) -> Option<String> {
    columns.iter().find_map(|c| {
        let stem = c.strip_suffix("_type")?;
        let id = format!("{stem}_id");
        columns.contains(&id).then(|| format!("{c}, {id}"))
    })
}

/// The columns a self-referencing table's rows are linked by. Setting one
/// nullable column of each self-reference to NULL unlinks a row (a composite
/// reference `(website_id, parent_id)` is not checked while `parent_id` is
/// NULL), so those are the link columns when every self-reference has one;
/// otherwise all their columns, which keeps the table in one chunk.
fn self_keys(table: &TenantTable, self_edges: &[&Edge]) -> Vec<String> {
    let nullable = |key: &String| {
        !table.primary_key.contains(key)
            && table
                .columns
                .iter()
                .any(|c| c.name == *key && !c.not_null && !c.generated)
    };
    let each_unlinkable = self_edges.iter().all(|e| e.columns.iter().any(nullable));
    let mut keys: Vec<String> = Vec::new();
    for edge in self_edges {
        for key in &edge.columns {
            if (!each_unlinkable || nullable(key)) && !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// Every table of the configured schemas (partitions only through their root).
async fn candidates(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<Candidate>, TenancyError> {
    let rows = sqlx::query(
        "SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name,
                c.relkind = 'p' AS partitioned,
                ARRAY(SELECT a.attname::text FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum) AS columns
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND n.nspname = ANY($1) AND n.nspname <> 'shardmover'
          ORDER BY 2, 3",
    )
    .bind(&tenancy.schemas)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| "listing tables".into()))?;
    Ok(rows
        .iter()
        .map(|row| Candidate {
            oid: row.get::<i64, _>("oid") as u32,
            partitioned: row.get("partitioned"),
            name: QualifiedName::new(row.get::<String, _>("schema"), row.get::<String, _>("name")),
            columns: row.get("columns"),
        })
        .collect())
}

/// `table` or `schema.table` as the configuration names tables.
pub(super) fn named_in(name: &QualifiedName, names: &[String]) -> bool {
    names
        .iter()
        .any(|e| *e == name.name || *e == name.to_string())
}

/// Single-column foreign keys to the registry's id: such a column is the
/// table's tenant key whatever its name. (child oid → column)
async fn registry_references(
    conn: &mut PgConnection,
    registry: &QualifiedName,
    tenancy: &TenancySettings,
) -> Result<BTreeMap<u32, String>, TenancyError> {
    let rows = sqlx::query(
        "SELECT c.conrelid::int8 AS child, a.attname AS column_name
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           JOIN pg_attribute p ON p.attrelid = c.confrelid AND p.attnum = c.confkey[1]
          WHERE c.contype = 'f' AND c.confrelid = to_regclass($1)
            AND cardinality(c.conkey) = 1 AND p.attname = $2
          ORDER BY c.conname",
    )
    .bind(registry.quoted())
    .bind(&tenancy.registry_id_column)
    .fetch_all(conn)
    .await
    .map_err(TenancyError::database(|| {
        "reading foreign keys to the registry".into()
    }))?;
    let mut keys = BTreeMap::new();
    for row in rows {
        keys.entry(row.get::<i64, _>("child") as u32)
            .or_insert_with(|| row.get("column_name"));
    }
    Ok(keys)
}
