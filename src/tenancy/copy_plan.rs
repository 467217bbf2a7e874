//! Orders tenant tables so parents are copied before children (and deleted after).

use super::{TenancyError, TenantTable};

/// Kahn's algorithm over the foreign-key graph; ties keep name order, so the
/// plan is the same on every run (resumes depend on that). A cycle is cut at a
/// soft edge (deferrable, all-nullable or undeclared), marking the table copied
/// before that parent; a cycle of hard edges only is refused by name.
pub fn order_by_foreign_keys(
    mut tables: Vec<TenantTable>,
) -> Result<Vec<TenantTable>, TenancyError> {
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ordered: Vec<TenantTable> = Vec::with_capacity(tables.len());
    while !tables.is_empty() {
        let ready = tables.iter().position(|t| {
            t.parents
                .iter()
                .all(|p| ordered.iter().any(|done| &done.name == p))
        });
        let cut = || {
            tables.iter().position(|t| {
                t.parents.iter().all(|p| {
                    t.soft_parents.contains(p) || ordered.iter().any(|done| &done.name == p)
                })
            })
        };
        match ready {
            Some(index) => ordered.push(tables.remove(index)),
            None if let Some(index) = cut() => {
                let mut table = tables.remove(index);
                table.before_parents = true;
                ordered.push(table);
            }
            None => {
                let names: Vec<String> = tables.iter().map(|t| t.name.to_string()).collect();
                return Err(TenancyError::ForeignKeyCycle(names.join(", ")));
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::QualifiedName;

    fn table(name: &str, parents: &[&str]) -> TenantTable {
        TenantTable {
            name: QualifiedName::new("public", name),
            oid: 0,
            partitioned: false,
            owner: crate::tenancy::Ownership::Column {
                column: "website_id".into(),
            },
            columns: vec![],
            primary_key: vec!["id".into()],
            parents: parents
                .iter()
                .map(|p| QualifiedName::new("public", *p))
                .collect(),
            soft_parents: Vec::new(),
            before_parents: false,
            self_referencing: false,
            self_keys: Vec::new(),
        }
    }

    fn names(tables: &[TenantTable]) -> Vec<String> {
        tables.iter().map(|t| t.name.name.clone()).collect()
    }

    #[test]
    fn parents_come_before_children_whatever_their_names() {
        let plan = order_by_foreign_keys(vec![
            table("a_items", &["z_orders"]),
            table("z_orders", &["m_customers"]),
            table("m_customers", &[]),
        ])
        .unwrap();
        assert_eq!(names(&plan), ["m_customers", "z_orders", "a_items"]);
    }

    #[test]
    fn a_cycle_is_cut_at_its_soft_edge() {
        let mut soft = table("a", &["b"]);
        soft.soft_parents = vec![QualifiedName::new("public", "b")];
        let plan = order_by_foreign_keys(vec![soft, table("b", &["a"])]).unwrap();
        assert_eq!(names(&plan), ["a", "b"]);
        assert!(plan[0].before_parents && !plan[1].before_parents);
    }

    #[test]
    fn a_cycle_between_tables_is_refused_by_name() {
        let err = order_by_foreign_keys(vec![table("a", &["b"]), table("b", &["a"])]).unwrap_err();
        assert_eq!(err.code(), "foreign_key_cycle");
        assert!(err.to_string().contains("public.a, public.b"));
    }
}
