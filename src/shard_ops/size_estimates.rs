//! What a shard's websites weigh together, from its catalogue alone: rows from
//! `pg_class.reltuples` (the live-row counter for a table never analyzed) and
//! bytes from `pg_table_size` (heap and TOAST as stored on disk, so somewhat
//! above the exact `pg_column_size` sum of the rows), over the leaves of its
//! tenant tables. No table is read; a plan uses it for the websites whose
//! sizes cannot change what it decides, each taking an even share.

use sqlx::PgPool;

use crate::sql::audited;
use crate::tenancy::{self, TenancyError};

/// Rows and bytes over every leaf (partition, inheritance child or the table
/// itself) of the given tables, each leaf once.
const TOTALS: &str = "
WITH RECURSIVE tree (relid) AS (
    SELECT r::oid FROM unnest($1::int8[]) r
  UNION
    SELECT i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
)
SELECT round(coalesce(sum(CASE WHEN c.reltuples >= 0 THEN c.reltuples
                               ELSE coalesce(s.n_live_tup, 0) END), 0))::int8,
       coalesce(sum(pg_table_size(c.oid)), 0)::int8
  FROM tree t
  JOIN pg_class c ON c.oid = t.relid
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.relkind = 'r'";

/// Estimated (rows, bytes) of all the shard's tenant tables together.
pub(super) async fn totals_on(
    pool: &PgPool,
    tenancy: &crate::config::TenancySettings,
) -> Result<(i64, i64), TenancyError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(TenancyError::database(|| "connecting to the shard".into()))?;
    let tables = tenancy::discover(&mut conn, tenancy).await?;
    let oids: Vec<i64> = tables.iter().map(|t| i64::from(t.oid)).collect();
    sqlx::query_as(audited(TOTALS))
        .bind(&oids)
        .fetch_one(&mut *conn)
        .await
        .map_err(TenancyError::database(|| {
            "estimating the tenant tables' sizes".into()
        }))
}

/// The `k`-th of `n` even shares of `total` (0-based): the shares differ by at
/// most one and add up to `total` exactly.
pub(super) fn share(total: i64, k: usize, n: usize) -> i64 {
    if n == 0 {
        return 0;
    }
    let at = |i: usize| (i128::from(total) * i as i128 / n as i128) as i64;
    at(k + 1) - at(k)
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn even_shares_add_up_to_the_total_and_differ_by_at_most_one() {
        for (total, n) in [(10, 3), (0, 4), (7, 7), (1, 5), (i64::MAX, 3)] {
            let shares: Vec<i64> = (0..n).map(|k| share(total, k, n)).collect();
            assert_eq!(
                shares.iter().map(|&s| i128::from(s)).sum::<i128>(),
                i128::from(total)
            );
            let (lo, hi) = (shares.iter().min(), shares.iter().max());
            assert!(hi.unwrap() - lo.unwrap() <= 1, "{shares:?}");
        }
        assert_eq!(share(10, 0, 0), 0);
    }
}
