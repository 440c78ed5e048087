//! Reading the catalog: which foreign keys the live database declares.

use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::QueryResult;

use crate::cache::CatalogCache;
use crate::fk::ForeignKey;

/// How a backend reads its catalog of foreign keys.
pub trait ReadCatalog: diesel::backend::Backend + Sized {
    /// What this backend remembers between calls, in a catalog's
    /// [`CatalogCache`] (only this backend reads it).
    type Cache: Default + Send + 'static;

    /// Makes the database enforce foreign keys on this connection.
    fn enforce_foreign_keys<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<()>;

    /// Lists every foreign key of the database.
    fn list_foreign_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
    ) -> QueryResult<Vec<ForeignKey>>;

    /// Every table of the database a program writes rows to, as (schema,
    /// table), sorted, read now: on PostgreSQL the ordinary and partitioned
    /// tables outside the system schemas (never a partition, whose rows go
    /// through its parent), on SQLite the tables of `main` but SQLite's own.
    fn list_tables<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Vec<(String, String)>>;

    /// The foreign keys declared on the tables named `table` (unquoted; on
    /// PostgreSQL in every schema that has one), read now, never from the
    /// cache: a graph insert checks its links against them in the
    /// transaction that writes, where a schema change since an earlier call
    /// would make a remembered answer wrong.
    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
    ) -> QueryResult<Vec<ForeignKey>>;
}

/// Every foreign key of the database, read now whatever the cache holds,
/// and remembered: for the integrity tools, which must see the constraints
/// as they are in their own transaction.
pub(crate) fn fresh_foreign_keys<DB, C>(
    conn: &mut C,
    cache: &CatalogCache,
) -> QueryResult<Arc<Vec<ForeignKey>>>
where
    DB: ReadCatalog,
    C: LoadConnection<Backend = DB>,
{
    let listed = Arc::new(DB::list_foreign_keys(conn, cache)?);
    cache.remember_all::<DB::Cache>(Arc::clone(&listed));
    Ok(listed)
}

/// Every foreign key of the database, listed once per catalog.
pub(crate) fn all_foreign_keys<DB, C>(
    conn: &mut C,
    cache: &CatalogCache,
) -> QueryResult<Arc<Vec<ForeignKey>>>
where
    DB: ReadCatalog,
    C: LoadConnection<Backend = DB>,
{
    if let Some(all) = cache.all::<DB::Cache>() {
        return Ok(all);
    }
    let listed = Arc::new(DB::list_foreign_keys(conn, cache)?);
    cache.remember_all::<DB::Cache>(Arc::clone(&listed));
    Ok(listed)
}
