-- The notification outbox: one row per recipient of a move's final event,
-- written in the transaction that records the move's final status, and each
-- delivered by its own job (one refused address never holds up the others).
CREATE TABLE shardmover.notifications (
    id              bigserial PRIMARY KEY,
    migration_id    bigint      NOT NULL REFERENCES shardmover.migrations (id),
    event           text        NOT NULL CHECK (event IN ('completed', 'failed', 'cancelled')),
    recipient       text        NOT NULL,
    -- Stable per event, so a resend after the one unavoidable window is recognisable.
    message_id      text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    -- Transient SMTP failures are retried until then; after it the notice is given up.
    give_up_at      timestamptz NOT NULL,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- A move ends once; each recipient hears of it once, however often its job runs.
    UNIQUE (migration_id, recipient)
);
CREATE INDEX notifications_unsent ON shardmover.notifications (next_attempt_at) WHERE status = 'pending';

CREATE TRIGGER notifications_touch BEFORE UPDATE ON shardmover.notifications
    FOR EACH ROW EXECUTE FUNCTION shardmover.touch_updated_at();
