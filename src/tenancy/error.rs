//! What can go wrong reading a tenant's shape.

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("foreign keys form a cycle between tenant tables {0}; such tables cannot be ordered")]
    ForeignKeyCycle(String),
    /// The configuration names tables or columns the catalogue does not have.
    #[error("{0}")]
    Configuration(String),
    #[error("{context}: {}", crate::db::error_message(source))]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
}

impl TenancyError {
    /// Wraps a shard's database error with what we were doing.
    pub(crate) fn database(context: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database {
            context: context(),
            source,
        }
    }

    /// A stable snake_case code, the same as the move engine's for these failures.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ForeignKeyCycle(_) => "foreign_key_cycle",
            Self::Configuration(_) => "tenancy_configuration",
            Self::Database { source, .. } if crate::db::is_transient(source) => {
                "database_unavailable"
            }
            Self::Database { .. } => "database_error",
        }
    }

    pub fn one_line(&self) -> String {
        self.to_string().replace('\n', "; ")
    }
}
