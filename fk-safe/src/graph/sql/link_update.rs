//! The `UPDATE` that writes the links closing cycles, many rows per
//! statement.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::QueryResult;

use crate::backend::FkBackend;
use crate::graph::model::KeyValue;
use crate::graph::sql::lookup;

/// The alias of the list of links an update joins.
pub(crate) const LINKS: &str = "fk_safe links";
/// The alias of the updated table, so that its key column cannot be
/// confused with a column of the list.
pub(crate) const LINKED_ROW: &str = "fk_safe row";

/// Links written after the insert, several rows per statement:
///
/// ```sql
/// UPDATE "t" AS "fk_safe row" SET "fk_a" = "fk_safe links"."column2", "fk_b" = "fk_safe links"."column3"
///   FROM (VALUES ($1, $2, $3), ($4, $5, $6)) AS "fk_safe links"
///  WHERE "fk_safe row"."id" = "fk_safe links"."column1"
/// ```
///
/// PostgreSQL and SQLite (3.33 and later) both read this form. The list is
/// a subquery with an alias, not a `WITH`, so that it cannot hide a user's
/// table of the same name; its columns are the names both give a `VALUES`
/// list, always qualified by its alias. A composite foreign key takes one
/// column of the list per part.
pub struct LinkUpdate<'a, DB: Backend> {
    pub(crate) write_table: fn(&mut AstPass<'_, '_, DB>) -> QueryResult<()>,
    /// The foreign-key columns, in the parent key's order.
    pub(crate) columns: &'static [&'static str],
    pub(crate) key_column: &'static str,
    /// (child key, parent key) for each row to link.
    pub(crate) links: &'a [(KeyValue, KeyValue)],
}

impl<DB: Backend> QueryId for LinkUpdate<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend, C> diesel::RunQueryDsl<C> for LinkUpdate<'_, DB> {}

impl<DB: FkBackend> QueryFragment<DB> for LinkUpdate<'_, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let out = &mut out;
        if self.columns.is_empty() || self.links.is_empty() {
            return Err(diesel::result::Error::QueryBuilderError(
                "fk-safe: a link update without columns or rows".into(),
            ));
        }
        out.push_sql("UPDATE ");
        (self.write_table)(out)?;
        out.push_sql(" AS ");
        out.push_identifier(LINKED_ROW)?;
        out.push_sql(" SET ");
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column)?;
            out.push_sql(" = ");
            lookup::push_qualified(out, LINKS, &lookup::values_column(i + 1))?;
        }
        out.push_sql(" FROM (VALUES ");
        for (n, (child_key, parent_key)) in self.links.iter().enumerate() {
            out.push_sql(if n == 0 { "(" } else { ", (" });
            DB::push_key(out, child_key)?;
            for (i, column) in self.columns.iter().enumerate() {
                out.push_sql(", ");
                let part = parent_key.column(i).ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("fk-safe: the key {parent_key} has no part for column {column}")
                            .into(),
                    )
                })?;
                DB::push_key(out, part)?;
            }
            out.push_sql(")");
        }
        out.push_sql(") AS ");
        out.push_identifier(LINKS)?;
        out.push_sql(" WHERE ");
        lookup::push_qualified(out, LINKED_ROW, self.key_column)?;
        out.push_sql(" = ");
        lookup::push_qualified(out, LINKS, &lookup::values_column(0))
    }
}
