//! Schemas shaped as real applications' are, not as our sample is: tables that
//! belong to a website only through parents (declared with `ON DELETE
//! CASCADE`, or never declared), an identity column `GENERATED ALWAYS`,
//! enums and arrays of them, columns in another order on the target, a
//! sequence no column owns, and an application trigger keeping a counter. Moved
//! online under a writer that keeps a model of every acknowledged write; the
//! target must equal the model, the source keep nothing of the website, the
//! neighbour keep everything — and the refusals must name what they refuse.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shardmover::config::RelationSettings;
use shardmover::mover::Silent;
use sqlx::PgPool;

use crate::helpers::{TestEnv, website};

/// Both shards' tables; the target's `z_props` has its columns in another order.
fn zoo_schema(target: bool) -> String {
    let props = if target {
        "CREATE TABLE z_props (title text, moods mood[] NOT NULL DEFAULT '{}',
            website_id bigint NOT NULL, mood mood NOT NULL,
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)"
    } else {
        "CREATE TABLE z_props (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            website_id bigint NOT NULL, mood mood NOT NULL,
            moods mood[] NOT NULL DEFAULT '{}', title text)"
    };
    format!(
        "CREATE TYPE mood AS ENUM ('happy', 'sad', 'meh');
         {props};
         CREATE SEQUENCE z_shared;
         CREATE SEQUENCE z_down INCREMENT -1 MAXVALUE -1;
         CREATE TABLE z_tickets (
             id bigint PRIMARY KEY DEFAULT nextval('z_down'), website_id bigint NOT NULL, subject text);
         CREATE TABLE z_photos (
             id bigint PRIMARY KEY DEFAULT nextval('z_shared'),
             prop_id bigint NOT NULL REFERENCES z_props (id) ON DELETE CASCADE,
             caption text);
         CREATE INDEX z_photos_prop ON z_photos (prop_id);
         CREATE TABLE z_photo_notes (
             id bigint PRIMARY KEY DEFAULT nextval('z_shared'),
             photo_id bigint NOT NULL REFERENCES z_photos (id) ON DELETE CASCADE,
             note text);
         CREATE TABLE z_translations (
             id bigserial PRIMARY KEY, prop_id bigint NOT NULL, body text);
         CREATE TABLE z_counters (website_id bigint PRIMARY KEY, photos integer NOT NULL);
         CREATE TABLE z_folders (
             website_id bigint NOT NULL, id bigint NOT NULL, parent_id bigint, name text,
             PRIMARY KEY (website_id, id),
             FOREIGN KEY (website_id, parent_id) REFERENCES z_folders (website_id, id));
         CREATE TYPE z_address AS (street text, mood mood);
         CREATE DOMAIN z_positive AS integer CHECK (VALUE > 0);
         CREATE TABLE z_profiles (
             id bigserial PRIMARY KEY, website_id bigint NOT NULL, email citext, attrs hstore,
             home z_address, past z_address[], score z_positive, tags citext[]);
         CREATE FUNCTION z_count() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO z_counters AS c (website_id, photos)
             SELECT p.website_id, 1 FROM z_props p WHERE p.id = NEW.prop_id
             ON CONFLICT (website_id) DO UPDATE SET photos = c.photos + 1;
             RETURN NEW;
         END $$;
         CREATE TRIGGER z_count AFTER INSERT ON z_photos FOR EACH ROW EXECUTE FUNCTION z_count();"
    )
}

async fn zoo_env() -> TestEnv {
    let mut env = TestEnv::new().await;
    for shard in ["shard_1", "shard_2"] {
        env.as_superuser(
            shard,
            &[
                "CREATE EXTENSION citext SCHEMA public",
                "CREATE EXTENSION hstore SCHEMA public",
            ],
        )
        .await;
    }
    for (pool, target) in [(&env.shard_1, false), (&env.shard_2, true)] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(zoo_schema(target)))
            .execute(pool)
            .await
            .unwrap();
    }
    env.settings.tenancy.relations = vec![RelationSettings {
        table: "z_translations".into(),
        columns: vec!["prop_id".into()],
        parent: "z_props".into(),
        parent_columns: Vec::new(),
    }];
    env
}

/// A website's props, each with photos (each with a note) and translations.
async fn seed_zoo(pool: &PgPool, id: i64, props: i64) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO z_props (website_id, mood, moods, title)
              SELECT {id}, (ARRAY['happy','sad','meh']::mood[])[1 + n % 3], ARRAY['meh','sad']::mood[], 'p' || n
                FROM generate_series(1, {props}) n;
         INSERT INTO z_photos (prop_id, caption)
              SELECT p.id, 'c' || k FROM z_props p, generate_series(1, 2) k WHERE p.website_id = {id};
         INSERT INTO z_photo_notes (photo_id, note)
              SELECT f.id, 'n' FROM z_photos f JOIN z_props p ON p.id = f.prop_id WHERE p.website_id = {id};
         INSERT INTO z_translations (prop_id, body)
              SELECT p.id, 'en' FROM z_props p WHERE p.website_id = {id};
         INSERT INTO z_tickets (website_id, subject) SELECT {id}, 't' || n FROM generate_series(1, 20) n;
         INSERT INTO z_folders (website_id, id, parent_id, name)
              SELECT {id}, n, CASE WHEN n > 1 THEN n / 2 END, 'f' || n FROM generate_series(1, {props}) n
              ORDER BY n;
         INSERT INTO z_profiles (website_id, email, attrs, home, past, score, tags)
              SELECT {id}, 'Who' || n || '@Example.com', hstore('k', n::text),
                     ROW('street ' || n, 'sad')::z_address,
                     ARRAY[ROW('old', 'meh')::z_address, NULL], 1 + n, ARRAY['A', 'b']::citext[]
                FROM generate_series(1, {props} / 10) n;"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// What the website holds in the zoo tables, by value (ids included).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Zoo {
    props: BTreeMap<i64, (String, String)>,
    photos: BTreeMap<i64, (i64, Option<String>)>,
    notes: usize,
    translations: BTreeMap<i64, (i64, Option<String>)>,
    /// Photos the writer inserted (not read from a database).
    inserted_photos: i32,
}

impl Zoo {
    async fn read(pool: &PgPool, id: i64) -> Self {
        let props: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT id, mood::text, title FROM z_props WHERE website_id = $1")
                .bind(id)
                .fetch_all(pool)
                .await
                .unwrap();
        let photos: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT f.id, f.prop_id, f.caption FROM z_photos f JOIN z_props p ON p.id = f.prop_id
              WHERE p.website_id = $1",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
        let notes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM z_photo_notes n JOIN z_photos f ON f.id = n.photo_id
               JOIN z_props p ON p.id = f.prop_id WHERE p.website_id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
        let translations: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT t.id, t.prop_id, t.body FROM z_translations t JOIN z_props p ON p.id = t.prop_id
              WHERE p.website_id = $1",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
        Self {
            props: props
                .into_iter()
                .map(|(i, m, t)| (i, (m, t.unwrap_or_default())))
                .collect(),
            photos: photos.into_iter().map(|(i, p, c)| (i, (p, c))).collect(),
            notes: notes as usize,
            translations: translations
                .into_iter()
                .map(|(i, p, b)| (i, (p, b)))
                .collect(),
            inserted_photos: 0,
        }
    }
}

/// The application: writes website `id` wherever the registry says it lives,
/// retrying what the fence refuses; `model` follows every acknowledged write
/// (notes are not written, so their count only falls with cascades).
struct ZooWriter {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Zoo, u64)>,
}

impl ZooWriter {
    async fn start(env: &TestEnv, id: i64) -> Self {
        let mut model = Zoo::read(&env.shard_1, id).await;
        let pools = [env.shard_1.clone(), env.shard_2.clone()];
        let control = env.control.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut acknowledged = 0u64;
            let mut n = 0i64;
            while !stopping.load(Ordering::Relaxed) {
                n += 1;
                let shard: Option<String> =
                    sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
                        .bind(id)
                        .fetch_one(&control)
                        .await
                        .unwrap();
                let pool = if shard.as_deref() == Some("shard_2") {
                    &pools[1]
                } else {
                    &pools[0]
                };
                match write_once(pool, id, n, &model).await {
                    Ok(apply) => {
                        apply(&mut model);
                        acknowledged += 1;
                    }
                    Err(e) if is_fenced(&e) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Err(e) => panic!("the application's write failed: {e}"),
                }
            }
            (model, acknowledged)
        });
        Self { stop, task }
    }

    async fn stop(self) -> (Zoo, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

fn is_fenced(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("SMF01"))
}

type Apply = Box<dyn FnOnce(&mut Zoo) + Send>;

/// One write, chosen by `n`; returns how it changes the model once committed.
async fn write_once(pool: &PgPool, id: i64, n: i64, model: &Zoo) -> Result<Apply, sqlx::Error> {
    let some_prop = model
        .props
        .keys()
        .nth((n as usize * 7) % model.props.len().max(1));
    match (n % 5, some_prop.copied()) {
        (0, _) | (_, None) => {
            let (pid,): (i64,) = sqlx::query_as(
                "INSERT INTO z_props (website_id, mood, title) VALUES ($1, 'happy', $2) RETURNING id",
            )
            .bind(id)
            .bind(format!("w{n}"))
            .fetch_one(pool)
            .await?;
            Ok(Box::new(move |m: &mut Zoo| {
                m.props.insert(pid, ("happy".into(), format!("w{n}")));
            }))
        }
        (1, Some(prop)) => {
            let (fid,): (i64,) = sqlx::query_as(
                "INSERT INTO z_photos (prop_id, caption) VALUES ($1, $2) RETURNING id",
            )
            .bind(prop)
            .bind(format!("f{n}"))
            .fetch_one(pool)
            .await?;
            Ok(Box::new(move |m: &mut Zoo| {
                m.photos.insert(fid, (prop, Some(format!("f{n}"))));
                m.inserted_photos += 1;
            }))
        }
        (2, Some(prop)) => {
            sqlx::query("UPDATE z_props SET mood = 'sad', title = $2 WHERE id = $1")
                .bind(prop)
                .bind(format!("u{n}"))
                .execute(pool)
                .await?;
            Ok(Box::new(move |m: &mut Zoo| {
                m.props.insert(prop, ("sad".into(), format!("u{n}")));
            }))
        }
        (3, Some(prop)) => {
            let (tid,): (i64,) = sqlx::query_as(
                "INSERT INTO z_translations (prop_id, body) VALUES ($1, $2) RETURNING id",
            )
            .bind(prop)
            .bind(format!("t{n}"))
            .fetch_one(pool)
            .await?;
            Ok(Box::new(move |m: &mut Zoo| {
                m.translations.insert(tid, (prop, Some(format!("t{n}"))));
            }))
        }
        (_, Some(prop)) => {
            // The application deletes a prop's undeclared children itself; the
            // declared ones go by cascade.
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM z_translations WHERE prop_id = $1")
                .bind(prop)
                .execute(&mut *tx)
                .await?;
            let notes: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM z_photo_notes n JOIN z_photos f ON f.id = n.photo_id
                  WHERE f.prop_id = $1",
            )
            .bind(prop)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM z_props WHERE id = $1")
                .bind(prop)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Box::new(move |m: &mut Zoo| {
                m.props.remove(&prop);
                m.photos.retain(|_, (p, _)| *p != prop);
                m.translations.retain(|_, (p, _)| *p != prop);
                m.notes -= notes as usize;
            }))
        }
    }
}

/// The website's profiles (composite, domain, extension and array types) as text.
async fn folders(pool: &PgPool, id: i64) -> Vec<(i64, Option<i64>)> {
    sqlx::query_as("SELECT id, parent_id FROM z_folders WHERE website_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn profiles(pool: &PgPool, id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT concat_ws('|', id, email, attrs, home, past, score, tags) FROM z_profiles
          WHERE website_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn counter(pool: &PgPool, id: i64) -> Option<i32> {
    sqlx::query_scalar("SELECT photos FROM z_counters WHERE website_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_reached_only_through_parents_move_online_exactly_under_a_writer() {
    let env = zoo_env().await;
    env.seed(7, "shard_1", 2_000).await;
    env.seed(8, "shard_1", 500).await;
    seed_zoo(&env.shard_1, 7, 3_000).await;
    seed_zoo(&env.shard_1, 8, 50).await;
    let neighbour = Zoo::read(&env.shard_1, 8).await;
    let profiled = profiles(&env.shard_1, 7).await;
    let tree = folders(&env.shard_1, 7).await;
    assert_eq!(profiled.len(), 300);
    let mover = env.mover();
    let plan = mover
        .preflight(website(7), &crate::helpers::shard("shard_2"))
        .await
        .unwrap();
    let owner = |name: &str| {
        plan.tables
            .iter()
            .find(|t| t.name == format!("public.{name}"))
            .unwrap_or_else(|| panic!("{name} is in the plan: {:?}", plan.tables))
            .owner
            .clone()
    };
    assert_eq!(owner("z_photos"), "prop_id → public.z_props.website_id");
    assert_eq!(
        owner("z_photo_notes"),
        "photo_id → public.z_photos prop_id → public.z_props.website_id"
    );
    assert_eq!(
        owner("z_translations"),
        "prop_id → public.z_props.website_id"
    );
    let composite_tree = plan
        .tables
        .iter()
        .find(|t| t.name == "public.z_folders")
        .unwrap();
    assert!(
        composite_tree.links_later,
        "a composite self-reference goes in bounded chunks, its links filled in after"
    );

    let id = env.request(&mover, 7, "shard_2", 1_000).await;
    let writer = ZooWriter::start(&env, 7).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let outcome = mover.run(id, &Silent).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (model, acknowledged) = writer.stop().await;

    assert_eq!(
        outcome.record.status.as_str(),
        "completed",
        "{:?}",
        outcome.record.error_message
    );
    assert!(
        acknowledged > 50,
        "the writer kept writing ({acknowledged})"
    );
    let moved = Zoo::read(&env.shard_2, 7).await;
    assert_eq!(moved.props, model.props, "props on the target");
    assert_eq!(moved.photos, model.photos, "photos on the target");
    assert_eq!(
        moved.translations, model.translations,
        "translations on the target"
    );
    assert_eq!(moved.notes, model.notes, "notes on the target");
    assert_eq!(
        profiles(&env.shard_2, 7).await,
        profiled,
        "composite, domain, citext, hstore"
    );
    assert_eq!(
        folders(&env.shard_2, 7).await,
        tree,
        "the tree arrived linked"
    );
    assert_eq!(
        Zoo::read(&env.shard_1, 7).await,
        Zoo::default(),
        "the source keeps nothing"
    );
    let orphans: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM z_photos f WHERE NOT EXISTS (SELECT 1 FROM z_props p WHERE p.id = f.prop_id))
              + (SELECT count(*) FROM z_translations t WHERE NOT EXISTS (SELECT 1 FROM z_props p WHERE p.id = t.prop_id))",
    )
    .fetch_one(&env.shard_1)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "no child is left behind on the source");
    assert_eq!(
        Zoo::read(&env.shard_1, 8).await,
        neighbour,
        "the neighbour keeps all"
    );

    // The application's trigger fired once per photo, on the source: neither
    // the copy nor the replay fired it again on the target.
    assert_eq!(
        counter(&env.shard_2, 7).await,
        Some(6_000 + model.inserted_photos),
        "the counter moved as the source kept it"
    );

    // The target's sequences are past every moved id: the application's next
    // inserts on its new shard succeed.
    sqlx::query("INSERT INTO z_photos (prop_id, caption) SELECT id, 'after' FROM z_props WHERE website_id = 7 LIMIT 1")
        .execute(&env.shard_2)
        .await
        .expect("the shared sequence was advanced past the moved photos");
    sqlx::query("INSERT INTO z_tickets (website_id, subject) VALUES (7, 'after')")
        .execute(&env.shard_2)
        .await
        .expect("the descending sequence went down past the moved tickets");
    sqlx::query("INSERT INTO z_props (website_id, mood) VALUES (7, 'meh')")
        .execute(&env.shard_2)
        .await
        .expect("the identity was advanced past the moved props");
}

#[tokio::test]
async fn a_table_outside_the_move_that_references_its_tables_is_refused_naming_it() {
    let mut env = zoo_env().await;
    env.settings.tenancy.exclude_tables = vec!["z_translations".into()];
    env.settings.tenancy.relations.clear();
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql(
            "ALTER TABLE z_translations ADD CONSTRAINT z_translations_prop
                 FOREIGN KEY (prop_id) REFERENCES z_props (id)",
        )
        .execute(pool)
        .await
        .unwrap();
    }
    env.seed(7, "shard_1", 100).await;
    seed_zoo(&env.shard_1, 7, 10).await;
    let err = env
        .mover()
        .preflight(website(7), &crate::helpers::shard("shard_2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unmoved_references");
    let message = err.to_string();
    assert!(
        message.contains("public.z_translations (z_translations_prop → public.z_props)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_configured_relation_naming_a_missing_column_is_refused_naming_it() {
    let mut env = zoo_env().await;
    env.settings.tenancy.relations[0].columns = vec!["prop".into()];
    env.seed(7, "shard_1", 100).await;
    let err = env
        .mover()
        .preflight(website(7), &crate::helpers::shard("shard_2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tenancy_configuration");
    assert!(
        err.to_string()
            .contains("public.z_translations has no column \"prop\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_row_whose_parents_belong_to_two_websites_is_refused_naming_its_table() {
    let mut env = zoo_env().await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql(
            "CREATE TABLE z_links (id bigserial PRIMARY KEY,
                 prop_id bigint NOT NULL REFERENCES z_props (id), other_prop bigint)",
        )
        .execute(pool)
        .await
        .unwrap();
    }
    env.settings.tenancy.relations.push(RelationSettings {
        table: "z_links".into(),
        columns: vec!["other_prop".into()],
        parent: "z_props".into(),
        parent_columns: Vec::new(),
    });
    env.seed(7, "shard_1", 100).await;
    env.seed(8, "shard_1", 100).await;
    seed_zoo(&env.shard_1, 7, 5).await;
    seed_zoo(&env.shard_1, 8, 5).await;
    sqlx::raw_sql(
        "INSERT INTO z_links (prop_id, other_prop)
         SELECT (SELECT min(id) FROM z_props WHERE website_id = 7), (SELECT min(id) FROM z_props WHERE website_id = 8)",
    )
    .execute(&env.shard_1)
    .await
    .unwrap();
    let err = env
        .mover()
        .preflight(website(7), &crate::helpers::shard("shard_2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unmoved_references");
    assert!(
        err.to_string().contains("public.z_links (1 row(s)"),
        "{err}"
    );
}
