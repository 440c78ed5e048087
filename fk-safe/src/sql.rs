//! Building SQL text safely: every identifier that reaches SQL goes through
//! [`quote_ident`].

/// How every statement opens that fk-safe sends to read the catalog (the
/// foreign keys, how a table's keys follow its rows, the lock that keeps
/// that answer true), so that a statement log, or a test counting
/// statements, can tell those reads from the writes.
///
/// ```
/// assert!("/* fk-safe: catalog */ LOCK TABLE \"t\" IN ROW EXCLUSIVE MODE"
///     .starts_with(fk_safe::CATALOG_READ_MARK));
/// ```
pub const CATALOG_READ_MARK: &str = "/* fk-safe: catalog */";

/// Quotes an identifier for PostgreSQL and SQLite: wrapped in double quotes,
/// inner double quotes doubled. Both databases accept this form for any name,
/// whatever its case, spaces or script.
pub(crate) fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' {
            quoted.push('"');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A name as it reads in messages and reports: bare when it is a plain
/// lower-case identifier (`orders`, `customer_id`), else quoted as SQL
/// needs it, so that a name with spaces, quotes or punctuation is never
/// mistaken for several.
///
/// ```
/// assert_eq!(fk_safe::display_ident("orders"), "orders");
/// assert_eq!(fk_safe::display_ident("Pick Lines"), "\"Pick Lines\"");
/// assert_eq!(fk_safe::display_ident("2fa"), "\"2fa\"");
/// ```
pub fn display_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

/// `"schema"."table"` (or with backticks) -> `["schema", "table"]`. Reads
/// only names this crate's backends rendered, never server text.
pub(crate) fn split_identifiers(rendered: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut chars = rendered.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' && c != '`' {
            continue;
        }
        let quote = c;
        let mut name = String::new();
        while let Some(c) = chars.next() {
            if c == quote {
                if chars.peek() == Some(&quote) {
                    chars.next();
                    name.push(quote);
                } else {
                    break;
                }
            } else {
                name.push(c);
            }
        }
        parts.push(name);
    }
    parts
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalog_mark_is_a_comment() {
        let mark = super::CATALOG_READ_MARK;
        assert!(mark.starts_with("/*") && mark.ends_with("*/"));
    }

    #[test]
    fn quoting_doubles_inner_quotes() {
        assert_eq!(super::quote_ident(r#"Lager "Nord""#), r#""Lager ""Nord""""#);
    }
}
