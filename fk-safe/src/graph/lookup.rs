//! Which of a list of values has a row: the question behind natural-key
//! look-ups, get-or-insert and the check of existing parents.
//!
//! The values are sent as a numbered list and joined to the table:
//!
//! ```sql
//! WITH "fk_safe input" ("c0", "c1", "ord") AS (VALUES ($1, $2, 0), ($3, $4, 1), ...)
//! SELECT CAST("fk_safe input"."ord" AS TEXT), CAST("fk_safe row"."id" AS TEXT)
//!   FROM "fk_safe input" JOIN "table" AS "fk_safe row"
//!     ON "fk_safe row"."a" = "fk_safe input"."c0" AND "fk_safe row"."b" = "fk_safe input"."c1"
//! ```
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

use super::model::{KeyValue, WriteRow};
use crate::backend::{Dialect, FkConnection};
use crate::error::{Error, GraphError};

/// The name of the numbered list of values; chosen so that no real table
/// is hidden by it.
const INPUT: &str = "fk_safe input";
/// The alias of the table the values are matched against.
const ROW: &str = "fk_safe row";
/// The column of the list that holds each value's position.
const ORD: &str = "ord";

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

impl<DB: Dialect> MatchValues<DB> for KeyParts<'_> {
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
/// the key column whose value is returned for each match.
pub(crate) struct Target<DB: Backend> {
    pub(crate) table: MatchTable<DB>,
    pub(crate) columns: Vec<String>,
    pub(crate) key_column: String,
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
        out.push_sql("WITH ");
        out.push_identifier(INPUT)?;
        out.push_sql(" (");
        for i in 0..self.target.columns.len() {
            out.push_identifier(&format!("c{i}"))?;
            out.push_sql(", ");
        }
        out.push_identifier(ORD)?;
        out.push_sql(") AS (VALUES ");
        for (ord, values) in self.values.iter().enumerate() {
            if ord > 0 {
                out.push_sql(", ");
            }
            out.push_sql("(");
            values.write_match_values(out)?;
            out.push_sql(&format!(", {ord})"));
        }
        out.push_sql(") SELECT CAST(");
        push_qualified(out, INPUT, ORD)?;
        out.push_sql(" AS TEXT), CAST(");
        push_qualified(out, ROW, &self.target.key_column)?;
        out.push_sql(" AS TEXT) FROM ");
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
            push_qualified(out, INPUT, &format!("c{i}"))?;
        }
        Ok(())
    }
}

fn push_qualified<DB: Backend>(
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
    C::Backend: Dialect + 'static,
{
    let mut keys: Vec<Option<String>> = vec![None; values.len()];
    // The position counts as a value too. Not for the bind limit, but
    // because SQLite 3.50 slows down a thousandfold once a VALUES list holds
    // about 65,000 values (measured: 32,000 rows of a key and a position in
    // 0.2 s, 32,766 such rows in 117 s).
    let per_statement = <C::Backend as Dialect>::rows_per_statement(target.columns.len() + 1);
    for (chunk_index, chunk) in values.chunks(per_statement).enumerate() {
        let offset = chunk_index * per_statement;
        let query = MatchQuery {
            target,
            values: chunk,
        };
        let pairs = <C::Backend as Dialect>::load_pairs(conn, super::PairQuery(Box::new(query)))?;
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
