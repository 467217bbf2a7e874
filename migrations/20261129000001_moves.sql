-- shardmover's own state in the control database. Append-only: add new files, never edit landed ones.

CREATE OR REPLACE FUNCTION shardmover.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- One row per move. Every phase transition is written here, so a crash at any
-- instant leaves enough to resume (or roll back) from.
CREATE TABLE shardmover.migrations (
    id                bigserial PRIMARY KEY,
    website_id        bigint      NOT NULL,
    source_shard      text        NOT NULL,
    target_shard      text        NOT NULL,
    status            text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    phase             text        NOT NULL DEFAULT 'queued'
        CHECK (phase IN ('queued', 'preflight', 'copying', 'verifying', 'cutover', 'cleanup', 'done')),
    keep_source       boolean     NOT NULL DEFAULT false,
    batch_rows        integer     NOT NULL CHECK (batch_rows > 0),
    rows_total        bigint      NOT NULL DEFAULT 0,
    rows_copied       bigint      NOT NULL DEFAULT 0,
    current_table     text,
    -- Set before a rollback starts so a crash mid-rollback finishes it on resume.
    rollback_required boolean     NOT NULL DEFAULT false,
    cancel_requested  boolean     NOT NULL DEFAULT false,
    error_code        text,
    error_message     text,
    requested_by      text,
    notes             text,
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    -- When the source rows of a completed move were deleted by `finalize`.
    source_finalized_at timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- One website at a time, enforced by the database rather than by any process.
CREATE UNIQUE INDEX migrations_one_active_per_website
    ON shardmover.migrations (website_id) WHERE status IN ('pending', 'in_progress');
CREATE INDEX migrations_website_created ON shardmover.migrations (website_id, created_at DESC);

CREATE TRIGGER migrations_touch BEFORE UPDATE ON shardmover.migrations
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();

-- Per-table progress and verification results of a move.
CREATE TABLE shardmover.migration_tables (
    migration_id    bigint  NOT NULL REFERENCES shardmover.migrations (id) ON DELETE CASCADE,
    table_name      text    NOT NULL,
    position        integer NOT NULL,
    rows_total      bigint  NOT NULL DEFAULT 0,
    rows_copied     bigint  NOT NULL DEFAULT 0,
    source_checksum text,
    target_checksum text,
    verified        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, table_name)
);

CREATE TRIGGER migration_tables_touch BEFORE UPDATE ON shardmover.migration_tables
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();
