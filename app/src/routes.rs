//! The pages the router shows lazily, by area: `cargo leptos build --split` moves an area's
//! code out of the main WASM into its own file, fetched the first time one of its pages is
//! shown. On a full page load the page links that file in its `<head>`, so it downloads beside
//! the main bundle. The plan page stays in the main bundle: it is where most visits land.
//!
//! An area per file, not a page per file: code shared by lazy files goes into one more file
//! per combination that shares it, and a page per file made the plan page need 240 of them.
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// `area { module::Page, ... }` puts the components `pages::module::Page` into one lazy file
/// and makes a route `Page` for each.
macro_rules! lazy_area {
    ($($area:ident { $($module:ident::$page:ident),* $(,)? })*) => {$(
        mod $area {
            use leptos::prelude::*;

            #[derive(Clone, Copy)]
            pub enum Page { $($page),* }

            // Named after the area: the name of its file and of its key in the split manifest.
            #[leptos::lazy($area)]
            pub fn show(page: Page) -> AnyView {
                match page {
                    $(Page::$page => crate::pages::$module::$page().into_any(),)*
                }
            }
        }

        $(
            pub struct $page;

            impl LazyRoute for $page {
                // Pages load their own data.
                fn data() -> Self {
                    $page
                }

                // Hydration waits for this before it walks the page, so the area's code is
                // there when it gets to it.
                async fn preload() {
                    #[cfg(feature = "hydrate")]
                    $area::__preload_show().await;
                }

                async fn view(_route: Self) -> AnyView {
                    let view = $area::show($area::Page::$page).await;
                    #[cfg(feature = "ssr")]
                    link_lazy_files();
                    view
                }
            }
        )*
    )*};
}

lazy_area! {
    sign_in { sign_in::SignInPage }
    plans {
        plan_list::PlanList,
        forms::PlanCreate,
        plan_import::PlanImport,
        forms::PlanEdit,
        forms::StageCreate,
        forms::StageEdit,
        forms::RiskCreate,
        forms::RiskEdit,
        inbox::InboxPage,
    }
    flags { flags::FlagList, flags::FlagPage }
    workspaces { workspaces::WorkspaceList, workspaces::WorkspacePage, providers::ProvidersPage }
    admin { admin::PeoplePage, admin::TokensPage, webhooks::WebhooksPage, audit::AuditLog }
}

/// Links the files of the lazy code this page ran in its `<head>`. leptos_axum means to, but
/// looks for the page's context outside the page (leptos_integration_utils 0.8.9,
/// `ExtendResponse::from_app`) and found it on two pages in three; so the page does it, and
/// takes the list so that leptos_axum has nothing left to link twice. Both contexts are
/// leptos' own (hidden) types: what the page ran, and the split manifest HydrationScripts read.
#[cfg(feature = "ssr")]
fn link_lazy_files() {
    use leptos::{PrefetchLazyFn, WasmSplitManifest};
    use leptos_meta::Link;

    let (Some(ran), Some(manifest)) = (use_context::<PrefetchLazyFn>(), use_context::<WasmSplitManifest>()) else {
        return;
    };
    let ran: Vec<&str> = ran.0.write_value().drain().collect();
    let Some(manifest) = manifest.0.try_read_value() else { return };
    let (pkg, files, _) = &*manifest;
    for file in ran.iter().filter_map(|key| files.get(*key)).flatten() {
        // Registered with the page's <head> (leptos_meta), not rendered here.
        let _ = view! {
            <Link rel="preload" href=format!("{pkg}/{file}.wasm") as_="fetch" type_="application/wasm" crossorigin="anonymous"/>
        }
        .to_html();
    }
}

/// The split loader `__wasm_split.<hash>.js`, which the main bundle's JS imports on every
/// page: linked beside it, rather than found only once that JS has arrived. Nothing without a
/// split build (HydrationScripts provides the manifest only when it found one).
pub fn split_loader_link() -> impl IntoView {
    use_context::<leptos::WasmSplitManifest>().and_then(|manifest| {
        let (pkg, _, loader) = &*manifest.0.try_read_value()?;
        Some(view! { <link rel="modulepreload" href=format!("{pkg}/{loader}")/> })
    })
}
