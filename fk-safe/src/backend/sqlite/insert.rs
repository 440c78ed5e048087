//! Inserts on SQLite: `VALUES` rows get rowids in order under the write
//! lock; keys bound with their own types.

use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;

use crate::backend::insert::{push_key, text_loading};
use crate::backend::{InsertRows, InsertSql};
use crate::fk::KeyValue;

impl InsertSql for Sqlite {
    /// `INSERT INTO t (a, b) VALUES (?, ?), ... RETURNING key`: rowids are
    /// assigned in `VALUES` order while the statement holds the write lock.
    fn write_multi_row_insert<'b>(
        batch: &'b dyn InsertRows<Self>,
        out: &mut AstPass<'_, 'b, Self>,
    ) -> QueryResult<()> {
        out.push_sql("INSERT INTO ");
        batch.write_table(out)?;
        if batch.column_count() == 0 {
            out.push_sql(" DEFAULT VALUES");
        } else {
            out.push_sql(" ");
            batch.write_column_list(out)?;
            out.push_sql(" VALUES ");
            for i in 0..batch.row_count() {
                if i > 0 {
                    out.push_sql(", ");
                }
                out.push_sql("(");
                batch.write_row(i, out)?;
                out.push_sql(")");
            }
        }
        batch.write_returning(out)
    }

    fn render(fragment: &dyn QueryFragment<Self>) -> QueryResult<String> {
        let mut builder = diesel::sqlite::SqliteQueryBuilder::new();
        fragment.to_sql(&mut builder, &Sqlite)?;
        Ok(diesel::query_builder::QueryBuilder::finish(builder))
    }

    fn push_key<'b>(out: &mut AstPass<'_, 'b, Self>, key: &'b KeyValue) -> QueryResult<()> {
        push_key(out, key)
    }

    #[cfg(feature = "uuid")]
    fn push_uuid<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b uuid::Uuid) -> QueryResult<()> {
        out.push_bind_param::<diesel::sql_types::Binary, [u8]>(value.as_bytes().as_slice())
    }

    text_loading!();
}
