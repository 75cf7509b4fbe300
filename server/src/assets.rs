//! The browser bundle under `/pkg`: served from the `.br` and `.gz` files cargo-leptos
//! wrote at build time (`--precompress`), never compressed per request, and cached for
//! good when its name carries the content hash (`hash-files`), so a later visit
//! downloads only the page.
use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, VARY};
use axum::http::{HeaderValue, Request, Response};
use axum::middleware::Next;
use axum::Router;
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

/// A hashed name never changes content; anything else is revalidated (ServeDir answers
/// `If-Modified-Since` with 304).
const FOREVER: &str = "public, max-age=31536000, immutable";
const ASK_AGAIN: &str = "no-cache";

pub fn pkg(site_root: &str) -> Router {
    let dir = Path::new(site_root).join("pkg");
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new().fallback_service(files).layer(axum::middleware::from_fn(cache_headers))
}

async fn cache_headers(req: Request<Body>, next: Next) -> Response<Body> {
    let forever = is_hashed(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED {
        let h = res.headers_mut();
        h.insert(CACHE_CONTROL, HeaderValue::from_static(if forever { FOREVER } else { ASK_AGAIN }));
        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// cargo-leptos names hashed files `runway.<hash>.wasm` (and the split's lazy files
/// `split_flags_<n>.<hash>.wasm`, `chunk_7.<hash>.wasm`, `__wasm_split.<hash>.js`), the hash
/// being an MD5 in unpadded base64url (22 characters).
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    // Between the first dot and the extension; no allocation, this runs per asset request.
    let Some((_, rest)) = name.split_once('.') else { return false };
    let Some((middle, _ext)) = rest.rsplit_once('.') else { return false };
    middle
        .split('.')
        .any(|p| p.len() == 22 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The hash file cargo-leptos wrote into the site (`hash-file-name` in Cargo.toml), as an
/// absolute path: leptos joins it to the executable's folder, and the test server (debug)
/// and the release server live in different folders while sharing one site.
pub fn hash_file(site_root: &str) -> Option<PathBuf> {
    let file = Path::new(site_root).join("hash.txt");
    let file = std::path::absolute(file).ok()?;
    file.is_file().then_some(file)
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_names_with_a_content_hash_are_cached_for_good() {
        assert!(is_hashed("/pkg/runway.Xk3vJ9aQ2mN8bC1dE4fG7h.wasm"));
        assert!(is_hashed("/pkg/runway.Xk3vJ9aQ2mN8bC1dE4f-_h.js"));
        assert!(is_hashed("/pkg/split_flags_18179224989448793652.r4cYOBC0ymS0fZ5WQPmVSQ.wasm"));
        assert!(is_hashed("/pkg/chunk_7.BoRO7d6zOYikf8T-h0vEhA.wasm"));
        assert!(is_hashed("/pkg/__wasm_split.pX8lHPBvCjO-wfSK_eFC2g.js"));
        assert!(!is_hashed("/pkg/runway.wasm"));
        assert!(!is_hashed("/pkg/runway_bg.wasm"));
        assert!(!is_hashed("/pkg/runway.short.css"));
        assert!(!is_hashed("/pkg/Xk3vJ9aQ2mN8bC1dE4fG7h"));
    }
}
