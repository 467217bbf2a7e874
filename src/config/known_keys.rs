//! The keys each section accepts, read from the settings types' own serde
//! derives (so they cannot drift from the structs); used only to suggest the
//! key an operator meant when they wrote one that no setting reads.

use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};

use super::key_path::KeyPath;
use super::{
    ApiSettings, DatabaseSettings, EngineSettings, LogSettings, MailSettings, RelationSettings,
    Settings, ShardOpsSettings, ShardSettings, TenancySettings, WorkerSettings,
};

/// Every section by shape (see `KeyPath::shape`); a test keeps it complete.
pub(super) const SECTIONS: [&str; 11] = [
    "",
    "database",
    "shards.*",
    "tenancy",
    "tenancy.relations[]",
    "shard_ops",
    "engine",
    "api",
    "worker",
    "mail",
    "log",
];

/// The keys a section of this shape accepts.
pub(super) fn keys_of(shape: &str) -> &'static [&'static str] {
    match shape {
        "" => fields_of::<Settings>(),
        "database" => fields_of::<DatabaseSettings>(),
        "shards.*" => fields_of::<ShardSettings>(),
        "tenancy" => fields_of::<TenancySettings>(),
        "tenancy.relations[]" => fields_of::<RelationSettings>(),
        "shard_ops" => fields_of::<ShardOpsSettings>(),
        "engine" => fields_of::<EngineSettings>(),
        "api" => fields_of::<ApiSettings>(),
        "worker" => fields_of::<WorkerSettings>(),
        "mail" => fields_of::<MailSettings>(),
        "log" => fields_of::<LogSettings>(),
        _ => &[],
    }
}

/// The known key `unknown` most likely means: a close spelling in its own
/// section, else the same name in another one (a key under the wrong header).
pub(super) fn suggest(unknown: &KeyPath) -> Option<KeyPath> {
    let (section, name) = unknown.split_last()?;
    let name = name.to_lowercase();
    let closest = keys_of(&section.shape())
        .iter()
        .map(|key| (strsim::normalized_damerau_levenshtein(&name, key), key))
        .filter(|(similarity, _)| *similarity >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, key)) = closest {
        return Some(section.child(key));
    }
    // Only sections without free names or indices can be written out whole.
    SECTIONS
        .iter()
        .filter(|shape| !shape.contains(['*', '[']))
        .find(|shape| keys_of(shape).contains(&name.as_str()))
        .map(|shape| KeyPath::of_section(shape).child(&name))
}

/// The field names serde's derive hands to `deserialize_struct` for `T`.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldsProbe) {
        Err(Probed(fields)) => fields,
        Ok(_) => &[],
    }
}

/// A deserializer that gives no data, only asks a struct for its field names.
struct FieldsProbe;

#[derive(Debug)]
struct Probed(&'static [&'static str]);

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probed(&[])
    }
}

impl<'de> de::Deserializer<'de> for FieldsProbe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
