//! Integration tests of the move engine against real PostgreSQL databases,
//! one fresh set of databases per test. One binary keeps link time down.

mod api;
mod app;
mod catalogue;
mod cli;
mod crash;
mod edges;
mod helpers;
mod interruptions;
mod mail;
mod metrics;
mod moves;
mod proxy;
mod refusals;
mod service;
mod shards;
mod smtp;
mod websites;
