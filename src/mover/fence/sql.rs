//! The SQL text of the fence and of change capture: the triggers that carry
//! both website lists in their `WHEN` clauses, and the one function they call,
//! for rows of listed websites only.

use crate::mover::shard_schema::FENCE_SQLSTATE;
use crate::sql::{ident, literal_str};

/// The four triggers every watched table carries. Row triggers fire `AFTER`:
/// a `BEFORE UPDATE`/`DELETE` trigger makes Postgres fetch and lock the old row
/// once more for every write, listed website or not, and any `BEFORE INSERT`
/// trigger turns off `COPY`'s batched inserts; an error raised after the row is
/// written undoes the statement all the same. `shardmover_fence` is the name
/// older releases used for one unconditional trigger; replacing it keeps
/// upgrades free of `DROP TRIGGER`, which only a table's owner may run.
const TRIGGERS: [(&str, &str, When); 4] = [
    ("shardmover_fence", "AFTER UPDATE", When::OldOrNew),
    ("shardmover_fence_insert", "AFTER INSERT", When::New),
    ("shardmover_fence_delete", "AFTER DELETE", When::Old),
    (
        "shardmover_fence_truncate",
        "BEFORE TRUNCATE",
        When::AnyListed,
    ),
];

#[derive(Clone, Copy)]
enum When {
    New,
    Old,
    OldOrNew,
    AnyListed,
}

/// The website lists one shard's triggers carry.
#[derive(Debug, Clone, Default)]
pub(super) struct Lists {
    /// Writes refused (`SMF01`).
    pub fenced: Vec<i64>,
    /// Writes recorded in `shardmover.changes` for an online move's catch-up.
    pub captured: Vec<i64>,
}

fn csv(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The four `CREATE OR REPLACE TRIGGER`s of one table for the given lists;
/// `primary_key` names the table's key columns, which a captured change records.
pub(super) fn trigger_statements(
    table: &str,
    key_column: &str,
    lists: &Lists,
    primary_key: &[String],
) -> Vec<String> {
    let key = ident(key_column);
    let mut watched: Vec<i64> = lists
        .fenced
        .iter()
        .chain(&lists.captured)
        .copied()
        .collect();
    watched.sort_unstable();
    watched.dedup();
    let list = csv(&watched);
    let is_watched = |row: &str| {
        if watched.is_empty() {
            "false".to_owned()
        } else {
            format!("{row}.{key} = ANY ('{{{list}}}'::int8[])")
        }
    };
    let mut args = vec![
        literal_str(&csv(&lists.fenced)),
        literal_str(&csv(&lists.captured)),
    ];
    args.extend(primary_key.iter().map(|c| literal_str(c)));
    let args = args.join(", ");
    TRIGGERS
        .iter()
        .map(|(name, event, when)| {
            let (level, condition) = match when {
                When::New => ("ROW", is_watched("NEW")),
                When::Old => ("ROW", is_watched("OLD")),
                When::OldOrNew if watched.is_empty() => ("ROW", "false".to_owned()),
                When::OldOrNew => (
                    "ROW",
                    format!("{} OR {}", is_watched("OLD"), is_watched("NEW")),
                ),
                When::AnyListed => ("STATEMENT", (!watched.is_empty()).to_string()),
            };
            format!(
                "CREATE OR REPLACE TRIGGER {name} {event} ON {table} FOR EACH {level}
                 WHEN ({condition}) EXECUTE FUNCTION shardmover.fence_guard({args})"
            )
        })
        .collect()
}

/// The function the triggers call, only for rows of listed websites (and for a
/// `TRUNCATE` while any website is listed). It lets shardmover's own sessions
/// through, refuses writes of fenced websites with `SMF01`, and records the key
/// of every changed row of a captured website (old and new key of an update,
/// so a row moving into or out of the website is seen from both sides).
/// `SECURITY DEFINER` with a pinned `search_path`: the application needs no
/// grant on our schema. Arguments: fenced list, captured list, key columns.
pub(super) fn guard_function(key_column: &str) -> String {
    let key = ident(key_column);
    format!(
        "CREATE OR REPLACE FUNCTION shardmover.fence_guard() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
         DECLARE
             fenced bigint[] := string_to_array(TG_ARGV[0], ',')::bigint[];
             captured bigint[] := string_to_array(coalesce(TG_ARGV[1], ''), ',')::bigint[];
             key_columns text[] := TG_ARGV[2:TG_NARGS - 1];
             old_w bigint;
             new_w bigint;
             touched bigint;
             old_key jsonb;
             new_key jsonb;
         BEGIN
             IF current_setting('shardmover.bypass_fence', true) = 'on' THEN
                 RETURN COALESCE(NEW, OLD);
             END IF;
             IF TG_LEVEL = 'STATEMENT' THEN
                 RAISE EXCEPTION 'shardmover fence: TRUNCATE of %.% refused while websites % are fenced or moving on this shard',
                     TG_TABLE_SCHEMA, TG_TABLE_NAME, array_to_string(fenced || captured, ',')
                     USING ERRCODE = '{FENCE_SQLSTATE}',
                           HINT = 'delete the rows of the websites you mean instead';
             END IF;
             IF TG_OP IN ('UPDATE', 'DELETE') THEN old_w := OLD.{key}; END IF;
             IF TG_OP IN ('INSERT', 'UPDATE') THEN new_w := NEW.{key}; END IF;
             IF old_w = ANY (fenced) THEN
                 touched := old_w;
             ELSIF new_w = ANY (fenced) THEN
                 touched := new_w;
             END IF;
             IF touched IS NOT NULL THEN
                 RAISE EXCEPTION 'shardmover fence: website % is moving or has moved off this shard; write to %.% refused',
                     touched, TG_TABLE_SCHEMA, TG_TABLE_NAME
                     USING ERRCODE = '{FENCE_SQLSTATE}',
                           HINT = 'look the website up in the registry and write to the shard it names';
             END IF;
             IF old_w = ANY (captured) THEN
                 SELECT jsonb_object_agg(c, to_jsonb(OLD) -> c) INTO old_key FROM unnest(key_columns) c;
                 INSERT INTO shardmover.changes (website_id, relid, pk) VALUES (old_w, TG_RELID, old_key);
             END IF;
             IF new_w = ANY (captured) THEN
                 SELECT jsonb_object_agg(c, to_jsonb(NEW) -> c) INTO new_key FROM unnest(key_columns) c;
                 IF old_key IS DISTINCT FROM new_key OR old_w IS DISTINCT FROM new_w THEN
                     INSERT INTO shardmover.changes (website_id, relid, pk) VALUES (new_w, TG_RELID, new_key);
                 END IF;
             END IF;
             RETURN COALESCE(NEW, OLD);
         END
         $fn$"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(fenced: &[i64], captured: &[i64]) -> Lists {
        Lists {
            fenced: fenced.to_vec(),
            captured: captured.to_vec(),
        }
    }

    #[test]
    fn empty_lists_compile_to_triggers_that_never_fire() {
        let sql = trigger_statements("\"public\".\"pages\"", "website_id", &lists(&[], &[]), &[]);
        assert_eq!(sql.len(), 4);
        assert!(sql.iter().all(|s| s.contains("WHEN (false)")), "{sql:?}");
    }

    #[test]
    fn fenced_and_captured_websites_are_listed_in_every_row_trigger() {
        let key = ["id".to_owned()];
        let sql = trigger_statements(
            "\"public\".\"pages\"",
            "website_id",
            &lists(&[9], &[7]),
            &key,
        );
        assert!(sql[0].contains("OLD.\"website_id\" = ANY ('{7,9}'::int8[]) OR NEW."));
        assert!(sql[1].contains("WHEN (NEW.\"website_id\" = ANY ('{7,9}'::int8[]))"));
        assert!(
            sql[1].contains("fence_guard(E'9', E'7', E'id')"),
            "{}",
            sql[1]
        );
        assert!(sql[3].contains("FOR EACH STATEMENT") && sql[3].contains("WHEN (true)"));
    }

    #[test]
    fn key_column_names_are_quoted_as_literals() {
        let key = ["it's".to_owned()];
        let sql = trigger_statements("t", "w", &lists(&[], &[1]), &key);
        assert!(sql[1].contains("E'it''s'"), "{}", sql[1]);
    }
}
