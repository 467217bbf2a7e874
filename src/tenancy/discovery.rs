//! Finds a shard's tenant tables in the Postgres catalogue: every table of the
//! configured schemas that has the tenant key column (or the column configured
//! for it, or a foreign key to the registry), and every table whose rows belong
//! to a website only through parents — by its declared foreign keys or by the
//! relations the configuration adds — at any depth. A table nobody reaches is
//! global and left alone.

use std::collections::BTreeMap;

use sqlx::{PgConnection, Row};

use super::edges::{Edge, configured_relations, declared_edges};
use super::tables::{columns, primary_key};
use super::{Hop, Ownership, ParentPath, TenancyError, TenantTable};
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

/// Lists the tenant tables of the connected database, sorted by name.
pub async fn discover(
    conn: &mut PgConnection,
    tenancy: &TenancySettings,
) -> Result<Vec<TenantTable>, TenancyError> {
    let registry = QualifiedName::parse(&tenancy.registry_table, "public");
    let candidates: Vec<Candidate> = candidates(conn, tenancy)
        .await?
        .into_iter()
        .filter(|c| c.name != registry && !named_in(&c.name, &tenancy.exclude_tables))
        .collect();
    let mut edges = declared_edges(conn, &candidates).await?;
    edges.extend(configured_relations(conn, tenancy, &candidates).await?);
    let registry_keys = registry_references(conn, &registry, tenancy).await?;
    let owners = owners(tenancy, &candidates, &edges, &registry_keys)?;

    let mut tables = Vec::with_capacity(owners.len());
    for candidate in &candidates {
        let Some(owner) = owners.get(&candidate.oid) else {
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
            self_referencing: false,
            self_keys: Vec::new(),
        };
        for edge in edges.iter().filter(|e| e.child == candidate.oid) {
            if edge.parent == candidate.oid {
                table.self_referencing = true;
                for key in &edge.columns {
                    if !table.self_keys.contains(key) {
                        table.self_keys.push(key.clone());
                    }
                }
            } else if owners.contains_key(&edge.parent)
                && let Some(parent) = candidates.iter().find(|c| c.oid == edge.parent)
                && !table.parents.contains(&parent.name)
            {
                table.parents.push(parent.name.clone());
            }
        }
        tables.push(table);
    }
    Ok(tables)
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

/// The column configured as `table`'s tenant key, else the default one.
fn key_column_of<'a>(tenancy: &'a TenancySettings, name: &QualifiedName) -> &'a str {
    tenancy
        .key_columns
        .get(&name.to_string())
        .or_else(|| tenancy.key_columns.get(&name.name))
        .unwrap_or(&tenancy.key_column)
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

/// Longest chain of parents followed, and most paths kept per table: enough
/// for real schemas, and a bound on what a tangled one costs every query.
const MAX_HOPS: usize = 4;
const MAX_PATHS: usize = 8;

/// Who owns each tenant table: the key column where it has one, else every
/// path of edges (shortest first) up to a table that has one.
fn owners(
    tenancy: &TenancySettings,
    candidates: &[Candidate],
    edges: &[Edge],
    registry_keys: &BTreeMap<u32, String>,
) -> Result<BTreeMap<u32, Ownership>, TenancyError> {
    let mut keys: BTreeMap<u32, String> = BTreeMap::new();
    for candidate in candidates {
        let wanted = key_column_of(tenancy, &candidate.name);
        if candidate.columns.iter().any(|c| c == wanted) {
            keys.insert(candidate.oid, wanted.to_owned());
        } else if tenancy.key_columns.contains_key(&candidate.name.name)
            || tenancy
                .key_columns
                .contains_key(&candidate.name.to_string())
        {
            return Err(TenancyError::Configuration(format!(
                "tenancy.key_columns names column {wanted:?} for {}, which has no such column",
                candidate.name
            )));
        } else if let Some(column) = registry_keys.get(&candidate.oid) {
            keys.insert(candidate.oid, column.clone());
        }
    }
    let paths = parent_paths(candidates, edges, &keys);
    let mut owners: BTreeMap<u32, Ownership> = keys
        .into_iter()
        .map(|(oid, column)| (oid, Ownership::Column { column }))
        .collect();
    for (oid, mut found) in paths {
        found.sort_by_key(|p| p.hops.len());
        owners.insert(oid, Ownership::Parents { paths: found });
    }
    Ok(owners)
}

/// Every path from each table without a key up to one with a key, grown one
/// hop per round until nothing new is found.
fn parent_paths(
    candidates: &[Candidate],
    edges: &[Edge],
    keys: &BTreeMap<u32, String>,
) -> BTreeMap<u32, Vec<ParentPath>> {
    let name_of = |oid: u32| {
        candidates
            .iter()
            .find(|c| c.oid == oid)
            .map(|c| c.name.clone())
            .expect("edges join candidates")
    };
    let mut paths: BTreeMap<u32, Vec<ParentPath>> = BTreeMap::new();
    loop {
        let mut found = Vec::new();
        for edge in edges {
            if edge.child == edge.parent || keys.contains_key(&edge.child) {
                continue;
            }
            let above = match keys.get(&edge.parent) {
                Some(column) => vec![ParentPath {
                    hops: Vec::new(),
                    column: column.clone(),
                }],
                None => paths.get(&edge.parent).cloned().unwrap_or_default(),
            };
            let child = name_of(edge.child);
            for path in above {
                let loops = path.hops.iter().any(|h| h.parent == child);
                if loops || path.hops.len() >= MAX_HOPS {
                    continue;
                }
                let mut hops = vec![Hop {
                    columns: edge.columns.clone(),
                    parent: name_of(edge.parent),
                    parent_columns: edge.parent_columns.clone(),
                    constraint: edge.constraint.clone(),
                }];
                hops.extend(path.hops);
                found.push((
                    edge.child,
                    ParentPath {
                        hops,
                        column: path.column,
                    },
                ));
            }
        }
        let mut grew = false;
        for (oid, path) in found {
            let known = paths.entry(oid).or_default();
            if known.len() < MAX_PATHS && !known.contains(&path) {
                known.push(path);
                grew = true;
            }
        }
        if !grew {
            return paths;
        }
    }
}
