//! Integration tests of the move engine against real PostgreSQL databases,
//! one fresh set of databases per test. One binary keeps link time down.

mod after_cutover;
mod alert_rules;
mod api;
mod app;
mod catalogue;
mod cli;
mod crash;
mod dashboard;
mod dashboard_browser;
mod dashboard_outage;
mod dashboard_pages;
mod dashboard_render;
mod edges;
mod helpers;
mod interruptions;
mod least_privilege;
mod mail;
mod metrics;
mod moves;
mod online;
mod online_cancel;
mod online_crash;
mod online_freeze;
mod online_locks;
mod online_surface;
mod operator;
mod ownership;
mod proxy;
mod refusals;
mod service;
mod shards;
mod smtp;
mod webdriver;
mod websites;
mod writer;
