//! Loading the layers: unknown keys are refused, naming each; the shipped
//! files load cleanly. The environment is a map here, never the process's.

use std::path::{Path, PathBuf};

use super::load::environment;
use super::{ConfigError, Origin, Settings, UnknownKey, known_keys};

/// A TOML file removed when dropped.
struct TempToml(PathBuf);

impl TempToml {
    fn new(name: &str, text: &str) -> Self {
        let file = format!("shardmover-config-{}-{name}.toml", std::process::id());
        let path = std::env::temp_dir().join(file);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn load(file: Option<&Path>, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let vars = vars.iter().map(|(k, v)| ((*k).into(), (*v).into()));
    Settings::from_layers(file, environment(Some(vars.collect())))
}

fn unknown_keys(result: Result<Settings, ConfigError>) -> Vec<UnknownKey> {
    match result {
        Err(ConfigError::UnknownKeys(keys)) => keys,
        Err(other) => panic!("expected unknown keys, got {other}"),
        Ok(_) => panic!("expected unknown keys, got settings"),
    }
}

fn unknown(key: &str, origin: Origin, suggestion: Option<&str>) -> UnknownKey {
    UnknownKey {
        key: key.into(),
        origin,
        suggestion: suggestion.map(Into::into),
    }
}

#[test]
fn a_misspelt_key_in_a_file_is_refused_naming_it() {
    let file = TempToml::new("misspelt", "[engine]\nbatch_rowz = 10\n");
    let err = load(Some(&file.0), &[]).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "configuration: unknown key \"engine.batch_rowz\" in {} \
             (did you mean \"engine.batch_rows\"?)",
            file.0.display()
        )
    );
}

#[test]
fn a_misspelt_relations_table_is_refused_naming_it() {
    let text =
        "[[tenancy.relation]]\ntable = \"notes\"\ncolumns = [\"post_id\"]\nparent = \"posts\"\n";
    let file = TempToml::new("relation", text);
    let keys = unknown_keys(load(Some(&file.0), &[]));
    let origin = Origin::File(file.0.clone());
    let expected = unknown("tenancy.relation", origin, Some("tenancy.relations"));
    assert_eq!(keys, [expected]);
}

#[test]
fn a_misspelt_relation_field_is_refused_naming_its_entry() {
    let text = "[[tenancy.relations]]\ntable = \"notes\"\ncolumns = [\"post_id\"]\nparent = \"posts\"\n\
                [[tenancy.relations]]\ntable = \"tags\"\ncolums = [\"post_id\"]\nparent = \"posts\"\n";
    let file = TempToml::new("colums", text);
    // Its `columns` is missing too, but the misspelling is what is reported.
    let keys = unknown_keys(load(Some(&file.0), &[]));
    let origin = Origin::File(file.0.clone());
    let suggestion = Some("tenancy.relations[1].columns");
    let expected = unknown("tenancy.relations[1].colums", origin, suggestion);
    assert_eq!(keys, [expected]);
}

#[test]
fn an_unknown_environment_override_is_refused_naming_the_variable() {
    let vars = [("SHARDMOVER__ENGINE__BATCH_ROWZ", "1")];
    let err = load(None, &vars).err().unwrap();
    assert_eq!(
        err.to_string(),
        "configuration: unknown key \"engine.batch_rowz\" from SHARDMOVER__ENGINE__BATCH_ROWZ \
         (did you mean \"engine.batch_rows\"?)"
    );
}

#[test]
fn variables_that_are_not_overrides_are_left_alone() {
    let vars = [
        ("SHARDMOVER_CONFIG", "elsewhere.toml"),
        ("SHARDMOVER_TEST_DATABASE_URL", "postgres://localhost/x"),
        ("SHARD_MIGRATIONS_ENABLED", "false"),
        ("SHARDMOVER__ENGINE__BATCH_ROWS", "7"),
    ];
    assert_eq!(load(None, &vars).unwrap().engine.batch_rows, 7);
}

#[test]
fn every_unknown_key_is_named_at_once_in_key_order() {
    let text = "[engine]\nbatch_rows = 10\nsort_mem = \"1GB\"\n[shards.shard_9]\nurl = \"postgres://h/d\"\nurll = \"x\"\n[enginee]\nx = 1\n";
    let file = TempToml::new("several", text);
    let vars = [("SHARDMOVER__API__BINDD", "0.0.0.0:1")];
    let keys: Vec<String> = unknown_keys(load(Some(&file.0), &vars))
        .iter()
        .map(ToString::to_string)
        .collect();
    let path = file.0.display();
    let expected = [
        "\"api.bindd\" from SHARDMOVER__API__BINDD (did you mean \"api.bind\"?)".to_owned(),
        format!("\"engine.sort_mem\" in {path} (did you mean \"engine.sort_memory\"?)"),
        format!("\"enginee\" in {path} (did you mean \"engine\"?)"),
        format!("\"shards.shard_9.urll\" in {path} (did you mean \"shards.shard_9.url\"?)"),
    ];
    assert_eq!(keys, expected);
}

#[test]
fn a_key_under_the_wrong_header_is_pointed_to_its_section() {
    // `default_shard` written after `[shards.shard_1]` lands in that shard.
    let text = "[shards.shard_1]\nurl = \"postgres://h/d\"\ndefault_shard = \"shard_1\"\n";
    let file = TempToml::new("header", text);
    let keys = unknown_keys(load(Some(&file.0), &[]));
    let origin = Origin::File(file.0.clone());
    let suggestion = Some("tenancy.default_shard");
    let expected = unknown("shards.shard_1.default_shard", origin, suggestion);
    assert_eq!(keys, [expected]);
}

#[test]
fn a_key_nothing_resembles_gets_no_suggestion() {
    let keys = unknown_keys(load(None, &[("SHARDMOVER__WORKER__ZZZ", "1")]));
    let origin = Origin::Env(vec!["SHARDMOVER__WORKER__ZZZ".into()]);
    assert_eq!(keys, [unknown("worker.zzz", origin, None)]);
}

#[test]
fn the_shipped_default_and_local_files_load_cleanly() {
    let defaults = load(None, &[]).unwrap();
    defaults.validate().unwrap();
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/local.toml");
    let local = load(Some(&local), &[]).unwrap();
    local.validate().unwrap();
    assert_eq!(local.shards.len(), 2);
}

#[test]
fn every_section_knows_its_keys() {
    // A new section needs its line in `known_keys`, or its typos get no suggestion.
    for shape in known_keys::SECTIONS {
        assert!(!known_keys::keys_of(shape).is_empty(), "{shape:?}");
    }
    for section in known_keys::keys_of("") {
        let free = format!("{section}.*");
        let sections = known_keys::SECTIONS;
        assert!(
            sections.contains(section) || sections.contains(&free.as_str()),
            "{section}"
        );
    }
}

#[test]
fn shard_pools_of_no_connections_are_refused_naming_their_key() {
    for (var, key) in [
        (
            "SHARDMOVER__ENGINE__MOVE_CONNECTIONS_PER_SHARD",
            "engine.move_connections_per_shard",
        ),
        (
            "SHARDMOVER__SHARD_OPS__READ_CONNECTIONS_PER_SHARD",
            "shard_ops.read_connections_per_shard",
        ),
    ] {
        let error = load(None, &[(var, "0")]).unwrap().validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("configuration: {key} must be at least 1")
        );
        load(None, &[(var, "3")]).unwrap().validate().unwrap();
    }
}
