//! Preflight's privilege check: everything shardmover's role lacks, on the
//! control database and both shards, named in one refusal.

use sqlx::PgPool;

use crate::ids::ShardName;
use crate::mover::error::{Context, MoveError};
use crate::mover::{Mover, privileges};
use crate::tenancy::TenantTable;

impl Mover {
    /// Everything shardmover's role lacks on the control database and both
    /// shards, in one list, before anything is touched.
    pub(crate) async fn check_privileges(
        &self,
        shards: [(&ShardName, &PgPool); 2],
        plan: &[TenantTable],
    ) -> Result<(), MoveError> {
        let mut missing = Vec::new();
        let mut conn = self.control_conn().await?;
        for item in privileges::missing_on_control(&mut conn, &self.settings.tenancy)
            .await
            .context(|| "checking privileges on the control database".into())?
        {
            missing.push(format!("{item} (control database)"));
        }
        drop(conn); // never held while waiting for a shard's
        for (name, pool) in shards {
            let mut conn = pool
                .acquire()
                .await
                .context(|| format!("connecting to {name}"))?;
            for item in privileges::missing_on_shard(&mut conn, plan)
                .await
                .context(|| format!("checking privileges on {name}"))?
            {
                missing.push(format!("{item} ({name})"));
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(MoveError::MissingPrivileges(missing.join("; ")))
        }
    }
}
