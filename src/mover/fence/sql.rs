//! The SQL text of the fence: the triggers that carry the fence list in their
//! `WHEN` clauses, and the function they call for fenced rows only.

use crate::mover::shard_schema::FENCE_SQLSTATE;
use crate::sql::ident;

/// The four triggers every fenced table carries. Row triggers fire `AFTER`:
/// a `BEFORE UPDATE`/`DELETE` trigger makes Postgres fetch and lock the old row
/// once more for every write, fenced website or not, and any `BEFORE INSERT`
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
        When::AnyFenced,
    ),
];

#[derive(Clone, Copy)]
enum When {
    New,
    Old,
    OldOrNew,
    AnyFenced,
}

/// The four `CREATE OR REPLACE TRIGGER`s of one table for the given fence list.
pub(super) fn trigger_statements(table: &str, key_column: &str, fenced: &[i64]) -> Vec<String> {
    let key = ident(key_column);
    let list = fenced
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let is_fenced = |row: &str| {
        if fenced.is_empty() {
            "false".to_owned()
        } else {
            format!("{row}.{key} = ANY ('{{{list}}}'::int8[])")
        }
    };
    TRIGGERS
        .iter()
        .map(|(name, event, when)| {
            let (level, condition) = match when {
                When::New => ("ROW", is_fenced("NEW")),
                When::Old => ("ROW", is_fenced("OLD")),
                When::OldOrNew if fenced.is_empty() => ("ROW", "false".to_owned()),
                When::OldOrNew => (
                    "ROW",
                    format!("{} OR {}", is_fenced("OLD"), is_fenced("NEW")),
                ),
                When::AnyFenced => ("STATEMENT", (!fenced.is_empty()).to_string()),
            };
            format!(
                "CREATE OR REPLACE TRIGGER {name} {event} ON {table} FOR EACH {level}
                 WHEN ({condition}) EXECUTE FUNCTION shardmover.fence_guard('{list}')"
            )
        })
        .collect()
}

/// The function the triggers call, only for rows of fenced websites (and for a
/// `TRUNCATE` while any website is fenced): it lets shardmover's own sessions
/// through and refuses everyone else with `SMF01`. `SECURITY DEFINER` with a
/// pinned `search_path`, so the application needs no grant on our schema.
pub(super) fn guard_function(key_column: &str) -> String {
    let key = ident(key_column);
    format!(
        "CREATE OR REPLACE FUNCTION shardmover.fence_guard() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
         DECLARE
             fenced bigint[] := string_to_array(TG_ARGV[0], ',')::bigint[];
             touched bigint;
         BEGIN
             IF current_setting('shardmover.bypass_fence', true) = 'on' THEN
                 RETURN COALESCE(NEW, OLD);
             END IF;
             IF TG_LEVEL = 'STATEMENT' THEN
                 RAISE EXCEPTION 'shardmover fence: TRUNCATE of %.% refused while websites % are fenced on this shard',
                     TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0]
                     USING ERRCODE = '{FENCE_SQLSTATE}',
                           HINT = 'delete the rows of the websites you mean instead';
             END IF;
             IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.{key} = ANY (fenced) THEN
                 touched := OLD.{key};
             ELSIF TG_OP IN ('INSERT', 'UPDATE') AND NEW.{key} = ANY (fenced) THEN
                 touched := NEW.{key};
             END IF;
             IF touched IS NOT NULL THEN
                 RAISE EXCEPTION 'shardmover fence: website % is moving or has moved off this shard; write to %.% refused',
                     touched, TG_TABLE_SCHEMA, TG_TABLE_NAME
                     USING ERRCODE = '{FENCE_SQLSTATE}',
                           HINT = 'look the website up in the registry and write to the shard it names';
             END IF;
             RETURN COALESCE(NEW, OLD);
         END
         $fn$"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_fence_list_compiles_to_triggers_that_never_fire() {
        let sql = trigger_statements("\"public\".\"pages\"", "website_id", &[]);
        assert_eq!(sql.len(), 4);
        assert!(sql.iter().all(|s| s.contains("WHEN (false)")), "{sql:?}");
    }

    #[test]
    fn fenced_websites_are_listed_in_every_row_trigger() {
        let sql = trigger_statements("\"public\".\"pages\"", "website_id", &[7, 9]);
        assert!(sql[0].contains("OLD.\"website_id\" = ANY ('{7,9}'::int8[]) OR NEW."));
        assert!(sql[1].contains("WHEN (NEW.\"website_id\" = ANY ('{7,9}'::int8[]))"));
        assert!(sql[3].contains("FOR EACH STATEMENT") && sql[3].contains("WHEN (true)"));
    }
}
