//! Explaining a SQLite failure, which names nothing: the rows a replay of
//! the work leaves behind ([`replay`](super::replay)), and what they hold
//! ([`inspect`](super::inspect)).

use diesel::connection::LoadConnection;
use diesel::sqlite::Sqlite;

use super::inspect::explain_restrict;
use super::{declare_main_schema, replay};
use crate::backend::ExplainFailure;
use crate::cache::CatalogCache;
use crate::error::Error;
use crate::fk::{FkViolation, ViolationKind};

impl ExplainFailure for Sqlite {
    fn explain<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
        violation: &mut FkViolation,
    ) {
        if violation.child_table().is_none() && violation.kind() == ViolationKind::StillReferenced {
            explain_restrict(conn, cache, violation);
        }
        declare_main_schema(violation);
    }

    fn transaction<C, T, F>(conn: &mut C, cache: &CatalogCache, work: F) -> Result<T, Error>
    where
        C: LoadConnection<Backend = Self>,
        F: FnMut(&mut C) -> Result<T, Error>,
    {
        replay::run(conn, cache, work)
    }
}
