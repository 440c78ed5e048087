//! Writing inserts: what differs between backends in the SQL of a
//! multi-row insert, in binding a key, and in reading text back.

use diesel::connection::LoadConnection;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel::{QueryResult, RunQueryDsl};

use crate::fk::KeyValue;

/// The rows of one multi-row insert of one table, as shared code prepares
/// them; the backend writes the statement around these pieces.
pub trait InsertRows<DB: diesel::backend::Backend> {
    /// The table, as a FROM clause names it.
    fn write_table(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()>;
    /// How many columns each row writes.
    fn column_count(&self) -> usize;
    /// `(a, b, ..)`: the columns each row writes.
    fn write_column_list(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()>;
    /// How many rows the statement writes.
    fn row_count(&self) -> usize;
    /// The values of row `row`, comma-separated, without parentheses.
    fn write_row<'b>(&'b self, row: usize, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;
    /// What ends every backend's statement: the conflict clause, if any,
    /// and `RETURNING` the key as text.
    fn write_returning(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()>;
}

/// How a backend writes inserts and reads their answers.
pub trait InsertSql: diesel::backend::Backend + Sized {
    /// Writes a multi-row insert that makes the database generate keys in
    /// input order, returning the key column as TEXT.
    fn write_multi_row_insert<'b>(
        rows: &'b dyn InsertRows<Self>,
        out: &mut AstPass<'_, 'b, Self>,
    ) -> QueryResult<()>;

    /// Renders a fragment (a table, a column) as this backend writes it.
    fn render(fragment: &dyn QueryFragment<Self>) -> QueryResult<String>;

    /// Binds a key with its own SQL type (BIGINT, TEXT, UUID); a composite
    /// key as a parenthesized row of its parts.
    fn push_key<'b>(out: &mut AstPass<'_, 'b, Self>, key: &'b KeyValue) -> QueryResult<()>;

    /// Runs a query of one TEXT column.
    fn load_texts<C, Q>(conn: &mut C, query: Q) -> QueryResult<Vec<String>>
    where
        C: LoadConnection<Backend = Self>,
        Q: Query<SqlType = Text> + QueryFragment<Self> + QueryId + RunQueryDsl<C>;

    /// Runs a query of two TEXT columns.
    fn load_text_pairs<C, Q>(conn: &mut C, query: Q) -> QueryResult<Vec<(String, String)>>
    where
        C: LoadConnection<Backend = Self>,
        Q: Query<SqlType = (Text, Text)> + QueryFragment<Self> + QueryId + RunQueryDsl<C>;
}

/// Binds the keys every backend binds alike (integers, text, NULL, and
/// composite keys part by part through `push_part`); `None` for a key whose
/// binding is the backend's own (a UUID).
pub(crate) fn push_common_key<'b, DB>(
    out: &mut AstPass<'_, 'b, DB>,
    key: &'b KeyValue,
    push_part: fn(&mut AstPass<'_, 'b, DB>, &'b KeyValue) -> QueryResult<()>,
) -> Option<QueryResult<()>>
where
    DB: diesel::backend::Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
{
    Some(match key {
        KeyValue::Int(value) => out.push_bind_param::<BigInt, i64>(value),
        KeyValue::Text(value) => out.push_bind_param::<Text, str>(value.as_str()),
        KeyValue::Composite(parts) => {
            out.push_sql("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                if let Err(error) = push_part(out, part) {
                    return Some(Err(error));
                }
            }
            out.push_sql(")");
            Ok(())
        }
        #[cfg(feature = "uuid")]
        KeyValue::Uuid(_) => return None,
    })
}

/// The error for a key a backend cannot bind.
pub(crate) fn unsupported_key(key: &KeyValue) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!("this backend cannot bind the key {key}").into(),
    )
}
