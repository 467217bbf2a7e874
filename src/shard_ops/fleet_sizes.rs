//! Every registered website's size where it lives — rows and bytes over its
//! tenant tables — every shard counted in parallel. A fleet plan weighs
//! websites by these; an unreachable shard is an error, since a plan made
//! without it would be made blind.

use std::time::Duration;

use futures_util::future::join_all;

use super::tenant_rows::sizes_on;
use super::{ShardOps, ShardOpsError};
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
}

impl ShardOps<'_> {
    /// Every website the registry places on a configured shard, with its size.
    pub async fn website_sizes(&self) -> Result<Vec<Sized>, ShardOpsError> {
        let placed = {
            let mut conn = self.conn().await?;
            shard_websites::everywhere(&mut conn, &self.settings().tenancy)
                .await
                .map_err(ShardOpsError::control("reading the registry"))?
        };
        let tenancy = &self.settings().tenancy;
        let names = self.configured();
        let counts = names.iter().map(|name| {
            let on: Vec<WebsiteId> = placed
                .iter()
                .filter(|(_, shard)| shard == name.as_str())
                .filter_map(|(id, _)| WebsiteId::new(*id).ok())
                .collect();
            async move {
                let pool = self
                    .app
                    .shards
                    .reads(name)
                    .expect("configured shards have pools");
                let sized = tokio::time::timeout(SIZES_TIMEOUT, sizes_on(pool, tenancy, &on));
                let found = match sized.await {
                    Ok(Ok(found)) => found,
                    Ok(Err(e)) => return Err(unreachable(name, e.one_line())),
                    Err(_) => {
                        let secs = SIZES_TIMEOUT.as_secs();
                        return Err(unreachable(name, format!("no answer within {secs} s")));
                    }
                };
                Ok(on
                    .into_iter()
                    .map(|website| {
                        let (rows, bytes) = found.get(&website).copied().unwrap_or((0, 0));
                        Sized {
                            website,
                            shard: name.to_string(),
                            rows,
                            bytes,
                        }
                    })
                    .collect::<Vec<_>>())
            }
        });
        let mut sizes = Vec::new();
        for counted in join_all(counts).await {
            sizes.extend(counted?);
        }
        Ok(sizes)
    }
}

fn unreachable(name: &ShardName, message: String) -> ShardOpsError {
    ShardOpsError::ShardUnreachable {
        shard: name.to_string(),
        message,
    }
}
