//! The fleet as a plan simulates it: where each website sits and what each
//! shard holds after the moves planned so far, so that every choice sees the
//! choices made before it (a shard filled by one move refuses the next).

use std::cmp::Ordering;

use super::{Arithmetic, Measure, PlannedMove, Refusal, ShardLoad, ShardSnapshot, WebsiteSize};

pub(super) struct Fleet<'a> {
    /// Sorted by name, so an index order is a name order.
    pub shards: Vec<&'a ShardSnapshot>,
    pub websites: &'a [WebsiteSize],
    /// Per website: the index of the shard it is on now, if the snapshot names it.
    home: Vec<Option<usize>>,
    /// Per shard: the websites it held at the start, largest first.
    residents: Vec<Vec<usize>>,
    /// Per website: already planned to move (a plan moves a website once).
    moved: Vec<bool>,
    before: Vec<ShardLoad>,
    loads: Vec<ShardLoad>,
    moves: Vec<PlannedMove>,
}

impl<'a> Fleet<'a> {
    pub fn new(shards: &'a [ShardSnapshot], websites: &'a [WebsiteSize]) -> Self {
        let mut sorted: Vec<&ShardSnapshot> = shards.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut loads: Vec<ShardLoad> = sorted
            .iter()
            .map(|s| ShardLoad {
                shard: s.name.clone(),
                websites: 0,
                rows: 0,
                bytes: 0,
            })
            .collect();
        let find = |name: &str| sorted.binary_search_by(|s| s.name.as_str().cmp(name)).ok();
        let home: Vec<Option<usize>> = websites.iter().map(|w| find(&w.shard)).collect();
        let mut residents = vec![Vec::new(); sorted.len()];
        for (w, website) in websites.iter().enumerate() {
            if let Some(i) = home[w] {
                add(&mut loads[i], website, 1);
                residents[i].push(w);
            }
        }
        for list in &mut residents {
            list.sort_by(|&a, &b| largest_first(&websites[a], &websites[b]));
        }
        Fleet {
            residents,
            moved: vec![false; websites.len()],
            before: loads.clone(),
            shards: sorted,
            websites,
            home,
            loads,
            moves: Vec::new(),
        }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.shards
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
    }

    pub fn name(&self, shard: usize) -> &'a str {
        &self.shards[shard].name
    }

    pub fn count(&self, shard: usize) -> i64 {
        self.loads[shard].websites
    }

    /// The shard's load under `by`, after the moves planned so far.
    pub fn load(&self, shard: usize, by: Measure) -> i128 {
        let l = &self.loads[shard];
        i128::from(match by {
            Measure::Websites => l.websites,
            Measure::Rows => l.rows,
            Measure::Bytes => l.bytes,
        })
    }

    /// Free capacity now; `None` is no limit.
    pub fn free(&self, shard: usize) -> Option<i64> {
        let cap = self.shards[shard].capacity?;
        Some((cap - self.count(shard)).max(0))
    }

    /// Accepts websites and has room for one more.
    pub fn takes(&self, shard: usize) -> bool {
        self.shards[shard].accepts && self.free(shard) != Some(0)
    }

    /// Why the shard takes no website now.
    pub fn why_not(&self, shard: usize) -> String {
        let s = self.shards[shard];
        if !s.accepts {
            return s
                .why_not
                .clone()
                .unwrap_or_else(|| "does not accept websites".into());
        }
        format!("full (capacity {})", s.capacity.unwrap_or_default())
    }

    /// Websites on `shard` that have not moved yet, largest first. (A website
    /// moved onto it has moved, and a plan moves a website once.)
    pub fn on(&self, shard: usize) -> Vec<usize> {
        let residents = self.residents[shard].iter().copied();
        residents.filter(|&w| !self.moved[w]).collect()
    }

    pub fn has_moved(&self, website: usize) -> bool {
        self.moved[website]
    }

    pub fn movable(&self, website: usize) -> bool {
        !self.moved[website] && self.websites[website].busy.is_none()
    }

    /// A refusal for a busy website, or `None` when it is free to move.
    pub fn busy(&self, website: usize) -> Option<Refusal> {
        let w = &self.websites[website];
        w.busy.as_ref().map(|why| Refusal {
            website_id: Some(w.website_id),
            reason: format!("website {} is busy: {why}", w.website_id),
        })
    }

    /// Plans the move and updates both shards' loads.
    pub fn apply(&mut self, website: usize, target: usize) {
        let w = &self.websites[website];
        let source = match self.home[website] {
            Some(i) => {
                add(&mut self.loads[i], w, -1);
                self.name(i).to_string()
            }
            None => w.shard.clone(),
        };
        add(&mut self.loads[target], w, 1);
        self.home[website] = Some(target);
        self.moved[website] = true;
        self.moves.push(PlannedMove {
            website_id: w.website_id,
            source_shard: source,
            target_shard: self.name(target).to_string(),
            rows: w.rows,
            bytes: w.bytes,
        });
    }

    pub fn finish(mut self, refusals: Vec<Refusal>, keep_order: bool) -> Arithmetic {
        if !keep_order {
            self.moves.sort_by(|a, b| {
                (b.bytes, b.rows, a.website_id).cmp(&(a.bytes, a.rows, b.website_id))
            });
        }
        Arithmetic {
            moves: self.moves,
            refusals,
            before: self.before,
            after: self.loads,
        }
    }
}

/// Bytes, then rows, descending; then the lower id: the order plans move in.
pub(super) fn largest_first(a: &WebsiteSize, b: &WebsiteSize) -> Ordering {
    (b.bytes, b.rows, a.website_id).cmp(&(a.bytes, a.rows, b.website_id))
}

/// The website's size under `by`.
pub(super) fn size(w: &WebsiteSize, by: Measure) -> i128 {
    i128::from(match by {
        Measure::Websites => 1,
        Measure::Rows => w.rows,
        Measure::Bytes => w.bytes,
    })
}

fn add(load: &mut ShardLoad, w: &WebsiteSize, sign: i64) {
    load.websites += sign;
    load.rows += sign * w.rows;
    load.bytes += sign * w.bytes;
}
