//! The SQL names of a model's table and of a parent's key, as the backend
//! writes them.
//!
//! Diesel has no public API for the SQL name of a `table!` (its
//! `#[sql_name]` and schema live in the fragment it renders), so the names
//! are read back from that rendering: once per slot for a model's table,
//! and only ever from text this crate's backends rendered, never from
//! server text.

use crate::sql::split_identifiers;

/// A table's SQL name: its schema when the Diesel table names one, and the
/// table, both unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub(crate) schema: Option<String>,
    pub(crate) table: String,
}

impl TableName {
    /// Reads a rendered `"schema"."table"` or `"table"`; `None` for
    /// anything else.
    pub(crate) fn parse(rendered: &str) -> Option<TableName> {
        let mut parts = split_identifiers(rendered);
        let table = parts.pop()?;
        let schema = parts.pop();
        parts.is_empty().then_some(TableName { schema, table })
    }

    /// Whether this is the table a database error or catalog named:
    /// the same table, in the same schema when both say one.
    pub(crate) fn is(&self, schema: Option<&str>, table: &str) -> bool {
        let schema_fits = match (schema, self.schema.as_deref()) {
            (Some(named), Some(own)) => named == own,
            _ => true,
        };
        self.table == table && schema_fits
    }
}

/// The column names of a rendered key list (`"t"."a", "t"."b"`), unquoted
/// and without their table.
pub(crate) fn key_column_names(rendered: &str) -> Vec<String> {
    split_rendered_list(rendered)
        .iter()
        .filter_map(|part| split_identifiers(part).pop())
        .collect()
}

/// `"t"."a", "t"."b"` -> `["\"t\".\"a\"", "\"t\".\"b\""]`: a rendered list
/// split at the commas outside quotes.
fn split_rendered_list(rendered: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in rendered.chars() {
        match (quote, c) {
            (None, '"' | '`') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, ',') => {
                parts.push(current.trim().to_string());
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::{key_column_names, split_rendered_list, TableName};
    use crate::sql::split_identifiers;

    #[test]
    fn rendered_lists_split_outside_quotes() {
        assert_eq!(split_rendered_list(r#""t"."a""#), [r#""t"."a""#]);
        assert_eq!(
            split_rendered_list(r#""t"."a", "t"."b, c""#),
            [r#""t"."a""#, r#""t"."b, c""#]
        );
        assert_eq!(split_rendered_list("`a`, `b`"), ["`a`", "`b`"]);
        assert_eq!(key_column_names(r#""t"."a", "t"."b, c""#), ["a", "b, c"]);
    }

    #[test]
    fn identifiers_unquote() {
        assert_eq!(split_identifiers(r#""customers""#), ["customers"]);
        assert_eq!(
            split_identifiers(r#""s"."Lager ""Nord""""#),
            ["s", r#"Lager "Nord""#]
        );
        assert_eq!(split_identifiers("`a``b`.`c`"), ["a`b", "c"]);
        assert!(split_identifiers("").is_empty());
    }

    #[test]
    fn table_names() {
        let qualified = TableName::parse(r#""s"."t""#).unwrap();
        assert_eq!(qualified.schema.as_deref(), Some("s"));
        assert!(qualified.is(Some("s"), "t") && qualified.is(None, "t"));
        assert!(!qualified.is(Some("other"), "t"));
        assert!(TableName::parse("").is_none());
    }
}
