//! The demo shop used by fk-safe's integration tests and examples: the
//! Diesel schema of `migrations/`, the embedded migrations, and connection
//! helpers that migrate and enforce foreign keys. Not published.

pub mod models;
pub mod schema;

use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

/// The PostgreSQL flavour of `migrations/`.
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres");

/// The SQLite flavour of `migrations/`.
#[cfg(feature = "sqlite")]
pub const SQLITE_MIGRATIONS: EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite");

/// Applies every pending migration of `source`.
pub fn migrate<C, S>(
    conn: &mut C,
    source: S,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
    S: MigrationSource<C::Backend>,
{
    conn.run_pending_migrations(source)?;
    Ok(())
}

/// The README's Rust snippets, compiled as doctests so that they cannot drift
/// from the API.
#[cfg(all(doctest, feature = "postgres"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
