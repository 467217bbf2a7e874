//! The sample application's writes and a model of what they should leave: each
//! write is chosen from the model, run as one transaction, and applied to the
//! model only once the database acknowledged it. After a move, the website's
//! rows where it ended up are compared with the model: a row unlike the model
//! is a lost write. The online bench's writer and the engine tests' writer
//! both write through this.

use std::collections::BTreeMap;

use sqlx::PgPool;

/// The rows one website should have, by the writer's log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Model {
    /// orders: id → (quantity, note)
    pub orders: BTreeMap<i64, (i32, Option<String>)>,
    /// products: id → name
    pub products: BTreeMap<i64, String>,
    /// website_settings: key → value as text
    pub settings: BTreeMap<String, Option<String>>,
}

impl Model {
    /// The website's rows on `pool`, as they are.
    pub async fn read(pool: &PgPool, website: i64) -> Result<Self, sqlx::Error> {
        let orders: Vec<(i64, i32, Option<String>)> =
            sqlx::query_as("SELECT id, quantity, note FROM orders WHERE website_id = $1")
                .bind(website)
                .fetch_all(pool)
                .await?;
        let products: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM products WHERE website_id = $1")
                .bind(website)
                .fetch_all(pool)
                .await?;
        let settings: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT key, value::text FROM website_settings WHERE website_id = $1")
                .bind(website)
                .fetch_all(pool)
                .await?;
        Ok(Self {
            orders: orders.into_iter().map(|(i, q, n)| (i, (q, n))).collect(),
            products: products.into_iter().collect(),
            settings: settings.into_iter().collect(),
        })
    }

    /// Rows missing from one side or unlike on the two.
    pub fn differences(&self, other: &Model) -> usize {
        unlike(&self.orders, &other.orders)
            + unlike(&self.products, &other.products)
            + unlike(&self.settings, &other.settings)
    }
}

fn unlike<K: Ord, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> usize {
    let changed_or_gone = a.iter().filter(|(k, v)| b.get(k) != Some(v)).count();
    changed_or_gone + b.keys().filter(|k| !a.contains_key(k)).count()
}

/// The rows one client of a writer updates and deletes. Clients writing one
/// website at once each touch only their own share — the seeded rows split by
/// key, the orders and settings rows each inserted itself — so no two race
/// for a row.
#[derive(Debug, Clone)]
pub struct Share {
    /// Unique among all writers' clients ever run on the shards.
    tag: String,
    orders: Vec<i64>,
    products: Vec<i64>,
    /// The key of the next order inserted, when not the shard's sequence's.
    next_key: Option<i64>,
}

impl Share {
    /// Client `index` of `of`, writing `model`'s website.
    pub fn new(model: &Model, tag: impl Into<String>, index: u64, of: u64) -> Self {
        let ours = |id: &i64| id.rem_euclid(of.max(1) as i64) as u64 == index;
        Self {
            tag: tag.into(),
            orders: model.orders.keys().copied().filter(ours).collect(),
            products: model.products.keys().copied().filter(ours).collect(),
            next_key: None,
        }
    }

    /// Inserts orders with keys counted up from `first` rather than drawn
    /// from the shard's sequence. Where several websites move back and forth
    /// between shards whose sequences know nothing of each other, keys drawn
    /// on one shard can already be another website's on the other, and the
    /// move fails on the collision, as it must.
    pub fn keys_from(mut self, first: i64) -> Self {
        self.next_key = Some(first);
        self
    }

    /// The only client.
    pub fn whole(model: &Model, tag: impl Into<String>) -> Self {
        Self::new(model, tag, 0, 1)
    }

    /// The start of the keys of the settings rows this client brings in.
    fn setting_prefix(&self) -> String {
        format!("k{}-", self.tag)
    }
}

/// A pseudo-random place in `keys`, and the key there.
fn pick(keys: &[i64], step: u64) -> Option<(usize, i64)> {
    let at = (step.wrapping_mul(7919) % keys.len().max(1) as u64) as usize;
    keys.get(at).map(|id| (at, *id))
}

mod write;

pub use write::{Acked, Write};

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model {
            orders: (1..=6).map(|id| (id, (1, None))).collect(),
            products: [(1, "p".to_owned())].into(),
            settings: [("theme".to_owned(), None)].into(),
        }
    }

    #[test]
    fn a_row_missing_extra_or_changed_on_either_side_is_one_difference() {
        let expected = model();
        let mut actual = model();
        assert_eq!(expected.differences(&actual), 0);
        actual.orders.remove(&1);
        actual.orders.insert(7, (1, None));
        actual.products.insert(1, "renamed".into());
        assert_eq!(expected.differences(&actual), 3);
        assert_eq!(actual.differences(&expected), 3);
    }

    #[test]
    fn clients_of_one_writer_update_and_delete_disjoint_orders() {
        let model = model();
        for index in 0..3 {
            let share = Share::new(&model, "t", index, 3);
            for step in 0..70 {
                if let Some(Write::UpdateOrder { id, .. } | Write::DeleteOrder { id, .. }) =
                    Write::next(&model, &share, step)
                {
                    assert_eq!(id % 3, index as i64, "step {step}");
                }
            }
        }
    }
}
