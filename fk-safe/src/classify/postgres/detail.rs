//! Key values from PostgreSQL's DETAIL line, and only those.
//!
//! The DETAIL reads `Key (a, b)=(v1, v2) is not present in table "t".` (or
//! `... is still referenced from table "t".`), translated with the message.
//! Column names and values are printed raw and joined by `, `, so the text is
//! ambiguous whenever a value contains `, ` or `)`. This parser knows the
//! column names and the table from the catalog, looks for them verbatim, and
//! returns `None` whenever more than one reading of the text is possible.

/// Which DETAIL sentence to expect after the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DetailSide {
    /// `is not present in table "<parent>"`.
    MissingParent,
    /// `is still referenced from table "<child>"` (or, for RESTRICT on
    /// PostgreSQL 18, `is referenced from table "<child>"`).
    StillReferenced,
}

impl DetailSide {
    fn english_endings(self, table: &str) -> Vec<String> {
        match self {
            DetailSide::MissingParent => vec![format!(") is not present in table \"{table}\".")],
            DetailSide::StillReferenced => vec![
                format!(") is still referenced from table \"{table}\"."),
                format!(") is referenced from table \"{table}\"."),
            ],
        }
    }
}

/// The key values in `detail` for `columns`, or `None` when the DETAIL does
/// not carry them (no privilege: `Key is not present ...`) or when the text
/// can be read more than one way.
///
/// `table` is the table named at the end of the sentence: the parent for
/// [`DetailSide::MissingParent`], the child for [`DetailSide::StillReferenced`].
pub(crate) fn key_values(
    detail: &str,
    columns: &[String],
    side: DetailSide,
    table: &str,
) -> Option<Vec<Option<String>>> {
    if columns.is_empty() {
        return None;
    }
    let opening = format!("({})=(", columns.join(", "));
    let (before, rest) = split_once_unique(detail, &opening)?;
    // The opening is the only place where the column list may appear; a
    // second copy (in the words before it) would make the text ambiguous.
    if before.contains(&opening) {
        return None;
    }
    let values_text = values_text(rest, side, table)?;
    let values = split_values(values_text, columns.len())?;
    // PostgreSQL prints NULL as `null`, indistinguishable from the text
    // 'null'; rather than guess, report the values as unknown.
    if values.iter().any(|v| v == "null") {
        return None;
    }
    Some(values.into_iter().map(Some).collect())
}

/// `haystack` split around `needle` when `needle` occurs exactly once.
fn split_once_unique<'a>(haystack: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = haystack.find(needle)?;
    let rest = &haystack[at + needle.len()..];
    if rest.contains(needle) {
        return None;
    }
    Some((&haystack[..at], rest))
}

/// The text between `)=(` and the `)` that closes the values.
fn values_text<'a>(rest: &'a str, side: DetailSide, table: &str) -> Option<&'a str> {
    // Untranslated: the sentence after the values is known exactly, so it is
    // stripped from the end and the values may contain anything.
    for ending in side.english_endings(table) {
        if let Some(values) = rest.strip_suffix(ending.as_str()) {
            return Some(values);
        }
    }
    // Translated: the words are unknown. Accept only the reading where the
    // closing `)` is the one followed by the rest of the sentence, and the
    // rest holds no `)` other than those inside the table's own name.
    let parens_in_table = table.matches(')').count();
    let parens_in_rest = rest.matches(')').count();
    if parens_in_rest != parens_in_table + 1 {
        return None;
    }
    let close = rest.find(')')?;
    let sentence = &rest[close + 1..];
    if !sentence.contains(table) {
        return None;
    }
    Some(&rest[..close])
}

/// Splits `text` into exactly `count` values joined by `, `.
fn split_values(text: &str, count: usize) -> Option<Vec<String>> {
    if count == 1 {
        return Some(vec![text.to_string()]);
    }
    let parts: Vec<&str> = text.split(", ").collect();
    if parts.len() != count {
        return None;
    }
    Some(parts.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn some(values: &[&str]) -> Option<Vec<Option<String>>> {
        Some(values.iter().map(|v| Some(v.to_string())).collect())
    }

    #[test]
    fn english_single_column() {
        let d = r#"Key (customer_id)=(999) is not present in table "customers"."#;
        assert_eq!(
            key_values(
                d,
                &cols(&["customer_id"]),
                DetailSide::MissingParent,
                "customers"
            ),
            some(&["999"])
        );
    }

    #[test]
    fn english_still_referenced() {
        let d = r#"Key (id)=(1) is still referenced from table "orders"."#;
        assert_eq!(
            key_values(d, &cols(&["id"]), DetailSide::StillReferenced, "orders"),
            some(&["1"])
        );
    }

    #[test]
    fn english_composite() {
        let d =
            r#"Key (tenant_id, warehouse_code)=(7, MAIN) is not present in table "warehouses"."#;
        assert_eq!(
            key_values(
                d,
                &cols(&["tenant_id", "warehouse_code"]),
                DetailSide::MissingParent,
                "warehouses"
            ),
            some(&["7", "MAIN"])
        );
    }

    #[test]
    fn values_with_parentheses_are_fine_when_untranslated() {
        let d = r#"Key (code)=(a) is not present in table "x") (b) is not present in table "t"."#;
        assert_eq!(
            key_values(d, &cols(&["code"]), DetailSide::MissingParent, "t"),
            some(&[r#"a) is not present in table "x") (b"#])
        );
    }

    #[test]
    fn composite_value_containing_separator_is_ambiguous() {
        let d = r#"Key (a, b)=(x, y, z) is not present in table "t"."#;
        assert_eq!(
            key_values(d, &cols(&["a", "b"]), DetailSide::MissingParent, "t"),
            None
        );
    }

    #[test]
    fn no_privilege_detail_has_no_values() {
        let d = r#"Key is not present in table "customers"."#;
        assert_eq!(
            key_values(
                d,
                &cols(&["customer_id"]),
                DetailSide::MissingParent,
                "customers"
            ),
            None
        );
    }

    #[test]
    fn german() {
        let d = "Schlüssel (customer_id)=(999) ist nicht in Tabelle »customers« vorhanden.";
        assert_eq!(
            key_values(
                d,
                &cols(&["customer_id"]),
                DetailSide::MissingParent,
                "customers"
            ),
            some(&["999"])
        );
    }

    #[test]
    fn translated_value_with_parenthesis_is_ambiguous() {
        let d = "Schlüssel (code)=(a) b) ist nicht in Tabelle »t« vorhanden.";
        assert_eq!(
            key_values(d, &cols(&["code"]), DetailSide::MissingParent, "t"),
            None
        );
    }

    #[test]
    fn quoted_and_unicode_names() {
        let d = r#"Key (Bin, (Ref))=(42) is not present in table "Lager "Nord" Größe"."#;
        assert_eq!(
            key_values(
                d,
                &cols(&["Bin, (Ref)"]),
                DetailSide::MissingParent,
                r#"Lager "Nord" Größe"#
            ),
            some(&["42"])
        );
    }

    #[test]
    fn null_text_is_not_guessed() {
        let d = r#"Key (a, b)=(1, null) is not present in table "t"."#;
        assert_eq!(
            key_values(d, &cols(&["a", "b"]), DetailSide::MissingParent, "t"),
            None
        );
    }

    #[test]
    fn wrong_columns_give_nothing() {
        let d = r#"Key (id)=(1) is still referenced from table "orders"."#;
        assert_eq!(
            key_values(
                d,
                &cols(&["customer_id"]),
                DetailSide::StillReferenced,
                "orders"
            ),
            None
        );
    }

    #[test]
    fn postgres_18_restrict_wording() {
        let d = r#"Key (id)=(3) is referenced from table "order_items"."#;
        assert_eq!(
            key_values(
                d,
                &cols(&["id"]),
                DetailSide::StillReferenced,
                "order_items"
            ),
            some(&["3"])
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn side() -> impl Strategy<Value = DetailSide> {
            prop_oneof![
                Just(DetailSide::MissingParent),
                Just(DetailSide::StillReferenced)
            ]
        }

        /// What PostgreSQL prints, in English or German.
        fn render(
            columns: &[String],
            values: &[String],
            side: DetailSide,
            table: &str,
            german: bool,
        ) -> String {
            let (c, v) = (columns.join(", "), values.join(", "));
            match (side, german) {
                (DetailSide::MissingParent, false) => {
                    format!("Key ({c})=({v}) is not present in table \"{table}\".")
                }
                (DetailSide::StillReferenced, false) => {
                    format!("Key ({c})=({v}) is still referenced from table \"{table}\".")
                }
                (DetailSide::MissingParent, true) => {
                    format!("Schlüssel ({c})=({v}) ist nicht in Tabelle »{table}« vorhanden.")
                }
                (DetailSide::StillReferenced, true) => {
                    format!("Auf Schlüssel ({c})=({v}) wird noch aus Tabelle »{table}« verwiesen.")
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn never_panics(detail in any::<String>(), columns in prop::collection::vec(any::<String>(), 0..4), table in any::<String>(), side in side()) {
                let _ = key_values(&detail, &columns, side, &table);
            }

            /// Whatever the names and values, the parser returns exactly the
            /// printed values or nothing: never wrong ones.
            #[test]
            fn exact_or_absent(
                pairs in prop::collection::vec((".{0,10}", ".{0,10}"), 1..4),
                table in ".{0,10}",
                side in side(),
                german in any::<bool>(),
            ) {
                let (columns, values): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
                let detail = render(&columns, &values, side, &table, german);
                if let Some(parsed) = key_values(&detail, &columns, side, &table) {
                    let expected: Vec<Option<String>> = values.into_iter().map(Some).collect();
                    prop_assert_eq!(parsed, expected);
                }
            }

            /// Plain values are always recovered, in both languages.
            #[test]
            fn plain_values_are_found(
                pairs in prop::collection::vec(("[a-z_][a-z0-9_ ]{0,10}", "[A-Za-z0-9.-]{1,10}"), 1..4),
                table in "[a-z][a-z_]{0,10}",
                side in side(),
                german in any::<bool>(),
            ) {
                prop_assume!(pairs.iter().all(|(_, v)| v != "null"));
                let (columns, values): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
                let detail = render(&columns, &values, side, &table, german);
                let expected: Vec<Option<String>> = values.into_iter().map(Some).collect();
                prop_assert_eq!(key_values(&detail, &columns, side, &table), Some(expected));
            }
        }
    }
}
