#![recursion_limit = "256"]
//! The `runway` server: command line, HTTP, the service layer and storage.
pub mod action;
pub mod assets;
pub mod api;
pub mod audit;
pub mod checklist;
pub mod cli;
pub mod db;
pub mod demo;
pub mod error;
pub mod evaluate;
pub mod event;
pub mod export;
pub mod flag;
pub mod gate;
pub mod guard;
pub mod health;
pub mod http;
pub mod person;
pub mod plan;
pub mod review;
pub mod risk;
pub mod secret;
pub mod role;
pub mod search;
pub mod segment;
pub mod runbook;
pub mod plan_import;
pub mod service;
pub mod session;
pub mod stage;
pub mod stage_flag;
pub mod token;
pub mod webhook;
pub mod workspace;
pub mod workspace_csv;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use service::Service;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    pub fn new(service: Service, site_root: &str) -> AppState {
        let hash_file = assets::hash_file(site_root);
        let leptos = LeptosOptions::builder()
            .output_name("runway")
            .site_root(site_root)
            .site_pkg_dir("pkg")
            .hash_files(hash_file.is_some())
            .hash_file(hash_file.map(|f| f.to_string_lossy().into()).unwrap_or_else(|| "hash.txt".into()))
            .build();
        AppState { service, leptos }
    }
}
