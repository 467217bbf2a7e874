-- Every freeze of an online move, however it ended: the cutover, a thaw (the
-- freeze could not finish and the move went back to catching up), a rollback,
-- or the freeze watcher (its mover died or went silent with the fence up).
-- A move can freeze more than once; the histogram and the over-budget counter
-- in /metrics read this table, so a freeze that did not end in a cutover is
-- counted too, against the budget recorded with it.
CREATE TABLE shardmover.freezes (
    id bigserial PRIMARY KEY,
    migration_id bigint NOT NULL REFERENCES shardmover.migrations (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    budget_ms integer NOT NULL,
    changes_drained bigint,
    ended_by text NOT NULL CHECK (ended_by IN ('cutover', 'thaw', 'rollback', 'expired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX freezes_migration_id ON shardmover.freezes (migration_id, started_at);

-- Freezes recorded before this table existed: each ended in its cutover.
INSERT INTO shardmover.freezes (migration_id, attempt, started_at, ended_at, budget_ms, changes_drained, ended_by)
SELECT id, attempts, freeze_started_at, freeze_ended_at, coalesce(freeze_budget_ms, 1000), freeze_changes, 'cutover'
  FROM shardmover.migrations
 WHERE freeze_started_at IS NOT NULL AND freeze_ended_at IS NOT NULL;
CREATE TRIGGER freezes_touch BEFORE UPDATE ON shardmover.freezes
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();
