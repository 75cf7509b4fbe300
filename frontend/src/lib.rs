//! The browser entry point: hydrates the server-rendered page. Each page marks
//! `<body data-hydrated="true">` itself once its content is interactive (see `app::pages::Ready`).
//! All pages but the plan page are lazy (`app::routes`): hydration first loads the page's own
//! WASM files, which its HTML already links.
// The plan page's view type is deep; rustc's default query depth is not enough for it.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
