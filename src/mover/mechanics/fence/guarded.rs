//! The tables that carry our triggers on one shard, and what their `WHEN`
//! clauses compare. A changing list rewrites the triggers of every such table
//! (other websites' moves included), while only the current move knows how its
//! tables' rows belong to a website, so each table's key column (NULL for one
//! owned through parents) is kept in `shardmover.guarded_tables`. A partitioned
//! table is guarded on each of its leaf partitions: Postgres cannot replace a
//! trigger on a partitioned table whose partitions carry its clones. A table's
//! entry goes when `sweep` drops its triggers.

use sqlx::PgConnection;

use crate::tenancy::TenantTable;

/// One table carrying (or about to carry) the triggers.
#[derive(Debug, Clone)]
pub(super) struct Guarded<'a> {
    /// `schema.table` as `regclass` text.
    pub name: String,
    pub oid: u32,
    /// The website column compared in `WHEN`; `None`: looked up through parents.
    pub key_column: Option<String>,
    /// Set for the tables of the move at hand: their guard functions are
    /// (re)compiled from it.
    pub table: Option<&'a TenantTable>,
}

/// Registers the leaves of `tables` and returns every guarded table of the
/// shard, in oid order (locks are always taken in the same order). Tables
/// guarded by releases that predate the registry keep `legacy_key`.
pub(super) async fn all<'a>(
    tx: &mut PgConnection,
    tables: &'a [TenantTable],
    legacy_key: &str,
) -> Result<Vec<Guarded<'a>>, sqlx::Error> {
    let mut fresh = Vec::new();
    for table in tables {
        let key = table.owner.own_column();
        let leaves: Vec<(i64, String)> = sqlx::query_as(
            "SELECT c.oid::int8, c.oid::regclass::text FROM pg_class c
              WHERE c.oid = $1::regclass AND c.relkind <> 'p'
             UNION ALL
             SELECT relid::oid::int8, relid::regclass::text FROM pg_partition_tree($1::regclass)
              WHERE isleaf
             ORDER BY 1",
        )
        .bind(table.name.quoted())
        .fetch_all(&mut *tx)
        .await?;
        for (oid, name) in leaves {
            sqlx::query(
                "INSERT INTO shardmover.guarded_tables (relid, key_column) VALUES ($1::int8::oid, $2)
                 ON CONFLICT (relid) DO UPDATE SET key_column = EXCLUDED.key_column, updated_at = now()
                  WHERE guarded_tables.key_column IS DISTINCT FROM EXCLUDED.key_column",
            )
            .bind(oid)
            .bind(key)
            .execute(&mut *tx)
            .await?;
            fresh.push(Guarded {
                name,
                oid: oid as u32,
                key_column: key.map(str::to_owned),
                table: Some(table),
            });
        }
    }
    let known: Vec<(i64, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT c.oid::int8, c.oid::regclass::text, g.relid IS NOT NULL, g.key_column
           FROM pg_class c LEFT JOIN shardmover.guarded_tables g ON g.relid = c.oid
          WHERE g.relid IS NOT NULL
             OR EXISTS (SELECT 1 FROM pg_trigger t
                         WHERE t.tgrelid = c.oid AND t.tgname LIKE 'shardmover\\_fence%')
          ORDER BY c.oid",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut all: Vec<Guarded<'a>> = known
        .into_iter()
        .filter(|(oid, ..)| !fresh.iter().any(|f| i64::from(f.oid) == *oid))
        .map(|(oid, name, registered, key)| Guarded {
            name,
            oid: oid as u32,
            key_column: if registered {
                key
            } else {
                Some(legacy_key.to_owned())
            },
            table: None,
        })
        .collect();
    all.extend(fresh);
    all.sort_by_key(|g| g.oid);
    Ok(all)
}
