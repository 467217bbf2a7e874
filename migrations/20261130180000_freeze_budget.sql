-- The freeze budget a move's freeze was held to, recorded when the freeze
-- starts: the over-budget count in /metrics compares each freeze with its own
-- budget, so raising engine.freeze_budget_ms later never makes that counter go back.
ALTER TABLE shardmover.migrations ADD COLUMN freeze_budget_ms integer;
-- While catch-up is ready to freeze but a lock on a tenant table (autovacuum,
-- VACUUM, CREATE INDEX, DDL) would hold up the fence: the sessions, for operators.
ALTER TABLE shardmover.migrations ADD COLUMN freeze_waits_for text;
