//! Markdown to safe HTML. Runs on the server only; the browser receives the HTML.
use std::sync::OnceLock;

pub fn to_html(markdown: &str) -> String {
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
    fn task_lists_render_as_disabled_checkboxes() {
        let html = to_html("- [x] done\n- [ ] open");
        assert!(html.contains("checkbox"), "{html}");
        assert!(html.contains("disabled"), "{html}");
    }
}
