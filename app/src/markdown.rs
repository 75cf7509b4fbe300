//! Markdown to safe HTML. Runs on the server only; the browser receives the HTML.
use std::sync::OnceLock;

/// Plans are read far more often than written, and sanitising is most of a plan page's
/// render time, so each text is rendered once and kept (up to a bound) until it changes.
pub fn to_html(markdown: &str) -> String {
    use std::collections::HashMap;
    use std::sync::Mutex;
    // Sources and their HTML, in bytes; past this the cache starts over rather than
    // tracking ages: a server holds a few plans' texts, not a library.
    const BOUND: usize = 4 << 20;
    static CACHE: OnceLock<Mutex<(usize, HashMap<String, String>)>> = OnceLock::new();
    if markdown.trim().is_empty() {
        return String::new();
    }
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(html) = cache.lock().ok().and_then(|c| c.1.get(markdown).cloned()) {
        return html;
    }
    let html = render(markdown);
    if let Ok(mut c) = cache.lock() {
        if c.0 + markdown.len() + html.len() > BOUND {
            *c = Default::default();
        }
        c.0 += markdown.len() + html.len();
        c.1.insert(markdown.to_string(), html.clone());
    }
    html
}

fn render(markdown: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    sanitizer().clean(&raw).to_string()
}

/// Plans are written by people and read by others: HTML inside Markdown is
/// reduced to harmless tags, scripts and handlers are dropped.
fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // Keep the language of code blocks (`language-sql`) for styling and labels,
        // and the checkboxes of task lists (disabled, read-only).
        b.add_tag_attributes("code", &["class"]);
        b.add_tags(&["input"]);
        b.add_tag_attributes("input", &["type", "checked", "disabled"]);
        b.link_rel(Some("noopener noreferrer nofollow"));
        b
    })
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn scripts_and_event_handlers_never_survive() {
        let html = to_html("hi <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn sql_code_blocks_keep_their_language() {
        let html = to_html("```sql\nALTER TABLE workspaces ADD COLUMN x TEXT;\n```");
        assert!(html.contains(r#"<code class="language-sql">"#), "{html}");
        assert!(html.contains("ALTER TABLE workspaces"), "{html}");
    }

    #[test]
    fn a_text_rendered_again_gives_the_same_html_and_another_text_its_own() {
        let first = to_html("**bold** <script>x</script>");
        assert_eq!(to_html("**bold** <script>x</script>"), first);
        assert!(first.contains("<strong>bold</strong>") && !first.contains("<script"), "{first}");
        assert!(to_html("*em*").contains("<em>em</em>"));
        assert_eq!(to_html("  \n"), "");
    }

    #[test]
    fn task_lists_render_as_disabled_checkboxes() {
        let html = to_html("- [x] done\n- [ ] open");
        assert!(html.contains("checkbox"), "{html}");
        assert!(html.contains("disabled"), "{html}");
    }
}
