//! Every registered website's size where it lives — rows and bytes over its
//! tenant tables — every shard in parallel. A fleet plan weighs websites by
//! these; an unreachable shard is an error, since a plan made without it would
//! be made blind. A plan that needs only some websites measured asks for those:
//! the rest get an even share of their shard's catalogue estimate
//! (`size_estimates`), marked `estimated`, and a shard with none to measure is
//! not read at all.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use sqlx::PgPool;

use super::size_estimates::{share, totals_on};
use super::tenant_rows::sizes_on;
use super::{ShardOps, ShardOpsError};
use crate::config::TenancySettings;
use crate::control::shard_websites;
use crate::ids::{ShardName, WebsiteId};

/// Counting a whole shard's websites may take a while; it is a preview, not a page.
const SIZES_TIMEOUT: Duration = Duration::from_secs(120);

/// A website, the shard it lives on, its rows and bytes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sized {
    pub website: WebsiteId,
    pub shard: String,
    pub rows: i64,
    pub bytes: i64,
    /// An even share of its shard's catalogue estimate, not measured.
    pub estimated: bool,
}

impl ShardOps<'_> {
    /// Every website of `placed` (as [`Self::placed`] reads the registry) on a
    /// configured shard, with its size: measured when `measure` is `None` or
    /// names it, estimated otherwise.
    pub async fn website_sizes(
        &self,
        placed: &[(i64, String)],
        measure: Option<&HashSet<i64>>,
    ) -> Result<Vec<Sized>, ShardOpsError> {
        let tenancy = &self.settings().tenancy;
        let names = self.configured();
        let counts = names.iter().map(|name| {
            let on: Vec<WebsiteId> = placed
                .iter()
                .filter(|(_, shard)| shard == name.as_str())
                .filter_map(|(id, _)| WebsiteId::new(*id).ok())
                .collect();
            let pool = self
                .app
                .shards
                .reads(name)
                .expect("configured shards have pools");
            let sized = sizes_of_shard(pool, tenancy, name, on, measure);
            async move {
                match tokio::time::timeout(SIZES_TIMEOUT, sized).await {
                    Ok(Ok(sizes)) => Ok(sizes),
                    Ok(Err(e)) => Err(unreachable(name, e.one_line())),
                    Err(_) => {
                        let secs = SIZES_TIMEOUT.as_secs();
                        Err(unreachable(name, format!("no answer within {secs} s")))
                    }
                }
            }
        });
        let mut sizes = Vec::new();
        for counted in join_all(counts).await {
            sizes.extend(counted?);
        }
        Ok(sizes)
    }

    /// Every registered website with the shard the registry places it on.
    pub async fn placed(&self) -> Result<Vec<(i64, String)>, ShardOpsError> {
        let mut conn = self.conn().await?;
        shard_websites::everywhere(&mut conn, &self.settings().tenancy)
            .await
            .map_err(ShardOpsError::control("reading the registry"))
    }
}

/// The shard's websites `on` it: those `measure` names (all when `None`)
/// measured, the others each an even share of the shard's estimate.
async fn sizes_of_shard(
    pool: &PgPool,
    tenancy: &TenancySettings,
    name: &ShardName,
    on: Vec<WebsiteId>,
    measure: Option<&HashSet<i64>>,
) -> Result<Vec<Sized>, crate::tenancy::TenancyError> {
    let n = on.len();
    let (exact, rest): (Vec<WebsiteId>, Vec<WebsiteId>) =
        (on.into_iter()).partition(|w| measure.is_none_or(|m| m.contains(&w.get())));
    let found = match exact.is_empty() {
        true => Default::default(),
        false => sizes_on(pool, tenancy, &exact).await?,
    };
    let (rows, bytes) = match rest.is_empty() {
        true => (0, 0),
        false => totals_on(pool, tenancy).await?,
    };
    let sized = |website: WebsiteId, (rows, bytes): (i64, i64), estimated: bool| Sized {
        website,
        shard: name.to_string(),
        rows,
        bytes,
        estimated,
    };
    let measured = exact.into_iter().map(|website| {
        let size = found.get(&website).copied().unwrap_or((0, 0));
        sized(website, size, false)
    });
    let estimated = (rest.into_iter().enumerate())
        .map(|(k, website)| sized(website, (share(rows, k, n), share(bytes, k, n)), true));
    Ok(measured.chain(estimated).collect())
}

fn unreachable(name: &ShardName, message: String) -> ShardOpsError {
    ShardOpsError::ShardUnreachable {
        shard: name.to_string(),
        message,
    }
}
