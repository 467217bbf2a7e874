//! Bulk assignment with a mandatory preview. The preview lists every website's
//! old → new shard and a confirmation token: a keyed SHA-256 (key stored once
//! in the control database) of the exact plan, so any change to the plan —
//! a website moved, gained rows, another target — invalidates the token, and
//! nothing needs to be remembered between the two requests.

use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::tenant_rows::{RowsEverywhere, has_rows};
use super::{AssignRequest, ShardOps, ShardOpsError};
use crate::control::bulk_assign_key;
use crate::ids::{ShardName, WebsiteId};

/// Websites one bulk request may name.
pub const MAX_WEBSITES: usize = 1000;

#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub websites: Vec<WebsiteId>,
    pub target: String,
    pub requested_by: Option<String>,
    pub notes: Option<String>,
    /// Absent: preview only.
    pub confirmation_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkItem {
    pub website_id: i64,
    pub old_shard: Option<String>,
    pub new_shard: String,
    /// assign | unchanged | refused
    pub action: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkPlan {
    pub target_shard: String,
    pub items: Vec<BulkItem>,
    pub to_assign: usize,
    pub refused: usize,
    /// Send it back with the same websites and target to execute this plan.
    pub confirmation_token: String,
    pub executed: bool,
}

impl ShardOps<'_> {
    pub async fn bulk_assign(&self, request: &BulkRequest) -> Result<BulkPlan, ShardOpsError> {
        let mut plan = self.bulk_preview(request).await?;
        let Some(token) = &request.confirmation_token else {
            return Ok(plan);
        };
        if !self.settings().flags.bulk_ops {
            return Err(ShardOpsError::BulkDisabled);
        }
        if !bool::from(token.as_bytes().ct_eq(plan.confirmation_token.as_bytes())) {
            return Err(ShardOpsError::PlanChanged);
        }
        if plan.refused > 0 {
            return Err(ShardOpsError::PlanHasRefusals(plan.refused));
        }
        self.execute(request, &plan).await?;
        plan.executed = true;
        Ok(plan)
    }

    async fn bulk_preview(&self, request: &BulkRequest) -> Result<BulkPlan, ShardOpsError> {
        let target = self.shard(&request.target)?;
        let mut websites = request.websites.clone();
        websites.sort();
        websites.dedup();
        if websites.is_empty() || websites.len() > MAX_WEBSITES {
            return Err(ShardOpsError::Invalid(format!(
                "name between 1 and {MAX_WEBSITES} websites"
            )));
        }
        self.health(false, false).await?;
        let rows = self.rows_everywhere(&websites).await?;
        let mut items = Vec::with_capacity(websites.len());
        for website in websites {
            items.push(self.plan_item(website, &target, &rows).await?);
        }
        let to_assign = items.iter().filter(|i| i.action == "assign").count();
        let mut conn = self.conn().await?;
        if to_assign > 0 {
            self.admit(&mut conn, &target, to_assign as i64, true, false)
                .await?;
        }
        let confirmation_token = token(&mut conn, &target, &items).await?;
        Ok(BulkPlan {
            target_shard: target.to_string(),
            refused: items.iter().filter(|i| i.action == "refused").count(),
            to_assign,
            items,
            confirmation_token,
            executed: false,
        })
    }

    async fn plan_item(
        &self,
        website: WebsiteId,
        target: &ShardName,
        rows: &RowsEverywhere,
    ) -> Result<BulkItem, ShardOpsError> {
        let item = |old: Option<String>, action: &str, reason: Option<String>| BulkItem {
            website_id: website.get(),
            old_shard: old,
            new_shard: target.to_string(),
            action: action.into(),
            reason,
        };
        let old = match self.registered_shard(website).await {
            Ok(old) => old,
            Err(e @ ShardOpsError::UnknownWebsite(_)) => {
                return Ok(item(None, "refused", Some(e.one_line())));
            }
            Err(e) => return Err(e),
        };
        if old.as_deref() == Some(target.as_str()) {
            return Ok(item(old, "unchanged", None));
        }
        Ok(match has_rows(website, rows) {
            None => item(old, "assign", None),
            Some(refusal) => item(old, "refused", Some(refusal.one_line())),
        })
    }

    /// All or nothing, in one transaction with one audit entry per website.
    async fn execute(&self, request: &BulkRequest, plan: &BulkPlan) -> Result<(), ShardOpsError> {
        let target = self.shard(&request.target)?;
        let mut tx = self
            .control()
            .begin()
            .await
            .map_err(ShardOpsError::control("connecting to the control database"))?;
        self.admit(&mut tx, &target, plan.to_assign as i64, true, true)
            .await?;
        for item in plan.items.iter().filter(|i| i.action == "assign") {
            let single = AssignRequest {
                website: WebsiteId::new(item.website_id).expect("planned from a WebsiteId"),
                target: request.target.clone(),
                requested_by: request.requested_by.clone(),
                notes: request.notes.clone(),
            };
            match self
                .assign_in(&mut tx, &single, &target, item.old_shard.as_deref())
                .await
            {
                Err(ShardOpsError::Changed(_)) => return Err(ShardOpsError::PlanChanged),
                other => other?,
            };
        }
        tx.commit()
            .await
            .map_err(ShardOpsError::control("saving the assignments"))?;
        tracing::info!(shard = %target, websites = plan.to_assign, "bulk assignment executed");
        Ok(())
    }
}

/// The canonical text of a plan: target, then each website in id order.
fn canonical(target: &ShardName, items: &[BulkItem]) -> String {
    let mut text = format!("target={target}\n");
    for i in items {
        text.push_str(&format!(
            "{}:{}>{}:{}\n",
            i.website_id,
            i.old_shard.as_deref().unwrap_or("-"),
            i.new_shard,
            i.action
        ));
    }
    text
}

async fn token(
    conn: &mut sqlx::PgConnection,
    target: &ShardName,
    items: &[BulkItem],
) -> Result<String, ShardOpsError> {
    bulk_assign_key::sign(conn, &canonical(target, items))
        .await
        .map_err(ShardOpsError::control("signing the plan"))
}
