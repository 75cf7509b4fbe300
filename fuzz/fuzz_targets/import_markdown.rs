//! The Markdown plan importer on arbitrary bytes: it must never panic (a bad file is refused
//! with an error), and every runbook it produces must split into steps without panicking.
//!
//! Run from the repository root (stable toolchain):
//! RUSTC_BOOTSTRAP=1 cargo fuzz run import_markdown --sanitizer none -- -timeout=10 -max_len=1000000
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(preview) = app::plan_markdown::import(data, "fuzz") {
        for stage in &preview.plan.stages {
            let _ = app::runbook::outline(&stage.forward_runbook);
            let _ = app::runbook::outline(&stage.rollback_runbook);
        }
    }
});
