//! A tenant table's primary key in SQL text: as a JSON object (the form the
//! change log records and `jsonb_populate_record` reads back), qualified by an
//! alias, compared between two aliases, and read back from a bound array of
//! such objects.

use super::TenantTable;
use crate::sql::{ident, literal_str};

impl TenantTable {
    /// `jsonb_build_object('k1', <prefix>"k1", …)`.
    pub fn key_object(&self, prefix: &str) -> String {
        let pairs = self
            .primary_key
            .iter()
            .map(|c| format!("{}, {prefix}{}", literal_str(c), ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("jsonb_build_object({pairs})")
    }

    /// `alias."k1", alias."k2"`.
    pub fn key_of(&self, alias: &str) -> String {
        self.primary_key
            .iter()
            .map(|c| format!("{alias}.{}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `(a."k1", a."k2") = (b."k1", b."k2")`.
    pub fn same_key(&self, a: &str, b: &str) -> String {
        format!("({}) = ({})", self.key_of(a), self.key_of(b))
    }

    /// `unnest(<param>::text[]) sm_k(pk)` with each key object read back as a
    /// typed record `sm_p` of this table.
    pub fn keys_from(&self, param: &str) -> String {
        format!(
            "unnest({param}::text[]) sm_k(pk)
             CROSS JOIN LATERAL jsonb_populate_record(NULL::{}, sm_k.pk::jsonb) sm_p",
            self.name.quoted()
        )
    }

    /// `(alias."k1", …) NOT IN (…the keys of <param>…)`: Postgres hashes the
    /// key list once (a hashed subplan), so a scan of the tenant's rows stays
    /// linear whatever the planner believes about the table's size.
    pub fn key_not_in(&self, alias: &str, param: &str) -> String {
        format!(
            "({}) NOT IN (SELECT {} FROM {})",
            self.key_of(alias),
            self.key_of("sm_p"),
            self.keys_from(param)
        )
    }
}
