-- Issue 10: moves are owned by one attempt at a time, and a move past cutover
-- only goes forward. Append-only: add new files, never edit landed ones.

-- `cleanup_pending`: the registry names the target (cutover committed), but the
-- cleanup (lifting an older fence on the target, deleting the source's rows)
-- stopped on a permanent error or exhausted retries; `finalize` resumes it.
-- Still one unfinished move per website: no other move may touch the
-- website's fences until this one's cleanup is done.
ALTER TABLE shardmover.migrations DROP CONSTRAINT migrations_status_check;
ALTER TABLE shardmover.migrations ADD CONSTRAINT migrations_status_check CHECK (status IN
    ('pending', 'in_progress', 'cleanup_pending', 'completed', 'failed', 'cancelled'));
DROP INDEX shardmover.migrations_one_active_per_website;
CREATE UNIQUE INDEX migrations_one_active_per_website ON shardmover.migrations (website_id)
    WHERE status IN ('pending', 'in_progress', 'cleanup_pending');

-- `attempts` is also the ownership token: every state change of a move is
-- conditional on it, so only the newest attempt can write. Retries are counted
-- from `retry_from`, which a resumed cleanup moves up to restart its budget.
ALTER TABLE shardmover.migrations ADD COLUMN retry_from integer NOT NULL DEFAULT 0;
-- The cleanup's steps, each recorded once done, so the record says exactly
-- what is left: the target's fence (left by an earlier move off it), then the source's rows.
ALTER TABLE shardmover.migrations ADD COLUMN target_unfenced_at timestamptz;
ALTER TABLE shardmover.migrations ADD COLUMN source_cleaned_at timestamptz;

ALTER TABLE shardmover.audit_logs DROP CONSTRAINT audit_logs_status_check;
ALTER TABLE shardmover.audit_logs ADD CONSTRAINT audit_logs_status_check CHECK (status IN
    ('pending', 'in_progress', 'cleanup_pending', 'completed', 'failed', 'cancelled'));

-- A move past cutover may be told about twice: cleanup pending, then completed.
ALTER TABLE shardmover.notifications DROP CONSTRAINT notifications_event_check;
ALTER TABLE shardmover.notifications ADD CONSTRAINT notifications_event_check
    CHECK (event IN ('completed', 'failed', 'cancelled', 'cleanup_pending'));
ALTER TABLE shardmover.notifications DROP CONSTRAINT notifications_migration_id_recipient_key;
ALTER TABLE shardmover.notifications ADD CONSTRAINT notifications_once_per_event
    UNIQUE (migration_id, event, recipient);
