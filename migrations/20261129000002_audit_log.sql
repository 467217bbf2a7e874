-- Every shard change of a website, moves and plain assignments alike, with who asked.
CREATE TABLE shardmover.audit_logs (
    id               bigserial PRIMARY KEY,
    website_id       bigint      NOT NULL,
    old_shard_name   text,
    new_shard_name   text        NOT NULL,
    changed_by_email text,
    status           text        NOT NULL
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    notes            text,
    migration_id     bigint REFERENCES shardmover.migrations (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_website ON shardmover.audit_logs (website_id, id DESC);
CREATE INDEX audit_logs_changed_by ON shardmover.audit_logs (changed_by_email, id DESC);
CREATE UNIQUE INDEX audit_logs_migration ON shardmover.audit_logs (migration_id) WHERE migration_id IS NOT NULL;

CREATE TRIGGER audit_logs_touch BEFORE UPDATE ON shardmover.audit_logs
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();

-- A repeated POST with the same Idempotency-Key returns the same move.
ALTER TABLE shardmover.migrations ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX migrations_idempotency_key ON shardmover.migrations (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The HTTP request that asked for the move, carried into the worker's logs.
ALTER TABLE shardmover.migrations ADD COLUMN request_id text;
