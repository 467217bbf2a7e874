//! One write of the sample application, chosen from the model before it runs
//! and applied to the model once the database acknowledged it.

use sqlx::PgPool;

use super::{Model, Share, pick};

/// One write of the website, chosen from the model.
#[derive(Debug, Clone)]
pub enum Write {
    /// With `id` none, the shard's sequence picks the key.
    InsertOrder {
        product: i64,
        step: u64,
        id: Option<i64>,
    },
    UpdateOrder {
        id: i64,
        step: u64,
    },
    /// The order at `at` in the client's share.
    DeleteOrder {
        id: i64,
        at: usize,
    },
    RenameProduct {
        id: i64,
        step: u64,
    },
    /// A settings row born under another website id, then moved into this
    /// website by an update of its key column: a row entering it.
    SettingEnters {
        key: String,
        step: u64,
    },
    /// A row leaving the website the same way.
    SettingLeaves {
        key: String,
    },
}

/// What the database acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct Acked {
    /// False when an update or delete found no row (the write reached a shard
    /// that no longer holds the website, unrefused).
    pub found: bool,
    inserted: Option<i64>,
}

impl Write {
    /// The `step`th write of a client with `share`, in turn: two order
    /// inserts, an order update, an order delete, a product rename, a settings
    /// row entering and one leaving. None when there is nothing of the kind to
    /// touch.
    pub fn next(model: &Model, share: &Share, step: u64) -> Option<Self> {
        Some(match step % 7 {
            0 | 1 => Self::InsertOrder {
                product: *model.products.keys().next()?,
                step,
                id: share.next_key,
            },
            2 => Self::UpdateOrder {
                id: pick(&share.orders, step)?.1,
                step,
            },
            3 => {
                let (at, id) = pick(&share.orders, step)?;
                Self::DeleteOrder { id, at }
            }
            4 => Self::RenameProduct {
                id: pick(&share.products, step)?.1,
                step,
            },
            5 => Self::SettingEnters {
                key: format!("{}{step}", share.setting_prefix()),
                step,
            },
            _ => {
                let prefix = share.setting_prefix();
                let key = model.settings.keys().find(|k| k.starts_with(&prefix))?;
                Self::SettingLeaves { key: key.clone() }
            }
        })
    }

    /// Runs the write on `pool` as one transaction.
    pub async fn run(&self, pool: &PgPool, website: i64) -> Result<Acked, sqlx::Error> {
        let (affected, inserted) = match self {
            Self::InsertOrder { product, step, id } => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO orders (id, website_id, product_id, quantity, total, ordered_at, note)
                     VALUES (coalesce($5, nextval(pg_get_serial_sequence('orders', 'id'))),
                             $1, $2, $3, 1.50, now(), $4)
                     RETURNING id",
                )
                .bind(website)
                .bind(product)
                .bind(quantity(*step))
                .bind(format!("written {step}"))
                .bind(id)
                .fetch_one(pool)
                .await?;
                (1, Some(id))
            }
            Self::UpdateOrder { id, step } => sqlx::query(
                "UPDATE orders SET quantity = $3, note = $4 WHERE id = $1 AND website_id = $2",
            )
            .bind(id)
            .bind(website)
            .bind(-quantity(*step))
            .bind(format!("updated {step}"))
            .execute(pool)
            .await
            .map(|done| (done.rows_affected(), None))?,
            Self::DeleteOrder { id, .. } => {
                sqlx::query("DELETE FROM orders WHERE id = $1 AND website_id = $2")
                    .bind(id)
                    .bind(website)
                    .execute(pool)
                    .await
                    .map(|done| (done.rows_affected(), None))?
            }
            Self::RenameProduct { id, step } => {
                sqlx::query("UPDATE products SET name = $3 WHERE id = $1 AND website_id = $2")
                    .bind(id)
                    .bind(website)
                    .bind(format!("renamed {step} ✓"))
                    .execute(pool)
                    .await
                    .map(|done| (done.rows_affected(), None))?
            }
            Self::SettingEnters { key, step } => (enter(pool, website, key, *step).await?, None),
            Self::SettingLeaves { key } => sqlx::query(
                "UPDATE website_settings SET website_id = -2 WHERE website_id = $1 AND key = $2",
            )
            .bind(website)
            .bind(key)
            .execute(pool)
            .await
            .map(|done| (done.rows_affected(), None))?,
        };
        Ok(Acked {
            found: affected == 1,
            inserted,
        })
    }

    /// What the acknowledged write changed, in the model and the client's share.
    pub fn apply(&self, model: &mut Model, share: &mut Share, acked: &Acked) {
        match self {
            Self::InsertOrder { step, .. } => {
                if let Some(id) = acked.inserted {
                    let note = Some(format!("written {step}"));
                    model.orders.insert(id, (quantity(*step), note));
                    share.orders.push(id);
                    share.next_key = share.next_key.map(|key| key + 1);
                }
            }
            Self::UpdateOrder { id, step } => {
                let note = Some(format!("updated {step}"));
                model.orders.insert(*id, (-quantity(*step), note));
            }
            Self::DeleteOrder { id, at } => {
                model.orders.remove(id);
                share.orders.swap_remove(*at);
            }
            Self::RenameProduct { id, step } => {
                model.products.insert(*id, format!("renamed {step} ✓"));
            }
            Self::SettingEnters { key, step } => {
                let value = Some(format!("{{\"step\": {step}}}"));
                model.settings.insert(key.clone(), value);
            }
            Self::SettingLeaves { key } => {
                model.settings.remove(key);
            }
        }
    }
}

fn quantity(step: u64) -> i32 {
    (step % 100) as i32
}

/// Inserts the row under website -1 and moves it into `website`, in one transaction.
async fn enter(pool: &PgPool, website: i64, key: &str, step: u64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO website_settings (website_id, key, value) VALUES (-1, $1, $2)")
        .bind(key)
        .bind(serde_json::json!({ "step": step }))
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(
        "UPDATE website_settings SET website_id = $1 WHERE website_id = -1 AND key = $2",
    )
    .bind(website)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
