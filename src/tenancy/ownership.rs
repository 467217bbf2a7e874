//! How a table's rows are known to belong to a website: by a key column of its
//! own, or through the parents it points at (a photo belongs to the website of
//! its property). Every query of the engine that selects one website's rows —
//! copy, capture, replay, verification, deletion — asks the table for its
//! predicate here, so a table reached through parents is moved exactly like
//! one that carries the key.

use serde::Serialize;

use crate::sql::{QualifiedName, ident};

/// One step from a child row to its parent row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// The child's columns that point at the parent.
    pub columns: Vec<String>,
    #[serde(serialize_with = "as_text")]
    pub parent: QualifiedName,
    /// The parent's columns they match (its primary key unless configured).
    pub parent_columns: Vec<String>,
    /// The constraint, or `None` for a relation given in the configuration.
    pub constraint: Option<String>,
}

/// One way from a row up to a table that carries the tenant key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParentPath {
    pub hops: Vec<Hop>,
    /// The key column of the last parent.
    pub column: String,
}

/// Where a table's tenant key is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Ownership {
    /// The table's own column.
    Column { column: String },
    /// Through parents, by any of these paths (a legacy row may be linked by
    /// one foreign key and not by the other): the row is the website's when
    /// one of them leads there.
    Parents { paths: Vec<ParentPath> },
}

impl Ownership {
    /// The table's own key column, if it has one.
    pub fn own_column(&self) -> Option<&str> {
        match self {
            Self::Column { column } => Some(column),
            Self::Parents { .. } => None,
        }
    }

    /// The paths to the key (none for a table that has it).
    pub fn paths(&self) -> &[ParentPath] {
        match self {
            Self::Column { .. } => &[],
            Self::Parents { paths } => paths,
        }
    }

    /// A readable path: `website_id` or `content_id → public.pwb_contents.website_id`
    /// (alternatives joined by `or`).
    pub fn describe(&self) -> String {
        match self {
            Self::Column { column } => column.clone(),
            Self::Parents { paths } => paths
                .iter()
                .map(|path| {
                    let hops: Vec<String> = path
                        .hops
                        .iter()
                        .map(|hop| format!("{} → {}", hop.columns.join(", "), hop.parent))
                        .collect();
                    format!("{}.{}", hops.join(" "), path.column)
                })
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }

    /// SQL that is true when the row `alias` belongs to `website` (an SQL
    /// expression: a parameter, a literal, or `ANY($1)`). Through parents it
    /// is an `EXISTS` per path, which the planner turns into a semi-join.
    pub fn belongs(&self, alias: &str, website: &str) -> String {
        match self {
            Self::Column { column } => format!("{alias}.{} = {website}", ident(column)),
            Self::Parents { paths } => any_path(paths, alias, &format!("= {website}")),
        }
    }

    /// SQL that is true when one of the row's paths leads to a website other
    /// than `website`: with `belongs`, a row two websites would share.
    pub fn belongs_elsewhere(&self, alias: &str, website: &str) -> String {
        match self {
            Self::Column { .. } => "false".to_owned(),
            Self::Parents { paths } => any_path(paths, alias, &format!("<> {website}")),
        }
    }

    /// SQL giving the website of the row `alias` (NULL when no parent is there).
    pub fn website_of(&self, alias: &str) -> String {
        match self {
            Self::Column { column } => format!("{alias}.{}", ident(column)),
            Self::Parents { paths } => {
                let each = per_path(paths, alias, |from, key| {
                    format!("(SELECT {key}::int8 FROM {from} LIMIT 1)")
                });
                format!("COALESCE({})", each.join(", "))
            }
        }
    }
}

/// `(EXISTS (… path 1 … AND key <test>) OR …)`.
fn any_path(paths: &[ParentPath], alias: &str, test: &str) -> String {
    let each = per_path(paths, alias, |from, key| {
        format!("EXISTS (SELECT 1 FROM {from} AND {key} {test})")
    });
    format!("({})", each.join(" OR "))
}

/// `sql(from, key)` for each path: its joined parents up to `WHERE` (more
/// conditions follow with `AND`), and the qualified key column of its last parent.
fn per_path(paths: &[ParentPath], alias: &str, sql: impl Fn(&str, &str) -> String) -> Vec<String> {
    paths
        .iter()
        .enumerate()
        .map(|(n, path)| {
            let (from, last) = joined_parents(&path.hops, alias, n);
            sql(&from, &format!("{last}.{}", ident(&path.column)))
        })
        .collect()
}

fn as_text<S: serde::Serializer>(name: &QualifiedName, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(name)
}

/// `parent_1 sm_h1 JOIN parent_2 sm_h2 ON … WHERE <first hop matches alias>`,
/// and the alias of the last parent.
fn joined_parents(hops: &[Hop], alias: &str, path: usize) -> (String, String) {
    let mut from = String::new();
    let mut previous = alias.to_owned();
    let mut first_match = String::new();
    for (index, hop) in hops.iter().enumerate() {
        let this = format!("sm_h{}_{path}_{}", alias_tag(alias), index + 1);
        let matches = format!(
            "({}) = ({})",
            qualified(&this, &hop.parent_columns),
            qualified(&previous, &hop.columns)
        );
        if index == 0 {
            from.push_str(&format!("{} {this}", hop.parent.quoted()));
            first_match = matches;
        } else {
            from.push_str(&format!(
                " JOIN {} {this} ON {matches}",
                hop.parent.quoted()
            ));
        }
        previous = this;
    }
    (format!("{from} WHERE {first_match}"), previous)
}

/// Keeps the aliases of nested predicates apart (`OLD`, `NEW`, `sm_t`).
fn alias_tag(alias: &str) -> String {
    alias
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `alias."c1", alias."c2"`.
pub(crate) fn qualified(alias: &str, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("{alias}.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(columns: &[&str], parent: &str, parent_columns: &[&str]) -> Hop {
        Hop {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            parent: QualifiedName::new("public", parent),
            parent_columns: parent_columns.iter().map(|c| (*c).to_owned()).collect(),
            constraint: None,
        }
    }

    fn through_two_parents() -> Ownership {
        Ownership::Parents {
            paths: vec![ParentPath {
                hops: vec![
                    hop(&["photo_of"], "props", &["id"]),
                    hop(&["agency_id", "region"], "agencies", &["id", "region"]),
                ],
                column: "website_id".into(),
            }],
        }
    }

    #[test]
    fn a_table_with_the_key_compares_its_own_column() {
        let own = Ownership::Column {
            column: "site".into(),
        };
        assert_eq!(own.belongs("sm_t", "$1"), "sm_t.\"site\" = $1");
        assert_eq!(own.website_of("NEW"), "NEW.\"site\"");
    }

    #[test]
    fn a_child_joins_up_its_parents_to_the_key() {
        let sql = through_two_parents().belongs("sm_t", "$2");
        assert_eq!(
            sql,
            "(EXISTS (SELECT 1 FROM \"public\".\"props\" sm_hsmt_0_1 JOIN \"public\".\"agencies\" sm_hsmt_0_2 \
             ON (sm_hsmt_0_2.\"id\", sm_hsmt_0_2.\"region\") = (sm_hsmt_0_1.\"agency_id\", sm_hsmt_0_1.\"region\") \
             WHERE (sm_hsmt_0_1.\"id\") = (sm_t.\"photo_of\") AND sm_hsmt_0_2.\"website_id\" = $2))"
        );
        let of = through_two_parents().website_of("OLD");
        assert!(
            of.starts_with("COALESCE((SELECT sm_hold_0_2.\"website_id\"::int8 FROM"),
            "{of}"
        );
    }

    #[test]
    fn a_row_linked_by_any_of_several_paths_is_the_websites() {
        let owner = Ownership::Parents {
            paths: vec![
                ParentPath {
                    hops: vec![hop(&["asset_id"], "assets", &["id"])],
                    column: "website_id".into(),
                },
                ParentPath {
                    hops: vec![hop(&["prop_id"], "props", &["id"])],
                    column: "site".into(),
                },
            ],
        };
        let sql = owner.belongs("t", "7");
        assert!(
            sql.contains(") OR EXISTS (SELECT 1 FROM \"public\".\"props\" sm_ht_1_1"),
            "{sql}"
        );
        assert!(sql.contains("sm_ht_1_1.\"site\" = 7"), "{sql}");
        assert_eq!(
            owner.describe(),
            "asset_id → public.assets.website_id or prop_id → public.props.site"
        );
    }
}
