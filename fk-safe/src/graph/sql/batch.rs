//! One multi-row `INSERT .. RETURNING key` of one model: the rows, the
//! columns they write, and the pieces a backend writes its statement around.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::QueryResult;

use crate::backend::{FkBackend, InsertRows};
use crate::graph::model::{LinkedKey, WriteRow};
use crate::graph::sql::lookup;

/// A row, whatever its model, as a batch writes it.
pub(crate) trait DynRow<DB: Backend>: Sync {
    fn write_values<'b>(
        &'b self,
        links: &'b [LinkedKey],
        omitted: u64,
        out: &mut AstPass<'_, 'b, DB>,
    ) -> QueryResult<()>;
}

impl<M: WriteRow<DB>, DB: Backend> DynRow<DB> for M {
    fn write_values<'b>(
        &'b self,
        links: &'b [LinkedKey],
        omitted: u64,
        out: &mut AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        WriteRow::write_values(self, links, omitted, out)
    }
}

/// A model's table, as a fragment to render.
pub(crate) struct TableOf<M>(pub(crate) std::marker::PhantomData<fn() -> M>);

impl<M: WriteRow<DB>, DB: Backend> QueryFragment<DB> for TableOf<M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        M::write_table(&mut out)
    }
}

/// One multi-row `INSERT ... RETURNING key` of one model.
pub struct Batch<'a, DB: Backend> {
    pub(crate) write_table: fn(&mut AstPass<'_, '_, DB>) -> QueryResult<()>,
    pub(crate) columns: &'static [&'static str],
    /// The key columns (several for a composite key), returned as one text.
    pub(crate) key_columns: &'static [&'static str],
    pub(crate) rows: Vec<(&'a dyn DynRow<DB>, &'a [LinkedKey])>,
    /// For get-or-insert rows: the natural-key columns of the `ON CONFLICT
    /// (..) DO NOTHING` arbiter.
    pub(crate) skip_existing: Option<&'static [&'static str]>,
    pub(crate) natural_key: &'static [&'static str],
    /// Columns every row of the batch leaves to their DEFAULT (bit `i` for
    /// `columns[i]`): they are not in the column list.
    pub(crate) omitted: u64,
}

impl<'a, DB: Backend> Batch<'a, DB> {
    pub(crate) fn new<M: WriteRow<DB>>(
        all_rows: &'a [M],
        rows: &'a [usize],
        links: &'a [Vec<LinkedKey>],
        omitted: u64,
    ) -> Self {
        Batch {
            write_table: M::write_table,
            omitted,
            skip_existing: None,
            natural_key: M::NATURAL_KEY,
            columns: M::COLUMNS,
            key_columns: M::KEY_COLUMNS,
            rows: rows
                .iter()
                .zip(links)
                .filter_map(|(&row, links)| {
                    all_rows
                        .get(row)
                        .map(|r| (r as &dyn DynRow<DB>, links.as_slice()))
                })
                .collect(),
        }
    }

    /// The columns the batch writes: all but the omitted ones.
    pub(crate) fn written_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|&(i, _)| !is_omitted(self.omitted, i))
            .map(|(_, column)| *column)
    }
}

/// The pieces of the statement; the backend writes the SQL around them.
impl<DB: FkBackend> InsertRows<DB> for Batch<'_, DB> {
    fn write_table(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()> {
        (self.write_table)(out)
    }

    fn column_count(&self) -> usize {
        self.written_columns().count()
    }

    fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// Writes what ends every backend's batch: ` ON CONFLICT (natural key)
    /// DO NOTHING` for get-or-insert rows, then ` RETURNING` the key as text.
    fn write_returning(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()> {
        if let Some(natural_key) = self.skip_existing {
            out.push_sql(" ON CONFLICT (");
            for (i, column) in natural_key.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                out.push_identifier(column)?;
            }
            out.push_sql(") DO NOTHING");
        }
        out.push_sql(" RETURNING ");
        lookup::push_key_text(out, None, self.key_columns)
    }

    /// Writes `(col, col, ...)`, without the omitted columns.
    fn write_column_list(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()> {
        out.push_sql("(");
        for (i, column) in self.written_columns().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column)?;
        }
        out.push_sql(")");
        Ok(())
    }

    /// Writes one row's values, without the omitted columns.
    fn write_row<'b>(&'b self, row: usize, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        match self.rows.get(row) {
            Some((values, links)) => values.write_values(links, self.omitted, out),
            None => Err(diesel::result::Error::QueryBuilderError(
                format!("a batch has no row #{row}").into(),
            )),
        }
    }
}

impl<DB: Backend> QueryId for Batch<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> Query for Batch<'_, DB> {
    type SqlType = Text;
}

impl<DB: Backend, C> diesel::RunQueryDsl<C> for Batch<'_, DB> {}

impl<DB: FkBackend> QueryFragment<DB> for Batch<'_, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        DB::write_multi_row_insert(self, &mut out)
    }
}

/// Whether bit `column` is set in a set of omitted columns.
pub(crate) fn is_omitted(omitted: u64, column: usize) -> bool {
    column < 64 && omitted & (1u64 << column) != 0
}
