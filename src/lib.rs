//! shardmover moves one tenant — a website and every row it owns — from one
//! PostgreSQL shard to another: fenced, streamed with binary COPY,
//! checksum-verified, resumable, and only then cut over in the registry.

pub mod admission;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod control;
pub mod dashboard;
pub mod db;
pub mod domain;
pub mod ids;
pub mod jobs;
pub mod mail;
pub mod mover;
pub mod moves;
pub mod rebalance;
pub mod service;
pub mod shard_ops;
pub mod shard_pools;
pub mod shard_status;
pub mod sql;
pub mod startup;
pub mod telemetry;
pub mod tenancy;
pub mod web;
