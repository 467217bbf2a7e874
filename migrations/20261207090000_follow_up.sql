-- What the operator must do after a move that shardmover cannot do itself
-- (refresh the application's materialized views that read the website's
-- tables, on both shards): shown in the API, the CLI and the move's notice.
ALTER TABLE shardmover.migrations ADD COLUMN follow_up text;
