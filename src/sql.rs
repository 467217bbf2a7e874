//! SQL text building. Identifiers from configuration or the catalogue are always
//! quoted here; values are bound, except where COPY forbids parameters (see `literal_i64`).

use std::fmt;

/// Quotes one identifier the way Postgres's `quote_ident` does, unconditionally.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Joins quoted identifiers with `, `.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `COPY` takes no bind parameters, so tenant keys are inlined; an `i64` printed by
/// Rust is always a valid literal and cannot carry SQL.
pub fn literal_i64(value: i64) -> String {
    value.to_string()
}

/// A string literal for places that take no bind parameters (`COPY`, trigger
/// arguments). The `E''` form reads the same whatever `standard_conforming_strings` says.
pub fn literal_str(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// Marks SQL text built at run time as audited for sqlx: every identifier in it
/// went through [`ident`] or [`QualifiedName::quoted`], every value is bound or
/// an integer printed by Rust.
pub fn audited(sql: &str) -> sqlx::AssertSqlSafe<&str> {
    sqlx::AssertSqlSafe(sql)
}

/// A schema-qualified relation name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// Parses `table` or `schema.table` (unquoted), defaulting the schema.
    pub fn parse(text: &str, default_schema: &str) -> Self {
        match text.split_once('.') {
            Some((schema, name)) => Self::new(schema, name),
            None => Self::new(default_schema, text),
        }
    }

    /// The quoted form for SQL text.
    pub fn quoted(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn embedded_quotes_are_doubled() {
        assert_eq!(ident(r#"we"ird"#), r#""we""ird""#);
    }

    proptest! {
        #[test]
        fn a_quoted_identifier_has_balanced_quotes(s in ".*") {
            let q = ident(&s);
            let inner = &q[1..q.len() - 1];
            prop_assert_eq!(inner.replace("\"\"", ""), s.replace('"', ""));
        }
    }
}
