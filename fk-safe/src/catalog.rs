//! The foreign-key catalog: what the live database says about its foreign
//! keys, cached so that explaining a repeated error costs no query.

use std::sync::Arc;

use crate::backend::{all_foreign_keys, fresh_foreign_keys, ExplainFailure, FkConnection};
use crate::cache::CatalogCache;
use crate::error::Error;
use crate::fk::ForeignKey;

/// A cache of the live foreign-key catalog, and the entry point for
/// explaining foreign-key failures with it.
///
/// Create one per database and share it (it is a cheap `Clone`, and `Sync`):
/// the first failure on a constraint reads the catalog once, later failures
/// on it read nothing. Call [`FkCatalog::clear`] after changing the schema.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::{FkCatalog, FkConnection, ViolationKind};
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.enforce_foreign_keys().unwrap();
/// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
/// diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id))")
///     .execute(&mut conn).unwrap();
///
/// let catalog = FkCatalog::new();
/// let result = catalog.transaction(&mut conn, |conn| {
///     diesel::sql_query("INSERT INTO orders (customer_id) VALUES (999)").execute(conn)?;
///     Ok(())
/// });
/// let violation = result.unwrap_err();
/// let violation = violation.as_violation().unwrap();
/// assert_eq!(violation.kind(), ViolationKind::MissingParent);
/// assert_eq!(violation.child_table(), Some("orders"));
/// assert_eq!(violation.parent_table(), Some("customers"));
/// assert_eq!(violation.key_values(), Some(&[Some("999".to_string())][..]));
/// println!("{violation}");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct FkCatalog {
    cache: Arc<CatalogCache>,
}

impl FkCatalog {
    /// An empty catalog; it fills itself as it is used.
    pub fn new() -> Self {
        FkCatalog::default()
    }

    /// Forgets everything cached, for use after the schema changed.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// What this catalog remembers, for the tools that explain with it.
    pub(crate) fn cache(&self) -> &CatalogCache {
        &self.cache
    }

    /// Every foreign key in the database (on PostgreSQL, in every schema the
    /// session can see in the catalog; on SQLite, in `main`), read once and
    /// then served from the cache.
    pub fn foreign_keys<C: FkConnection>(
        &self,
        conn: &mut C,
    ) -> Result<Arc<Vec<ForeignKey>>, Error> {
        all_foreign_keys(conn, &self.cache).map_err(Error::Database)
    }

    /// Every foreign key in the database, read now, not from the cache
    /// (which it then refreshes): the integrity tools check the constraints
    /// as they are inside their own transaction, not as they were when the
    /// cache was filled.
    pub(crate) fn current_foreign_keys<C: FkConnection>(
        &self,
        conn: &mut C,
    ) -> Result<Arc<Vec<ForeignKey>>, Error> {
        fresh_foreign_keys(conn, &self.cache).map_err(Error::Database)
    }

    /// Completes a foreign-key error from the live catalog: columns, parent,
    /// actions, deferrability, key values and (for a translated PostgreSQL
    /// message) the kind. Any other error is returned unchanged.
    ///
    /// On PostgreSQL, call it after the failed transaction was rolled back
    /// (or use [`FkCatalog::transaction`], which does): an aborted transaction
    /// cannot read the catalog, unless the constraint is already cached.
    /// On SQLite, a bare error does not say which table failed; only
    /// [`FkCatalog::transaction`] can find that out.
    pub fn explain<C: FkConnection>(&self, conn: &mut C, error: impl Into<Error>) -> Error {
        match error.into() {
            Error::ForeignKey(mut violation) => {
                C::Backend::explain(conn, &self.cache, &mut violation);
                Error::ForeignKey(violation)
            }
            other => other,
        }
    }

    /// Runs `work` in a transaction (a savepoint when `conn` is already in
    /// one) and, if a foreign key fails, rolls back and explains the failure
    /// with the catalog.
    ///
    /// On SQLite, which never says which constraint failed, the explanation
    /// runs `work` a second time with the constraints deferred, inside a
    /// savepoint that is always rolled back, and asks `PRAGMA
    /// foreign_key_check` which rows broke which key. `work` must therefore
    /// be safe to run twice when it fails: keep side effects outside the
    /// database until it succeeds, and do not consume its input (work that
    /// drained an iterator the first time writes nothing the second).
    /// Successful work runs exactly once. With the constraints deferred, the
    /// replay runs past the statement that failed: when the rows it leaves
    /// behind break several foreign keys, none is named (SQLite does not say
    /// which failed first) and [`FkViolation::note`](crate::FkViolation::note)
    /// says so; a replay that fails itself is told there too, with its error,
    /// and names nothing.
    ///
    /// On SQLite the transaction begins with `BEGIN IMMEDIATE`, taking the
    /// write lock at once (waiting for it as long as the connection's
    /// `PRAGMA busy_timeout` allows): a transaction that reads before it
    /// writes would otherwise fail with "database is locked", without
    /// waiting, once another connection has committed. Inside a caller's
    /// transaction the work runs in a savepoint, under the caller's lock:
    /// begin yours with `SqliteConnection::immediate_transaction` when it
    /// reads before it writes. A failure is explained before the transaction
    /// ends, so the replay sees the data the failing work saw and no other
    /// connection writes in between; a deferred key that fails the `COMMIT`
    /// is checked with the work's rows still in place, without running the
    /// work again.
    pub fn transaction<C, T, F>(&self, conn: &mut C, work: F) -> Result<T, Error>
    where
        C: FkConnection,
        F: FnMut(&mut C) -> Result<T, Error>,
    {
        C::Backend::transaction(conn, &self.cache, work)
    }
}
