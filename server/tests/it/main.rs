//! Every integration test in one binary: each of the modules below used to be its own,
//! and each linked the whole server, which made the target folder tens of gigabytes and
//! linking the slowest part of a test build. Run them with `cargo nextest run -p runway`
//! (a process per test) or `cargo test -p runway`.
#[macro_use]
mod support;

mod api;
mod approvals;
mod checklists;
mod flags;
mod gates;
mod guards;
mod lists;
mod live;
mod migrations;
mod outage;
mod people;
mod permissions;
mod replicas;
mod runbooks;
mod security;
mod stage_flags;
mod targeting;
mod webhooks;
mod workspaces;
