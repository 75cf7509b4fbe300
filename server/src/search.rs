//! What the plan, workspace and audit lists share: conditions built from the filters given
//! (so each query is planned for what it asks), literal substring search through a trigram
//! index, and counts that stop at `COUNT_CAP` instead of scanning a million rows per page.
use crate::db::{Kind, Param};
use sqlx::any::{Any, AnyArguments};
use sqlx::AnyConnection;
use sqlx::query::Query;

/// Lists count matches up to here; beyond it they say "10,000+" (searches of one or two
/// characters stop at `SHORT_SEARCH_CAP`).
pub const COUNT_CAP: i64 = 10_000;

/// Above this many index hits a search reads the table in list order instead: matches are
/// then dense enough that a page fills after a few thousand rows, while sorting every hit
/// by key would cost more.
const SPARSE_HITS: i64 = 1_000;

/// A search of one or two characters has no trigram to look up on either database, so each
/// row is read to count it: such counts stop here ("1,000+").
const SHORT_SEARCH_CAP: i64 = 1_000;

/// `WHERE` conditions joined by `AND`, with their values as `$1`, `$2`...
#[derive(Debug, Clone, Default)]
pub struct Where {
    conditions: Vec<String>,
    values: Vec<Param>,
    /// Where [`Where::count`] stops, when not at `COUNT_CAP`.
    cap: Option<i64>,
}

impl Where {
    /// The placeholder of a new text value.
    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.values.push(Param::Text(v.into()));
        format!("${}", self.values.len())
    }

    pub fn int(&mut self, v: i64) -> String {
        self.values.push(Param::Int(v));
        format!("${}", self.values.len())
    }

    pub fn and(&mut self, condition: impl Into<String>) {
        self.conditions.push(condition.into());
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Binds the values, and has the query planned for them each time (an unnamed statement
    /// on PostgreSQL): a plan cached for any value walked the whole key index for a rare search
    /// (80 ms) where the trigram index answers in 1.
    pub fn bind<'q>(&'q self, query: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        crate::db::bind_params(query.persistent(false), &self.values)
    }

    /// How many rows of `from` match, counting no further than `COUNT_CAP`; and whether
    /// there are more.
    pub async fn count(&self, conn: &mut AnyConnection, from: &str) -> Result<(i64, bool), sqlx::Error> {
        let cap = self.cap.unwrap_or(COUNT_CAP);
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {from}{} LIMIT {}) capped", self.sql(), cap + 1);
        let n: i64 = sqlx::Row::try_get(&self.bind(sqlx::query(&sql)).fetch_one(conn).await?, 0)?;
        Ok((n.min(cap), n > cap))
    }
}

/// Lists read one row more than a page: when it came, it is dropped and the page's last
/// item gives the cursor of the next page.
pub fn next_page<T, C>(items: &mut Vec<T>, limit: i64, cursor: impl Fn(&T) -> C) -> Option<C> {
    if items.len() as i64 <= limit {
        return None;
    }
    items.truncate(limit as usize);
    items.last().map(cursor)
}

/// A search string as a `LIKE` pattern in which `%`, `_` and `\` are the characters
/// themselves (used with `ESCAPE '\'`).
pub fn like_pattern(q: &str) -> String {
    let mut p = String::from("%");
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A search string as one FTS5 phrase: every character, quotes and operators included, is
/// matched as written.
fn fts_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

/// Adds "one of `columns` contains `q`" (any case) to `w`. On PostgreSQL the trigram indexes
/// serve `ILIKE` themselves. On SQLite, a search of three or more characters with few hits
/// reads the FTS5 table `fts.0`, whose column `fts.1` holds the listed table's key `fts.2`;
/// otherwise the table is read in order, which stops once a page is full.
pub async fn contains(
    conn: &mut AnyConnection,
    kind: Kind,
    w: &mut Where,
    q: &str,
    columns: &[&str],
    fts: (&str, &str, &str),
) -> Result<(), sqlx::Error> {
    let (table, column, key) = fts;
    if kind == Kind::Sqlite && q.chars().count() >= 3 {
        let phrase = fts_phrase(q);
        let hits: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH $1 LIMIT {})",
            SPARSE_HITS + 1
        ))
        .bind(&phrase)
        .fetch_one(&mut *conn)
        .await?;
        if hits <= SPARSE_HITS {
            let p = w.text(phrase);
            w.and(format!("{key} IN (SELECT {column} FROM {table} WHERE {table} MATCH {p})"));
            return Ok(());
        }
    }
    if q.chars().count() < 3 {
        w.cap = Some(SHORT_SEARCH_CAP);
    }
    let like = if kind == Kind::Postgres { "ILIKE" } else { "LIKE" };
    let p = w.text(like_pattern(q));
    let any = columns.iter().map(|c| format!("{c} {like} {p} ESCAPE '\\'")).collect::<Vec<_>>().join(" OR ");
    w.and(format!("({any})"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_wildcards_are_taken_literally() {
        assert_eq!(like_pattern("100%_done\\"), "%100\\%\\_done\\\\%");
    }

    #[test]
    fn a_search_is_one_phrase_whatever_it_holds() {
        assert_eq!(fts_phrase(r#"a "b" OR c*"#), r#""a ""b"" OR c*""#);
    }

    #[test]
    fn conditions_number_their_values_in_order() {
        let mut w = Where::default();
        let a = w.text("x");
        w.and(format!("a = {a}"));
        let b = w.int(3);
        w.and(format!("(b = {b} OR c = {b})"));
        assert_eq!(w.sql(), " WHERE a = $1 AND (b = $2 OR c = $2)");
        assert_eq!(Where::default().sql(), "");
    }

    #[test]
    fn a_page_has_a_next_only_when_a_row_beyond_it_came() {
        let mut full = vec![1, 2, 3];
        assert_eq!(next_page(&mut full, 2, |n| *n), Some(2));
        assert_eq!(full, [1, 2]);
        let mut last = vec![1, 2];
        assert_eq!(next_page(&mut last, 2, |n| *n), None);
        assert_eq!(last, [1, 2]);
    }
}
