//! Field rules shared by the server (authoritative) and the browser (inline messages).
use crate::error::ApiError;

pub fn check_required(field: &str, label: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::validation(field, format!("{label} is required.")));
    }
    Ok(())
}

pub fn check_len(field: &str, label: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n > max {
        return Err(ApiError::validation(
            field,
            format!("{label} is {n} characters long; the limit is {max}."),
        ));
    }
    Ok(())
}

/// Letters, digits, `.`, `_` and `-`: names that appear in URLs, logs and the audit log.
pub fn check_slug(field: &str, label: &str, value: &str) -> Result<(), ApiError> {
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(ApiError::validation(field, format!("{label} may hold only letters, digits, '.', '_' and '-'.")));
    }
    Ok(())
}

pub fn check_minutes(field: &str, label: &str, value: Option<i64>) -> Result<(), ApiError> {
    // A year is more than any stage should plan for; anything longer is a typo.
    const MAX_MINUTES: i64 = 366 * 24 * 60;
    if let Some(v) = value {
        if !(0..=MAX_MINUTES).contains(&v) {
            return Err(ApiError::validation(
                field,
                format!("{label} must be between 0 and {MAX_MINUTES} minutes."),
            ));
        }
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z` or `+HH:MM`/`-HH:MM`: RFC 3339.
/// The server re-parses with chrono; this keeps the browser's message the same.
pub fn check_rfc3339(field: &str, label: &str, value: &str) -> Result<(), ApiError> {
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape_ok = b.len() >= 17
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && (value.ends_with('Z') || value.ends_with('z') || {
            let n = b.len();
            n >= 6 && (b[n - 6] == b'+' || b[n - 6] == b'-') && b[n - 3] == b':'
        });
    if !shape_ok {
        return Err(ApiError::validation(
            field,
            format!("{label} must be a date and time such as 2026-12-01T09:00:00Z."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_title_is_required() {
        let e = check_required("title", "Title", "   ").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("title"));
        assert_eq!(e.status, 422);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(check_len("t", "T", &"é".repeat(10), 10).is_ok());
        assert!(check_len("t", "T", &"é".repeat(11), 10).is_err());
    }

    #[test]
    fn rfc3339_accepts_zulu_and_offsets_and_rejects_local_times() {
        assert!(check_rfc3339("f", "F", "2026-12-01T09:00:00Z").is_ok());
        assert!(check_rfc3339("f", "F", "2026-12-01T09:00:00+02:00").is_ok());
        assert!(check_rfc3339("f", "F", "2026-12-01T09:00").is_err());
        assert!(check_rfc3339("f", "F", "next tuesday").is_err());
    }
}
