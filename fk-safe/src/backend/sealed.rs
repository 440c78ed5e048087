//! Keeps [`FkBackend`](super::FkBackend) fk-safe's own: only the backends
//! fk-safe implements can name this trait.

/// Implemented for the backends fk-safe supports, and nothing else.
pub trait Sealed {}

#[cfg(feature = "postgres")]
impl Sealed for diesel::pg::Pg {}

#[cfg(feature = "sqlite")]
impl Sealed for diesel::sqlite::Sqlite {}
