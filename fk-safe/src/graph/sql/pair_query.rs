//! A query of two TEXT columns, whatever builds it.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::QueryResult;

/// A query returning two TEXT columns.
pub struct PairQuery<'a, DB: Backend>(pub(crate) Box<dyn QueryFragment<DB> + 'a>);

impl<DB: Backend> QueryId for PairQuery<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> Query for PairQuery<'_, DB> {
    type SqlType = (Text, Text);
}

impl<DB: Backend, C> diesel::RunQueryDsl<C> for PairQuery<'_, DB> {}

impl<DB: Backend> QueryFragment<DB> for PairQuery<'_, DB> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}
