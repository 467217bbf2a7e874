//! Who owns each candidate table: the tenant key column where it has one (or
//! the column configured for it, or a foreign key to the registry), else every
//! path of references up to a table that has one.

use std::collections::BTreeMap;

use super::discovery::Candidate;
use super::edges::Edge;
use super::{Hop, Ownership, ParentPath, TenancyError};
use crate::config::TenancySettings;
use crate::sql::QualifiedName;

/// The column configured as `table`'s tenant key, else the default one.
fn key_column_of<'a>(tenancy: &'a TenancySettings, name: &QualifiedName) -> &'a str {
    tenancy
        .key_columns
        .get(&name.to_string())
        .or_else(|| tenancy.key_columns.get(&name.name))
        .unwrap_or(&tenancy.key_column)
}

/// Longest chain of parents followed, and most paths kept per table: enough
/// for real schemas, and a bound on what a tangled one costs every query.
const MAX_HOPS: usize = 4;
const MAX_PATHS: usize = 8;

/// Who owns each tenant table: the key column where it has one, else every
/// path of edges (shortest first) up to a table that has one.
pub(super) fn owners(
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
