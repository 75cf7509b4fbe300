#![recursion_limit = "256"]
//! Runway's pages, components and the types shared by server and browser.
pub mod api;
pub mod audit;
pub mod checklist;
pub mod error;
pub mod flag;
pub mod gate;
pub mod guard;
pub mod inbox;
pub mod live;
pub mod pages;
pub mod person;
pub mod plan;
pub mod plan_markdown;
pub mod review;
pub mod risk;
pub mod role;
pub mod runbook;
pub mod stage;
pub mod token;
pub mod validate;
pub mod webhook;
pub mod workspace;

#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "ssr")]
pub mod markdown;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use pages::{
    admin::{PeoplePage, TokensPage},
    audit::AuditLog,
    flags::{FlagList, FlagPage},
    inbox::InboxPage,
    sign_in::{Header, SignInPage},
    forms::{PlanCreate, PlanEdit, RiskCreate, RiskEdit, StageCreate, StageEdit},
    plan_list::PlanList,
    plan_page::PlanPage,
    providers::ProvidersPage,
    webhooks::WebhooksPage,
    workspaces::{WorkspaceList, WorkspacePage},
    NotFound,
};

/// What pages may load: only Runway's own files, plus the one inline hydration script
/// carrying this response's nonce; never framed by another site.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let inline = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{inline} 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // leptos_axum makes a nonce per response and puts it on the inline hydration script.
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        let nonce = leptos::nonce::use_nonce();
        if let Ok(v) = http::HeaderValue::from_str(&content_security_policy(nonce.as_deref())) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HashedStylesheet id="leptos" options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Who is signed in, for the header and for offering only the actions they may take.
    let viewer = Resource::new(|| (), |_| person::current_viewer());
    provide_context(pages::sign_in::ViewerResource(viewer));
    live::provide_live();
    view! {
        <Title text="Runway"/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header/>
            // Pages wait for their data on the server (SsrMode::Async), so the HTML is
            // complete without JavaScript and a missing plan is a real 404.
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=PlanList ssr=SsrMode::Async/>
                    <Route path=path!("/plans") view=PlanList ssr=SsrMode::Async/>
                    <Route path=path!("/plans/new") view=PlanCreate ssr=SsrMode::Async/>
                    <Route path=path!("/plans/import") view=pages::plan_import::PlanImport ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id") view=PlanPage ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/edit") view=PlanEdit ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/stages/new") view=StageCreate ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/stages/:stage_id/edit") view=StageEdit ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/risks/new") view=RiskCreate ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/risks/:risk_id/edit") view=RiskEdit ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=AuditLog ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/flags") view=FlagList ssr=SsrMode::Async/>
                    <Route path=path!("/flags/:key") view=FlagPage ssr=SsrMode::Async/>
                    <Route path=path!("/people") view=PeoplePage ssr=SsrMode::Async/>
                    <Route path=path!("/tokens") view=TokensPage ssr=SsrMode::Async/>
                    <Route path=path!("/inbox") view=InboxPage ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks") view=WebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/workspaces") view=WorkspaceList ssr=SsrMode::Async/>
                    <Route path=path!("/workspaces/:id") view=WorkspacePage ssr=SsrMode::Async/>
                    <Route path=path!("/providers") view=ProvidersPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
