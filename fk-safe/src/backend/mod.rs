//! The backends. Each concern a database answers differently is one small
//! trait (reading the catalog, explaining a failure, writing inserts,
//! knowing how keys follow rows, reading rows for the integrity checks,
//! deferring keys and checking them before commit),
//! each backend implements them in its own folder, and [`FkBackend`] is
//! all of them together: the one bound shared code names. No other module
//! branches on the database.

pub(crate) mod audit;
pub(crate) mod bulk_load;
mod catalog;
pub(crate) mod defer;
mod explain;
pub(crate) mod insert;
pub(crate) mod integrity;
pub mod key_order;
#[cfg(feature = "postgres")]
mod postgres;
mod sealed;
#[cfg(feature = "sqlite")]
mod sqlite;

use diesel::connection::LoadConnection;
use diesel::QueryResult;

pub use bulk_load::SuspendChecks;
pub use catalog::ReadCatalog;
pub(crate) use catalog::{all_foreign_keys, fresh_foreign_keys};
pub use defer::DeferConstraints;
pub use explain::ExplainFailure;
pub use insert::{InsertRows, InsertSql};
pub use integrity::ReadRows;
pub use key_order::ReadKeyOrder;

/// A Diesel backend fk-safe supports: [`diesel::pg::Pg`] (feature
/// `postgres`) and [`diesel::sqlite::Sqlite`] (feature `sqlite`).
///
/// Name it in the bounds of code that is generic over the database, beside
/// [`WriteRow`](crate::graph::WriteRow) for the models it writes (and
/// [`WriteNaturalKey`](crate::graph::WriteNaturalKey) for those it finds
/// with [`Graph::lookup`](crate::graph::Graph::lookup)). `C: FkConnection`
/// implies it for `C::Backend`. Its supertraits (reading the catalog,
/// explaining failures, writing inserts, knowing key order, reading rows
/// for the integrity checks, deferring keys) are fk-safe's
/// own and not nameable; the trait is sealed, so it cannot be implemented
/// outside fk-safe.
///
/// ```
/// use diesel::connection::LoadConnection;
/// use fk_safe::graph::{insert_graph, Graph, Ids, WriteRow};
/// use fk_safe::{Error, FkBackend};
///
/// /// Writes a graph of `M` rows on any supported database.
/// fn write_rows<C, M>(conn: &mut C, rows: Vec<M>) -> Result<Ids, Error>
/// where
///     C: LoadConnection,
///     C::Backend: FkBackend + 'static,
///     M: WriteRow<C::Backend>,
/// {
///     let mut graph = Graph::new();
///     for row in rows {
///         graph.add(row);
///     }
///     insert_graph(conn, &graph)
/// }
/// ```
pub trait FkBackend:
    diesel::backend::Backend
    + sealed::Sealed
    + ReadCatalog
    + ExplainFailure
    + InsertSql
    + ReadKeyOrder
    + ReadRows
    + SuspendChecks
    + DeferConstraints
    + audit::ReadAudit
    + Sized
{
    /// Which database this is.
    const DATABASE: crate::fk::Database;

    /// How many rows of `columns` bind parameters one statement may carry:
    /// the backend's bind-parameter limit divided by the row width, and at
    /// least one.
    fn rows_per_statement(columns: usize) -> usize;

    /// How many rows of `values` values one `VALUES` list (a list fk-safe
    /// joins against: look-ups, links written after the insert) may hold:
    /// within the bind-parameter limit, and wherever the backend reads such
    /// a list slowly past some size, below that size.
    fn rows_per_values_list(values: usize) -> usize;
}

/// A Diesel connection fk-safe can work with: `PgConnection`,
/// `SqliteConnection`, and r2d2's `PooledConnection` of either.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::FkConnection;
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.enforce_foreign_keys().unwrap();
/// # }
/// ```
pub trait FkConnection: LoadConnection<Backend: FkBackend> + Sized {
    /// Makes the database enforce foreign keys on this connection: on SQLite
    /// `PRAGMA foreign_keys = ON` (checked to have taken effect: SQLite
    /// ignores it inside a transaction), on PostgreSQL nothing (always on).
    /// For pools, use [`EnforceForeignKeys`](crate::EnforceForeignKeys).
    fn enforce_foreign_keys(&mut self) -> QueryResult<()>;
}

impl<C> FkConnection for C
where
    C: LoadConnection,
    C::Backend: FkBackend,
{
    fn enforce_foreign_keys(&mut self) -> QueryResult<()> {
        <C::Backend as ReadCatalog>::enforce_foreign_keys(self)
    }
}
