//! What a dry run shows beyond the tables it moves: the tables left alone and
//! why, the application's triggers (and whether shardmover's sessions keep
//! them from firing), tables under row-level security, and the materialized
//! views that read the website's tables — which shardmover does not own, so
//! cannot refresh: the operator's step after a move.

use serde::Serialize;
use sqlx::PgConnection;

use super::privileges;
use crate::mover::error::{Context, MoveError};
use crate::tenancy::{LeftAlone, TenantTable};

#[derive(Debug, Clone, Default, Serialize)]
pub struct SchemaNotes {
    /// Tables of the configured schemas holding no website's rows, and why.
    pub left_alone: Vec<LeftAlone>,
    /// The application's triggers on the plan's tables (`table.trigger`).
    pub application_triggers: Vec<String>,
    /// Whether shardmover's sessions run as replicas, so those do not fire.
    pub triggers_silenced: bool,
    /// Plan tables with row-level security (shardmover's role bypasses it, or
    /// preflight refuses).
    pub row_security: Vec<String>,
    /// Materialized views reading plan tables: refresh them after a move.
    pub materialized_views: Vec<MaterializedView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaterializedView {
    pub name: String,
    /// Has a unique index, so `REFRESH … CONCURRENTLY` works (readers are not blocked).
    pub concurrently: bool,
}

impl MaterializedView {
    pub fn refresh_sql(&self) -> String {
        let how = if self.concurrently {
            "CONCURRENTLY "
        } else {
            ""
        };
        format!("REFRESH MATERIALIZED VIEW {how}{}", self.name)
    }
}

/// Reads the notes on the source, where the plan's oids are.
pub async fn gather(
    conn: &mut PgConnection,
    plan: &[TenantTable],
    left_alone: Vec<LeftAlone>,
) -> Result<SchemaNotes, sqlx::Error> {
    let oids: Vec<i64> = plan.iter().map(|t| i64::from(t.oid)).collect();
    let row_security = sqlx::query_scalar(
        "SELECT oid::regclass::text FROM pg_class WHERE oid::int8 = ANY($1) AND relrowsecurity ORDER BY 1",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(SchemaNotes {
        left_alone,
        application_triggers: privileges::application_triggers(conn, plan).await?,
        triggers_silenced: privileges::may_set_replication_role(conn).await?,
        row_security,
        materialized_views: materialized_views(conn, plan).await?,
    })
}

/// The materialized views that read any of `plan`'s tables.
pub async fn materialized_views(
    conn: &mut PgConnection,
    plan: &[TenantTable],
) -> Result<Vec<MaterializedView>, sqlx::Error> {
    let oids: Vec<i64> = plan.iter().map(|t| i64::from(t.oid)).collect();
    let views: Vec<(String, bool)> = sqlx::query_as(
        "SELECT DISTINCT v.oid::regclass::text,
                EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = v.oid AND i.indisunique
                           AND i.indpred IS NULL AND i.indexprs IS NULL)
           FROM pg_depend d
           JOIN pg_rewrite r ON r.oid = d.objid
           JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'm'
          WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
            AND d.refobjid::int8 = ANY($1)
          ORDER BY 1",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(views
        .into_iter()
        .map(|(name, concurrently)| MaterializedView { name, concurrently })
        .collect())
}

/// The operator's step after a move whose tables `views` read, if any.
pub fn follow_up(views: &[MaterializedView], source: &str, target: &str) -> Option<String> {
    (!views.is_empty()).then(|| {
        let statements: Vec<String> = views.iter().map(|v| v.refresh_sql()).collect();
        format!(
            "refresh the materialized views that read the website's tables on {target} and on \
             {source} (shardmover does not own them): {}",
            statements.join("; ")
        )
    })
}

/// The materialized views reading `plan`'s tables on the source.
pub(crate) async fn views_reading(
    source: &sqlx::PgPool,
    plan: &[TenantTable],
) -> Result<Vec<MaterializedView>, MoveError> {
    let mut conn = source
        .acquire()
        .await
        .context(|| "connecting to the source shard".into())?;
    materialized_views(&mut conn, plan)
        .await
        .context(|| "listing materialized views".into())
}
