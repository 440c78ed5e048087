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
    /// key as a parenthesized row of its parts. Every backend's is
    /// `backend::insert::push_key` (its bounds hold only for a concrete backend).
    fn push_key<'b>(out: &mut AstPass<'_, 'b, Self>, key: &'b KeyValue) -> QueryResult<()>;

    /// Binds a UUID key, as this backend stores UUIDs.
    #[cfg(feature = "uuid")]
    fn push_uuid<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b uuid::Uuid) -> QueryResult<()>;

    /// Runs a query of one TEXT column (every backend's: `text_loading!`).
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

/// Binds `key` for any backend: integers as BIGINT, text as TEXT, a UUID as
/// the backend stores it, a composite key as a parenthesized row.
pub(crate) fn push_key<'b, DB>(out: &mut AstPass<'_, 'b, DB>, key: &'b KeyValue) -> QueryResult<()>
where
    DB: InsertSql + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
{
    match key {
        KeyValue::Int(value) => out.push_bind_param::<BigInt, i64>(value),
        KeyValue::Text(value) => out.push_bind_param::<Text, str>(value.as_str()),
        #[cfg(feature = "uuid")]
        KeyValue::Uuid(value) => DB::push_uuid(out, value),
        KeyValue::Composite(parts) => {
            out.push_sql("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                DB::push_key(out, part)?;
            }
            out.push_sql(")");
            Ok(())
        }
    }
}

/// The text-reading methods of [`InsertSql`], the same for every backend,
/// written once here and expanded in each backend's impl: their bounds
/// (`String` from TEXT, the query's metadata) hold only for a concrete
/// backend.
macro_rules! text_loading {
    () => {
        fn load_texts<C, Q>(conn: &mut C, query: Q) -> diesel::QueryResult<Vec<String>>
        where
            C: diesel::connection::LoadConnection<Backend = Self>,
            Q: diesel::query_builder::Query<SqlType = diesel::sql_types::Text>
                + diesel::query_builder::QueryFragment<Self>
                + diesel::query_builder::QueryId
                + diesel::RunQueryDsl<C>,
        {
            query.load(conn)
        }

        fn load_text_pairs<C, Q>(
            conn: &mut C,
            query: Q,
        ) -> diesel::QueryResult<Vec<(String, String)>>
        where
            C: diesel::connection::LoadConnection<Backend = Self>,
            Q: diesel::query_builder::Query<
                    SqlType = (diesel::sql_types::Text, diesel::sql_types::Text),
                > + diesel::query_builder::QueryFragment<Self>
                + diesel::query_builder::QueryId
                + diesel::RunQueryDsl<C>,
        {
            query.load(conn)
        }
    };
}
pub(crate) use text_loading;
