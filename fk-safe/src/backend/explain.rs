//! Explaining a failure: completing a classified violation from the
//! catalog, and running work so that its failure can be explained.

use diesel::connection::LoadConnection;

use super::catalog::ReadCatalog;
use crate::cache::CatalogCache;
use crate::error::Error;
use crate::fk::FkViolation;

/// How a backend explains its foreign-key failures.
pub trait ExplainFailure: ReadCatalog {
    /// Completes `violation` from the catalog. Failures to read the catalog
    /// are recorded in the violation, never raised.
    fn explain<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
        violation: &mut FkViolation,
    );

    /// Runs `work` in a transaction and explains a foreign-key failure.
    fn transaction<C, T, F>(conn: &mut C, cache: &CatalogCache, work: F) -> Result<T, Error>
    where
        C: LoadConnection<Backend = Self>,
        F: FnMut(&mut C) -> Result<T, Error>;
}
