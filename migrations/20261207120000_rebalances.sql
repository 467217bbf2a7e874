-- Fleet plans: many moves under one request (drain a shard, balance the
-- fleet, fill a new shard, or a list), each step an ordinary move. The plan
-- row is the unit of coordination: whichever worker process holds its row
-- lock steps it, so limits hold across every process.
CREATE TABLE shardmover.rebalances (
    id               bigserial PRIMARY KEY,
    kind             text        NOT NULL CHECK (kind IN ('drain', 'balance', 'add_shard', 'list')),
    -- The request as previewed (kind and options), for the record and the views.
    request          jsonb       NOT NULL,
    requested_by     text        NOT NULL,
    max_concurrent   integer     NOT NULL CHECK (max_concurrent > 0),
    per_shard        integer     NOT NULL CHECK (per_shard > 0),
    -- Minutes after 00:00 UTC; both null: any time.
    window_start_min integer,
    window_end_min   integer,
    stop_on_failure  boolean     NOT NULL,
    -- A drain's shard: placement places nothing new there while the plan runs.
    drained_shard    text,
    state            text        NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'paused', 'cancelling', 'completed',
                         'completed_with_failures', 'cancelled')),
    -- Why no move of the plan could start at the last step, if none could.
    waiting_for      text,
    last_progress_at timestamptz NOT NULL DEFAULT now(),
    -- Which worker process steps the plan until when: a lease, not a held
    -- connection, so a process killed mid-step is replaced once it lapses.
    stepped_by       text,
    step_lease_until timestamptz,
    finished_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rebalances_live ON shardmover.rebalances (id)
    WHERE state IN ('running', 'paused', 'cancelling');
CREATE TRIGGER rebalances_touch BEFORE UPDATE ON shardmover.rebalances
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();

CREATE TABLE shardmover.rebalance_moves (
    rebalance_id  bigint  NOT NULL REFERENCES shardmover.rebalances (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    website_id    bigint  NOT NULL,
    source_shard  text    NOT NULL,
    target_shard  text    NOT NULL,
    rows_total    bigint  NOT NULL DEFAULT 0,
    bytes_total   bigint  NOT NULL DEFAULT 0,
    state         text    NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'running', 'completed', 'failed', 'cancelled')),
    -- Retries of a failed move start a new move under a new idempotency key.
    tries         integer NOT NULL DEFAULT 0,
    migration_id  bigint REFERENCES shardmover.migrations (id),
    -- Why it waits, or why it failed to start.
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rebalance_id, website_id)
);
CREATE UNIQUE INDEX rebalance_moves_position ON shardmover.rebalance_moves (rebalance_id, position);
CREATE INDEX rebalance_moves_migration ON shardmover.rebalance_moves (migration_id);
CREATE TRIGGER rebalance_moves_touch BEFORE UPDATE ON shardmover.rebalance_moves
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();

-- The plan's own trail: created, paused, resumed, cancelled, retried, ended.
CREATE TABLE shardmover.rebalance_events (
    id               bigserial PRIMARY KEY,
    rebalance_id     bigint NOT NULL REFERENCES shardmover.rebalances (id) ON DELETE CASCADE,
    event            text   NOT NULL,
    changed_by_email text,
    detail           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rebalance_events_plan ON shardmover.rebalance_events (rebalance_id, id);
