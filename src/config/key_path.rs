//! A configuration key as the operator writes it: `engine.batch_rows`,
//! `tenancy.relations[0].columns`, `shards.shard_1.url`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// A path of plain keys, e.g. `"tenancy"` (`""` is the top level).
    pub(super) fn of_section(section: &str) -> Self {
        let keys = section.split('.').filter(|key| !key.is_empty());
        Self(keys.map(|key| Segment::Key(key.to_owned())).collect())
    }

    /// The key's section and its last name; `None` for an array entry itself.
    pub(super) fn split_last(&self) -> Option<(KeyPath, &str)> {
        match self.0.split_last()? {
            (Segment::Key(last), parent) => Some((Self(parent.to_vec()), last)),
            (Segment::Index(_), _) => None,
        }
    }

    pub(super) fn child(&self, key: &str) -> Self {
        self.clone().with(Segment::Key(key.to_owned()))
    }

    fn with(mut self, segment: Segment) -> Self {
        self.0.push(segment);
        self
    }

    pub(super) fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// The section's shape, names and indices the operator chooses left out:
    /// `shards.shard_1` is `shards.*`, `tenancy.relations[3]` is `tenancy.relations[]`.
    pub(super) fn shape(&self) -> String {
        let mut shape = String::new();
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(_) => shape.push_str("[]"),
                Segment::Key(key) => {
                    if i > 0 {
                        shape.push('.');
                    }
                    let free = i == 1 && self.0[0] == Segment::Key("shards".into());
                    shape.push_str(if free { "*" } else { key });
                }
            }
        }
        shape
    }
}

impl From<&serde_ignored::Path<'_>> for KeyPath {
    fn from(path: &serde_ignored::Path<'_>) -> Self {
        use serde_ignored::Path;
        match path {
            Path::Root => Self::default(),
            Path::Seq { parent, index } => Self::from(*parent).with(Segment::Index(*index)),
            Path::Map { parent, key } => Self::from(*parent).with(Segment::Key(key.clone())),
            // Options and newtypes add no key of their own.
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => Self::from(*parent),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
            }
        }
        Ok(())
    }
}
