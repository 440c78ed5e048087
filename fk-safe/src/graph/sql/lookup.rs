//! Which of a list of values has a row: the question behind natural-key
//! look-ups, get-or-insert and the check of existing parents.
//!
//! The values are sent as a numbered list and joined to the table:
//!
//! ```sql
//! SELECT CAST("fk_safe input"."column3" AS TEXT), CAST("fk_safe row"."id" AS TEXT)
//!   FROM (VALUES ($1, $2, 0), ($3, $4, 1), ...) AS "fk_safe input"
//!   JOIN "table" AS "fk_safe row"
//!     ON "fk_safe row"."a" = "fk_safe input"."column1" AND "fk_safe row"."b" = "fk_safe input"."column2"
//! ```
//!
//! The list is a subquery in FROM, not a `WITH`: a common table expression
//! would hide a user's table of the same name, where an alias in FROM hides
//! nothing (the user's table is named in the catalog, and is itself only
//! known by its alias in the query). Its columns keep the names both
//! PostgreSQL and SQLite give a `VALUES` list (`column1`, ...), always
//! qualified by the alias, so no user's column name can be taken for one.
//! A composite key comes back as one text whose parts carry their length
//! (see [`push_key_text`]).
//!
//! The table's column stands on the left of each comparison, so the
//! database compares the way its own constraints do (the column's collation,
//! SQLite's `COLLATE NOCASE` and affinity), and each value is bound with its
//! column's SQL type from the Diesel schema (a `Citext` column compares
//! without case), exactly as Diesel's `.eq()` would. The answer comes back
//! by position: nothing is matched by text in Rust. A join stays one
//! statement per bind-parameter limit however many values there are, where
//! an `OR` of comparisons grows the expression tree with every value.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use crate::backend::{FkBackend, FkConnection, InsertSql};
use crate::error::{Error, GraphError};
use crate::graph::model::{KeyValue, WriteRow};
use crate::graph::sql::pair_query::PairQuery;

/// The alias of the numbered list of values.
const INPUT: &str = "fk_safe input";
/// The alias of the table the values are matched against.
const ROW: &str = "fk_safe row";

/// The name `VALUES` gives its column `index` (from 0) on PostgreSQL and
/// SQLite alike.
pub(crate) fn values_column(index: usize) -> String {
    format!("column{}", index + 1)
}

/// Writes the key `columns` of the row `qualifier` names (unqualified for
/// `None`) as one TEXT: `CAST(key AS TEXT)` for a single column; for a
/// composite key each part's text prefixed by its length and a colon, as
/// [`split_key_text`](super::model::split_key_text) reads it back.
pub(crate) fn push_key_text<DB: Backend>(
    out: &mut AstPass<'_, '_, DB>,
    qualifier: Option<&str>,
    columns: &[&str],
) -> QueryResult<()> {
    let column = |out: &mut AstPass<'_, '_, DB>, column: &str| -> QueryResult<()> {
        out.push_sql("CAST(");
        if let Some(qualifier) = qualifier {
            out.push_identifier(qualifier)?;
            out.push_sql(".");
        }
        out.push_identifier(column)?;
        out.push_sql(" AS TEXT)");
        Ok(())
    };
    match columns {
        [] => Err(diesel::result::Error::QueryBuilderError(
            "fk-safe: a key without columns".into(),
        )),
        [single] => column(out, single),
        parts => {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_sql(" || ");
                }
                out.push_sql("CAST(LENGTH(");
                column(out, part)?;
                out.push_sql(") AS TEXT) || ':' || ");
                column(out, part)?;
            }
            Ok(())
        }
    }
}

/// One entry of the list: its values as bind parameters, comma-separated,
/// one per matched column.
pub trait MatchValues<DB: Backend>: Sync {
    /// Writes the values, each with its column's SQL type.
    fn write_match_values<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;
}

impl<M: WriteRow<DB>, DB: Backend> MatchValues<DB> for M {
    fn write_match_values<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        WriteRow::write_natural_key_values(self, out)
    }
}

/// A key's parts as entries of the list (a composite key part by part).
pub(crate) struct KeyParts<'a>(pub(crate) &'a KeyValue);

impl<DB: FkBackend> MatchValues<DB> for KeyParts<'_> {
    fn write_match_values<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        match self.0 {
            KeyValue::Composite(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_sql(", ");
                    }
                    DB::push_key(out, part)?;
                }
                Ok(())
            }
            single => DB::push_key(out, single),
        }
    }
}

/// The table values are matched against.
pub(crate) enum MatchTable<DB: Backend> {
    /// Written by the model's generated code.
    Model(fn(&mut AstPass<'_, '_, DB>) -> QueryResult<()>),
    /// Rendered earlier by Diesel for this backend (a parent table).
    Rendered(String),
}

/// Where to look: a table, the columns the values are compared with, and
/// the key columns whose value is returned for each match (several for a
/// composite key).
pub(crate) struct Target<DB: Backend> {
    pub(crate) table: MatchTable<DB>,
    pub(crate) columns: Vec<String>,
    pub(crate) key_columns: Vec<String>,
    /// The model, for errors.
    pub(crate) model: &'static str,
}

/// One statement: a slice of the list and the join (run as a
/// [`PairQuery`](super::PairQuery)).
struct MatchQuery<'q, 'a, DB: Backend> {
    target: &'q Target<DB>,
    values: &'q [&'a dyn MatchValues<DB>],
}

impl<DB: Backend> QueryFragment<DB> for MatchQuery<'_, '_, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let out = &mut out;
        let ord = values_column(self.target.columns.len());
        out.push_sql("SELECT CAST(");
        push_qualified(out, INPUT, &ord)?;
        out.push_sql(" AS TEXT), ");
        let key_columns: Vec<&str> = self.target.key_columns.iter().map(String::as_str).collect();
        push_key_text(out, Some(ROW), &key_columns)?;
        out.push_sql(" FROM (VALUES ");
        for (ord, values) in self.values.iter().enumerate() {
            if ord > 0 {
                out.push_sql(", ");
            }
            out.push_sql("(");
            values.write_match_values(out)?;
            out.push_sql(&format!(", {ord})"));
        }
        out.push_sql(") AS ");
        out.push_identifier(INPUT)?;
        out.push_sql(" JOIN ");
        match &self.target.table {
            MatchTable::Model(write_table) => write_table(out)?,
            MatchTable::Rendered(table) => out.push_sql(table),
        }
        out.push_sql(" AS ");
        out.push_identifier(ROW)?;
        out.push_sql(" ON ");
        for (i, column) in self.target.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(" AND ");
            }
            push_qualified(out, ROW, column)?;
            out.push_sql(" = ");
            push_qualified(out, INPUT, &values_column(i))?;
        }
        Ok(())
    }
}

pub(crate) fn push_qualified<DB: Backend>(
    out: &mut AstPass<'_, '_, DB>,
    table: &str,
    column: &str,
) -> QueryResult<()> {
    out.push_identifier(table)?;
    out.push_sql(".");
    out.push_identifier(column)
}

/// For each entry of `values`, the key (as text) of the row of `target`
/// whose columns equal it, `None` when there is none. Sent in as few
/// statements as the bind-parameter limit allows. Two rows for one entry
/// mean the columns are not unique: [`GraphError::NaturalKeyAmbiguous`].
pub(crate) fn find_keys<C>(
    conn: &mut C,
    target: &Target<C::Backend>,
    values: &[&dyn MatchValues<C::Backend>],
) -> Result<Vec<Option<String>>, Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    let mut keys: Vec<Option<String>> = vec![None; values.len()];
    // Each row of the list holds its natural key's columns and its position.
    let per_statement = <C::Backend as FkBackend>::rows_per_values_list(target.columns.len() + 1);
    for (chunk_index, chunk) in values.chunks(per_statement).enumerate() {
        let offset = chunk_index * per_statement;
        let query = MatchQuery {
            target,
            values: chunk,
        };
        let pairs = <C::Backend>::load_text_pairs(conn, PairQuery(Box::new(query)))?;
        for (ord, key) in pairs {
            let position = ord
                .parse::<usize>()
                .ok()
                .and_then(|ord| ord.checked_add(offset))
                .filter(|&position| position < keys.len())
                .ok_or_else(|| {
                    Error::Database(diesel::result::Error::DeserializationError(
                        format!("a look-up returned the position {ord:?}, which it was not sent")
                            .into(),
                    ))
                })?;
            match &keys[position] {
                Some(first) if *first != key => {
                    return Err(GraphError::NaturalKeyAmbiguous {
                        model: target.model,
                        keys: vec![first.clone(), key],
                    }
                    .into())
                }
                _ => keys[position] = Some(key),
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use crate::graph::model::split_key_text;

    #[test]
    fn composite_key_text() {
        assert_eq!(split_key_text("1:74:rust", 2), Some(vec!["7", "rust"]));
        // Parts holding colons, digits and the natural-key separator.
        assert_eq!(
            split_key_text("3:a:13:\u{1f}2:", 2),
            Some(vec!["a:1", "\u{1f}2:"])
        );
        assert_eq!(split_key_text("0:2:äö", 2), Some(vec!["", "äö"]));
        assert_eq!(split_key_text("1:74:rust", 3), None);
        assert_eq!(split_key_text("1:74:rus", 2), None);
        assert_eq!(split_key_text("1:74:rustx", 2), None);
        assert_eq!(split_key_text("x:7", 1), None);
        assert_eq!(split_key_text("", 1), None);
    }
}
