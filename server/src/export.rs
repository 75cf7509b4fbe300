//! What the CSV exports (audit log, workspaces) share.
use std::borrow::Cow;

/// A cell a spreadsheet will show as text, never run as a formula: one starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's advice).
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// What `spreadsheet_safe` made of a cell, read back (the workspace import takes the export).
pub fn from_spreadsheet(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_get_a_leading_quote() {
        for bad in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(bad), format!("'{bad}"));
        }
        for ok in ["ada", "plan:1", "", "1", "a=b", "{\"x\":1}", "'quoted"] {
            assert_eq!(spreadsheet_safe(ok), ok);
        }
        for cell in ["=1+1", "-x", "plain", "'quoted"] {
            assert_eq!(from_spreadsheet(&spreadsheet_safe(cell)), cell);
        }
    }
}
