//! Errors as the log shows them. A database error is told by its SQLSTATE,
//! table and constraint and the server's one-line message, never by its
//! DETAIL, HINT or WHERE: those quote rows (`Key (email)=(x@y) already
//! exists`), and the `Debug` dump of an error, which logs used to carry,
//! holds them all.

use std::error::Error;
use std::fmt::Write;

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

/// `error` and its causes on one line, any database error among them by code
/// and constraint only (it ends the line: what it wraps is its own detail).
pub fn logged(error: &(dyn Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut link = Some(error);
    while let Some(current) = link {
        if let Some(sqlx) = current.downcast_ref::<sqlx::Error>() {
            parts.push(sqlx_error(sqlx));
            break;
        }
        if let Some(database) = current.downcast_ref::<PgDatabaseError>() {
            parts.push(database_error(database));
            break;
        }
        parts.push(current.to_string());
        link = current.source();
    }
    parts.join(": ")
}

fn sqlx_error(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database) => database_error(database.as_ref()),
        other => other.to_string(),
    }
}

/// `SQLSTATE 23505, table public.users, constraint users_email_key: duplicate key value …`
fn database_error(error: &dyn DatabaseError) -> String {
    let mut text = format!("SQLSTATE {}", error.code().as_deref().unwrap_or("?"));
    let schema = error
        .try_downcast_ref::<PgDatabaseError>()
        .and_then(PgDatabaseError::schema);
    match (schema, error.table()) {
        (Some(schema), Some(table)) => write!(text, ", table {schema}.{table}"),
        (None, Some(table)) => write!(text, ", table {table}"),
        _ => Ok(()),
    }
    .expect("writing to a String");
    if let Some(constraint) = error.constraint() {
        write!(text, ", constraint {constraint}").expect("writing to a String");
    }
    write!(text, ": {}", error.message()).expect("writing to a String");
    text
}

/// A database error as PostgreSQL reports it, DETAIL and all, for tests.
#[cfg(test)]
pub(crate) mod fake {
    use std::borrow::Cow;
    use std::error::Error;

    use sqlx::error::{DatabaseError, ErrorKind};

    #[derive(Debug)]
    pub(crate) struct FakeDbError {
        pub code: &'static str,
        pub message: &'static str,
        pub table: &'static str,
        pub constraint: &'static str,
        /// Never to be logged: it quotes the row. Only `Debug` shows it, as `PgDatabaseError`'s does.
        #[expect(dead_code, reason = "read only through Debug")]
        pub detail: &'static str,
    }

    /// A check violation whose DETAIL quotes an email address.
    pub(crate) fn check_violation() -> sqlx::Error {
        sqlx::Error::Database(Box::new(FakeDbError {
            code: "23514",
            message: "new row for relation \"users\" violates check constraint \"users_email_check\"",
            table: "users",
            constraint: "users_email_check",
            detail: "Failing row contains (7, x@y.example).",
        }))
    }

    impl std::fmt::Display for FakeDbError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.message)
        }
    }

    impl Error for FakeDbError {}

    impl DatabaseError for FakeDbError {
        fn message(&self) -> &str {
            self.message
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.code.into())
        }
        fn as_error(&self) -> &(dyn Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn Error + Send + Sync + 'static> {
            self
        }
        fn constraint(&self) -> Option<&str> {
            Some(self.constraint)
        }
        fn table(&self) -> Option<&str> {
            Some(self.table)
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeDbError;
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("recording the website")]
    struct Wrapped(#[source] sqlx::Error);

    #[test]
    fn a_database_error_is_logged_by_code_table_and_constraint_and_never_its_detail() {
        let error = Wrapped(sqlx::Error::Database(Box::new(FakeDbError {
            code: "23505",
            message: "duplicate key value violates unique constraint \"users_email_key\"",
            table: "users",
            constraint: "users_email_key",
            detail: "Key (email)=(x@y.example) already exists.",
        })));
        assert!(
            format!("{error:?}").contains("x@y.example"),
            "the dump has it"
        );
        assert_eq!(
            logged(&error),
            "recording the website: SQLSTATE 23505, table users, constraint users_email_key: \
             duplicate key value violates unique constraint \"users_email_key\""
        );
        let other = sqlx::Error::PoolTimedOut;
        assert_eq!(logged(&other), other.to_string());
    }
}
