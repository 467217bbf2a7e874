//! A made-up move history for the dashboard's benchmark and tests: finished
//! moves over 2,000 websites (website 7 every 500th), each with five tables,
//! its phases (written by the control schema's trigger) and its audit entry.

use sqlx::PgPool;

/// Adds moves numbered `first..=last` (their ids, on a control database with
/// no other moves), each a minute newer than the one before, all in the past.
pub async fn seed(control: &PgPool, first: i64, last: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH m AS (
           INSERT INTO shardmover.migrations (website_id, source_shard, target_shard, status, phase,
                  batch_rows, rows_total, rows_copied, requested_by, error_code, error_message,
                  created_at, started_at, finished_at)
           SELECT CASE WHEN n % 500 = 0 THEN 7 ELSE 1000 + n % 2000 END,
                  CASE WHEN n % 2 = 0 THEN 'shard_1' ELSE 'shard_2' END,
                  CASE WHEN n % 2 = 0 THEN 'shard_2' ELSE 'shard_1' END,
                  (ARRAY['completed', 'failed', 'cancelled'])[1 + n % 3],
                  CASE WHEN n % 3 = 0 THEN 'done' ELSE 'copying' END,
                  50000, 1000, 1000, 'ops' || (n % 5) || '@example.com',
                  CASE WHEN n % 3 = 1 THEN 'checksum_mismatch' END,
                  CASE WHEN n % 3 = 1 THEN 'orders differ' END,
                  t, t, t + interval '30 seconds'
             FROM generate_series($1::int8, $2::int8) AS n
            CROSS JOIN LATERAL (SELECT now() - interval '1 year' + n * interval '1 minute' AS t) at
           RETURNING *
         ), tables AS (
           INSERT INTO shardmover.migration_tables (migration_id, table_name, position, rows_total,
                  rows_copied, source_checksum, target_checksum, verified)
           SELECT m.id, t.name, t.pos, 200, 200, md5(m.id::text), md5(m.id::text), true
             FROM m CROSS JOIN unnest(ARRAY['pwb_pages', 'pwb_page_parts', 'pwb_products',
                                           'pwb_orders', 'pwb_order_items'])
                  WITH ORDINALITY AS t(name, pos)
         )
         INSERT INTO shardmover.audit_logs (website_id, old_shard_name, new_shard_name,
                changed_by_email, status, migration_id, created_at)
         SELECT website_id, source_shard, target_shard, requested_by, status, id, created_at FROM m",
    )
    .bind(first)
    .bind(last)
    .execute(control)
    .await?;
    sqlx::raw_sql(
        "ANALYZE shardmover.migrations; ANALYZE shardmover.audit_logs;
         ANALYZE shardmover.migration_tables;",
    )
    .execute(control)
    .await?;
    Ok(())
}
