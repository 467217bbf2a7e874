-- Online moves: the website keeps taking writes while it is copied; changes are
-- captured on the source and replayed, and writes stop only in a short final
-- freeze, which is recorded here. Moves recorded before this file were offline.

ALTER TABLE shardmover.migrations
    ADD COLUMN mode text NOT NULL DEFAULT 'offline' CHECK (mode IN ('online', 'offline')),
    -- The freeze: from raising the fence to the registry switch (online moves).
    ADD COLUMN freeze_started_at timestamptz,
    ADD COLUMN freeze_ended_at   timestamptz,
    -- Captured changes replayed inside the freeze.
    ADD COLUMN freeze_changes    bigint,
    -- Catch-up progress: changes replayed so far, changes waiting, replay rate.
    ADD COLUMN changes_applied   bigint NOT NULL DEFAULT 0,
    ADD COLUMN changes_waiting   bigint NOT NULL DEFAULT 0,
    ADD COLUMN catch_up_rate     double precision;
ALTER TABLE shardmover.migrations ALTER COLUMN mode SET DEFAULT 'online';

ALTER TABLE shardmover.migrations DROP CONSTRAINT migrations_phase_check;
ALTER TABLE shardmover.migrations ADD CONSTRAINT migrations_phase_check CHECK (phase IN
    ('queued', 'preflight', 'capturing', 'copying', 'catching_up', 'freezing', 'verifying',
     'cutover', 'cleanup', 'done'));

-- The freeze histogram reads finished freezes.
CREATE INDEX migrations_freeze_ended ON shardmover.migrations (freeze_ended_at)
    WHERE freeze_ended_at IS NOT NULL;
