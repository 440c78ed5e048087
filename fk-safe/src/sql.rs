//! Building SQL text safely: every identifier that reaches SQL goes through
//! [`quote_ident`].

/// Quotes an identifier for PostgreSQL and SQLite: wrapped in double quotes,
/// inner double quotes doubled. Both databases accept this form for any name,
/// whatever its case, spaces or script.
///
/// ```
/// assert_eq!(fk_safe::sql::quote_ident(r#"Lager "Nord""#), r#""Lager ""Nord""""#);
/// ```
pub fn quote_ident(name: &str) -> String {
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

/// Quotes a possibly schema-qualified table name: `"schema"."table"`.
pub fn quote_qualified(schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(table),
    }
}
