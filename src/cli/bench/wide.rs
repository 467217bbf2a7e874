//! The freeze of a wide tenant with nothing to drain: the sample tenant plus
//! `tables` more tables, each with a composite key, a uuid column and a
//! self-reference through that key, moved online back and forth with no writes.
//! The freeze must not grow with the tables (the fence's triggers go in one
//! round trip); this shows how long it lasts and where the time goes: raising
//! the fence and draining (`freezing`), verifying touched rows, the cutover.

use sqlx::PgPool;

use crate::domain::{MoveMode, MoveRequest};
use crate::ids::{ShardName, WebsiteId};
use crate::mover::{Mover, Silent};
use crate::moves::Origin;
use crate::sql::audited;

/// Rows of the website in each added table.
const ROWS_PER_TABLE: i64 = 50;
/// The sample tenant's own tables (pages, page_parts, products, orders, website_settings).
const SAMPLE_TABLES: usize = 5;

/// Adds the tables on both shards, seeds the website's rows on the source
/// (where `samples::tenant` already seeded and registered it), moves it `moves`
/// times and prints each freeze and the medians.
pub(super) async fn report(
    mover: &Mover,
    control: &PgPool,
    (source, target): (&PgPool, &PgPool),
    website: WebsiteId,
    tables: usize,
    moves: usize,
) -> anyhow::Result<()> {
    for shard in [source, target] {
        for i in 0..tables {
            sqlx::raw_sql(audited(&format!(
                "CREATE TABLE wide_{i} (
                     website_id bigint NOT NULL, id bigint NOT NULL, parent_id bigint,
                     ref uuid NOT NULL DEFAULT gen_random_uuid(), body text,
                     PRIMARY KEY (website_id, id),
                     FOREIGN KEY (website_id, parent_id) REFERENCES wide_{i} (website_id, id))"
            )))
            .execute(shard)
            .await?;
        }
    }
    for i in 0..tables {
        sqlx::query(audited(&format!(
            "INSERT INTO wide_{i} (website_id, id, parent_id, body)
             SELECT $1, g, nullif(g - 1, 0), 'row ' || g FROM generate_series(1, $2) g"
        )))
        .bind(website.get())
        .bind(ROWS_PER_TABLE)
        .execute(source)
        .await?;
    }
    let mut freezes = Vec::with_capacity(moves);
    for round in 0..moves {
        let to = ["target", "source"][round % 2];
        freezes.push(move_once(mover, control, website, to).await?);
    }
    print(tables + SAMPLE_TABLES, &mut freezes);
    Ok(())
}

/// One freeze: its length, then the time in freezing, verifying and cutover (ms).
type Freeze = (f64, [f64; 3]);

async fn move_once(
    mover: &Mover,
    control: &PgPool,
    website: WebsiteId,
    to: &str,
) -> anyhow::Result<Freeze> {
    let request = MoveRequest {
        website,
        target: ShardName::parse(to).map_err(anyhow::Error::msg)?,
        keep_source: false,
        batch_rows: None,
        requested_by: None,
        notes: Some("bench: wide tenant".into()),
        mode: MoveMode::Online,
    };
    let origin = Origin {
        request_id: "bench-wide",
        idempotency_key: None,
    };
    let record = crate::moves::request(mover, &request, origin).await?;
    mover.run(record.id, &Silent).await?;
    let length: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM ended_at - started_at)::float8 * 1000
           FROM shardmover.freezes WHERE migration_id = $1 AND ended_by = 'cutover'",
    )
    .bind(record.id.get())
    .fetch_one(control)
    .await?;
    let phases: Vec<(String, f64)> = sqlx::query_as(
        "SELECT phase, coalesce(extract(epoch FROM lead(entered_at) OVER (ORDER BY entered_at, id)
                                                   - entered_at)::float8 * 1000, 0)
           FROM shardmover.migration_phases WHERE migration_id = $1",
    )
    .bind(record.id.get())
    .fetch_all(control)
    .await?;
    let of = |name: &str| {
        phases
            .iter()
            .find(|(p, _)| p == name)
            .map_or(0.0, |(_, ms)| *ms)
    };
    Ok((length, [of("freezing"), of("verifying"), of("cutover")]))
}

fn print(tables: usize, freezes: &mut [Freeze]) {
    for (length, [freezing, verifying, cutover]) in freezes.iter() {
        println!(
            "  freeze {length:.0} ms  (fence up and drained {freezing:.0}, verifying {verifying:.0}, cutover {cutover:.0} ms)"
        );
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut lengths: Vec<f64> = freezes.iter().map(|f| f.0).collect();
    let max = lengths.iter().copied().fold(0.0, f64::max);
    let p50 = median(&mut lengths);
    let part = |i: usize| median(&mut freezes.iter().map(|f| f.1[i]).collect());
    println!(
        "wide tenant ({tables} tables), nothing to drain: freeze p50 {p50:.0} ms, max {max:.0} ms \
         (fence up and drained {:.0}, verifying {:.0}, cutover {:.0} ms; target <= 100 ms)",
        part(0),
        part(1),
        part(2)
    );
}
