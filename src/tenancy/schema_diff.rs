//! Compares the tenant tables' shape on source and target: names, columns,
//! types, nullability, generated-ness and primary keys. Column order may differ
//! (COPY names its columns); anything else is a readable difference.

use sqlx::PgConnection;

use super::TenancyError;
use super::tables::{self, Column, TenantTable};

/// Every difference, one line each; empty when the shapes match.
pub async fn differences(
    target: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<String>, TenancyError> {
    let mut lines = Vec::new();
    for table in tables {
        let quoted = table.name.quoted();
        let theirs = tables::columns(target, &quoted).await?;
        if theirs.is_empty() {
            lines.push(format!("{}: table missing on target", table.name));
            continue;
        }
        compare_columns(&table.name.to_string(), &table.columns, &theirs, &mut lines);
        let their_pk = tables::primary_key(target, &quoted).await?;
        if their_pk != table.primary_key {
            lines.push(format!(
                "{}: primary key ({}) on source, ({}) on target",
                table.name,
                table.primary_key.join(", "),
                their_pk.join(", ")
            ));
        }
    }
    Ok(lines)
}

fn compare_columns(table: &str, ours: &[Column], theirs: &[Column], lines: &mut Vec<String>) {
    for col in ours {
        match theirs.iter().find(|c| c.name == col.name) {
            None => lines.push(format!("{table}.{}: column missing on target", col.name)),
            Some(other) => {
                if other.data_type != col.data_type {
                    lines.push(format!(
                        "{table}.{}: type {} on source, {} on target",
                        col.name, col.data_type, other.data_type
                    ));
                }
                if other.not_null != col.not_null {
                    lines.push(format!(
                        "{table}.{}: {} on source, {} on target",
                        col.name,
                        nullability(col),
                        nullability(other)
                    ));
                }
                if other.generated != col.generated {
                    lines.push(format!("{table}.{}: generated on one side only", col.name));
                }
            }
        }
    }
    for col in theirs
        .iter()
        .filter(|c| !ours.iter().any(|o| o.name == c.name))
    {
        lines.push(format!(
            "{table}.{}: column exists only on target",
            col.name
        ));
    }
}

fn nullability(col: &Column) -> &'static str {
    if col.not_null { "NOT NULL" } else { "nullable" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, not_null: bool) -> Column {
        Column {
            name: name.into(),
            data_type: ty.into(),
            not_null,
            generated: false,
            identity_always: false,
            portable_hash: true,
            binary_safe: true,
        }
    }

    #[test]
    fn each_kind_of_difference_gets_its_own_readable_line() {
        let mut lines = Vec::new();
        compare_columns(
            "public.pages",
            &[
                col("id", "bigint", true),
                col("title", "text", false),
                col("gone", "text", false),
            ],
            &[
                col("title", "character varying(10)", true),
                col("id", "bigint", true),
                col("extra", "int", false),
            ],
            &mut lines,
        );
        assert_eq!(
            lines,
            [
                "public.pages.title: type text on source, character varying(10) on target",
                "public.pages.title: nullable on source, NOT NULL on target",
                "public.pages.gone: column missing on target",
                "public.pages.extra: column exists only on target",
            ]
        );
    }
}
