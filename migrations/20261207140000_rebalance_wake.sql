-- Wakes the rebalance driver the moment something a plan waits for happens: a
-- move ends (or reaches a pending cleanup, which a plan counts as done), or a
-- plan is started, paused, resumed, cancelled or retried. NOTIFY is sent at
-- commit, so the driver never steps before the change is visible; its poll
-- (shard_ops.rebalance_step_ms) stays for throttles and lost notifications.
CREATE OR REPLACE FUNCTION shardmover.wake_rebalances() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shardmover_rebalance', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER migrations_wake_rebalances
    AFTER UPDATE OF status ON shardmover.migrations
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status
          AND NEW.status IN ('completed', 'failed', 'cancelled', 'cleanup_pending'))
    EXECUTE FUNCTION shardmover.wake_rebalances();

CREATE TRIGGER rebalances_wake
    AFTER INSERT OR UPDATE OF state ON shardmover.rebalances
    FOR EACH ROW
    EXECUTE FUNCTION shardmover.wake_rebalances();
