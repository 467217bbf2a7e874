-- The dashboard's reads: move lists filtered by shard or requester stay index
-- scans with 10,000s of moves, and each move keeps the time it entered every
-- phase (its timeline), recorded by a trigger so the engine need not know.

CREATE INDEX migrations_source_id ON shardmover.migrations (source_shard, id DESC);
CREATE INDEX migrations_target_id ON shardmover.migrations (target_shard, id DESC);
CREATE INDEX migrations_requested_by_id ON shardmover.migrations (requested_by, id DESC);
CREATE INDEX migrations_status_id ON shardmover.migrations (status, id DESC);
CREATE INDEX audit_logs_created ON shardmover.audit_logs (created_at DESC, id DESC);
CREATE INDEX shard_health_checks_checked ON shardmover.shard_health_checks (shard_name, checked_at DESC);

CREATE TABLE shardmover.migration_phases (
    id           bigserial   PRIMARY KEY,
    migration_id bigint      NOT NULL REFERENCES shardmover.migrations (id) ON DELETE CASCADE,
    phase        text        NOT NULL,
    -- clock_timestamp(): phases entered in one transaction still get their own instants.
    entered_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX migration_phases_migration ON shardmover.migration_phases (migration_id, id);

CREATE FUNCTION shardmover.record_phase() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.phase IS DISTINCT FROM OLD.phase THEN
        INSERT INTO shardmover.migration_phases (migration_id, phase) VALUES (NEW.id, NEW.phase);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER migrations_phase_history AFTER INSERT OR UPDATE OF phase ON shardmover.migrations
    FOR EACH ROW EXECUTE FUNCTION shardmover.record_phase();

-- Dashboard sessions signed out before they expired: their cookies are refused
-- by every process. Rows go once the cookie would have expired anyway.
CREATE TABLE shardmover.dashboard_sign_outs (
    session_hash text        PRIMARY KEY,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
