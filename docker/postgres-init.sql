-- The control database (registry + shardmover's own tables) and two shards.
CREATE DATABASE shardmover;
CREATE DATABASE shardmover_shard_1;
CREATE DATABASE shardmover_shard_2;
