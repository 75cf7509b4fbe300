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
pub mod routes;
pub mod rule;
pub mod segment;
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
    path, Lazy, SsrMode,
};
use pages::{plan_page::PlanPage, sign_in::Header, NotFound};
use routes::{
    AuditLog, FlagList, FlagPage, InboxPage, PeoplePage, PlanCreate, PlanEdit, PlanImport, PlanList, ProvidersPage,
    RiskCreate, RiskEdit, SignInPage, StageCreate, StageEdit, TokensPage, WebhooksPage, WorkspaceList, WorkspacePage,
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
                {routes::split_loader_link()}
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
    let viewer = crate::pages::resource(|| (), |_| person::current_viewer());
    provide_context(pages::sign_in::ViewerResource(viewer));
    live::provide_live();
    view! {
        <Title text="Runway"/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header/>
            // Pages wait for their data on the server (SsrMode::Async), so the HTML is
            // complete without JavaScript and a missing plan is a real 404. All pages but
            // the plan page are lazy (see `routes`).
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view={Lazy::<PlanList>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans") view={Lazy::<PlanList>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/new") view={Lazy::<PlanCreate>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/import") view={Lazy::<PlanImport>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id") view=PlanPage ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/edit") view={Lazy::<PlanEdit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/stages/new") view={Lazy::<StageCreate>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/stages/:stage_id/edit") view={Lazy::<StageEdit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/risks/new") view={Lazy::<RiskCreate>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id/risks/:risk_id/edit") view={Lazy::<RiskEdit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditLog>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/login") view={Lazy::<SignInPage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/flags") view={Lazy::<FlagList>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/flags/:key") view={Lazy::<FlagPage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/people") view={Lazy::<PeoplePage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/tokens") view={Lazy::<TokensPage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/inbox") view={Lazy::<InboxPage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks") view={Lazy::<WebhooksPage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/workspaces") view={Lazy::<WorkspaceList>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/workspaces/:id") view={Lazy::<WorkspacePage>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/providers") view={Lazy::<ProvidersPage>::new()} ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
