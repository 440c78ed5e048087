//! Inserts on PostgreSQL: a multi-row insert whose keys are generated in
//! input order, keys bound with their own types.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use crate::backend::insert::{push_key, text_loading};
use crate::backend::{InsertRows, InsertSql};
use crate::fk::KeyValue;

impl InsertSql for Pg {
    /// `INSERT INTO t (a, b) SELECT v0, v1 FROM (VALUES ($1, $2, 0), ...)
    /// AS v (v0, v1, ord) ORDER BY ord RETURNING key`: volatile defaults such
    /// as `nextval()` are computed after the sort, so keys grow in input order.
    fn write_multi_row_insert<'b>(
        batch: &'b dyn InsertRows<Self>,
        out: &mut AstPass<'_, 'b, Self>,
    ) -> QueryResult<()> {
        let columns = batch.column_count();
        out.push_sql("INSERT INTO ");
        batch.write_table(out)?;
        if columns > 0 {
            out.push_sql(" ");
            batch.write_column_list(out)?;
        }
        out.push_sql(" SELECT ");
        for i in 0..columns {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql(&format!("fk_safe_v.v{i}"));
        }
        out.push_sql(" FROM (VALUES ");
        for ord in 0..batch.row_count() {
            if ord > 0 {
                out.push_sql(", ");
            }
            out.push_sql("(");
            batch.write_row(ord, out)?;
            if columns > 0 {
                out.push_sql(", ");
            }
            out.push_sql(&ord.to_string());
            out.push_sql(")");
        }
        out.push_sql(") AS fk_safe_v (");
        for i in 0..columns {
            out.push_sql(&format!("v{i}, "));
        }
        out.push_sql("fk_safe_ord) ORDER BY fk_safe_v.fk_safe_ord");
        batch.write_returning(out)
    }

    fn render(fragment: &dyn QueryFragment<Self>) -> QueryResult<String> {
        let mut builder = diesel::pg::PgQueryBuilder::new();
        fragment.to_sql(&mut builder, &Pg)?;
        Ok(diesel::query_builder::QueryBuilder::finish(builder))
    }

    fn push_key<'b>(out: &mut AstPass<'_, 'b, Self>, key: &'b KeyValue) -> QueryResult<()> {
        push_key(out, key)
    }

    #[cfg(feature = "uuid")]
    fn push_uuid<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b uuid::Uuid) -> QueryResult<()> {
        out.push_bind_param::<diesel::sql_types::Uuid, uuid::Uuid>(value)
    }

    text_loading!();
}
