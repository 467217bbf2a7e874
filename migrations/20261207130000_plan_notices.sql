-- The outbox also holds the summary a fleet plan mails when it ends: one row
-- per recipient of one ending, written in the transaction that ends the plan
-- and delivered by the same notice job as a move's notices. A row is about a
-- move or a plan, never both.
ALTER TABLE shardmover.notifications
    ALTER COLUMN migration_id DROP NOT NULL,
    ADD COLUMN rebalance_id bigint REFERENCES shardmover.rebalances (id),
    -- The trail entry of the ending announced: a retried plan ends again and
    -- is summarised again, so "once" is once per ending, not once per plan.
    ADD COLUMN rebalance_event_id bigint REFERENCES shardmover.rebalance_events (id),
    ADD CONSTRAINT notifications_about_one CHECK (num_nonnulls(migration_id, rebalance_id) = 1),
    ADD CONSTRAINT notifications_plan_ending
        CHECK ((rebalance_id IS NULL) = (rebalance_event_id IS NULL)),
    ADD CONSTRAINT notifications_plan_events
        CHECK ((rebalance_id IS NOT NULL) = (event LIKE 'rebalance\_%')),
    ADD CONSTRAINT notifications_once_per_plan_ending UNIQUE (rebalance_event_id, recipient);

ALTER TABLE shardmover.notifications DROP CONSTRAINT notifications_event_check;
ALTER TABLE shardmover.notifications ADD CONSTRAINT notifications_event_check
    CHECK (event IN ('completed', 'failed', 'cancelled', 'cleanup_pending',
                     'rebalance_completed', 'rebalance_completed_with_failures',
                     'rebalance_cancelled'));

CREATE INDEX notifications_plan ON shardmover.notifications (rebalance_id)
    WHERE rebalance_id IS NOT NULL;
