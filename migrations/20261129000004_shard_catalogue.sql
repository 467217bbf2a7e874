-- Shard operations: the catalogue's run-time state, its change log, health probes
-- and the key that binds bulk-assignment confirmation tokens to their plan.

-- Seeded from configuration (missing shards inserted, existing rows kept), then
-- changed at run time; a configured shard without a row uses its configured values.
CREATE TABLE shardmover.shards (
    name       text PRIMARY KEY,
    status     text NOT NULL
        CHECK (status IN ('provisioning', 'available', 'at_capacity', 'maintenance', 'decommissioned')),
    -- NULL: no limit.
    capacity   bigint CHECK (capacity IS NULL OR capacity >= 0),
    labels     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER shards_touch BEFORE UPDATE ON shardmover.shards
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();

-- Every change of a shard's status, capacity or labels, with who asked.
CREATE TABLE shardmover.shard_audit_logs (
    id               bigserial PRIMARY KEY,
    shard_name       text  NOT NULL,
    changed_by_email text,
    before           jsonb NOT NULL,
    after            jsonb NOT NULL,
    notes            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shard_audit_logs_shard ON shardmover.shard_audit_logs (shard_name, id DESC);

-- Health probes, newest per shard is the current answer for every process;
-- older ones give the error rate. Pruned by the prober.
CREATE TABLE shardmover.shard_health_checks (
    id                 bigserial PRIMARY KEY,
    shard_name         text NOT NULL,
    state              text NOT NULL CHECK (state IN ('HEALTHY', 'DEGRADED', 'UNHEALTHY')),
    connection_status  text NOT NULL,
    reachable          boolean NOT NULL,
    avg_query_ms       double precision,
    active_connections integer,
    max_connections    integer,
    database_size      bigint,
    cache_hit_rate     double precision,
    index_hit_rate     double precision,
    slow_queries_count bigint,
    slow_queries_note  text,
    error_rate         double precision NOT NULL DEFAULT 0,
    error_message      text,
    checked_at         timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shard_health_checks_latest ON shardmover.shard_health_checks (shard_name, id DESC);

-- One random key per control database, shared by every process, so a bulk
-- assignment's confirmation token is a keyed hash of its exact plan.
CREATE TABLE shardmover.bulk_assign_key (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO shardmover.bulk_assign_key (key)
    VALUES (md5(random()::text || clock_timestamp()::text) || replace(gen_random_uuid()::text, '-', ''));

-- Capacity checks count the moves heading to a shard.
CREATE INDEX migrations_arriving ON shardmover.migrations (target_shard)
    WHERE status IN ('pending', 'in_progress');
