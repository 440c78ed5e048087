//! Pools: every connection an r2d2 pool hands out enforces foreign keys.

use diesel::r2d2::{CustomizeConnection, Error as PoolError};

use crate::backend::FkConnection;

/// An r2d2 connection customizer that calls
/// [`FkConnection::enforce_foreign_keys`] on every new pooled connection.
/// SQLite needs it (foreign keys are a per-connection setting, off by
/// default outside the bundled build); on PostgreSQL it costs nothing.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::r2d2::{ConnectionManager, Pool};
/// use diesel::SqliteConnection;
///
/// let pool = Pool::builder()
///     .max_size(2)
///     .connection_customizer(Box::new(fk_safe::EnforceForeignKeys))
///     .build(ConnectionManager::<SqliteConnection>::new(":memory:"))
///     .unwrap();
/// let _conn = pool.get().unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EnforceForeignKeys;

impl<C> CustomizeConnection<C, PoolError> for EnforceForeignKeys
where
    C: FkConnection + Send + 'static,
{
    fn on_acquire(&self, conn: &mut C) -> Result<(), PoolError> {
        conn.enforce_foreign_keys().map_err(PoolError::QueryError)
    }
}
