//! # fk-safe
//!
//! Foreign-key-safe writes for [Diesel](https://diesel.rs): every
//! foreign-key failure becomes a typed [`FkViolation`] a program can match
//! on, explained from the live catalog: which constraint, which tables and
//! columns, which key, which side, and the likely fix.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::{Error, FkCatalog, FkConnection, ViolationKind};
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! conn.enforce_foreign_keys().unwrap();
//! diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
//! diesel::sql_query(
//!     "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id))",
//! )
//! .execute(&mut conn)
//! .unwrap();
//!
//! let catalog = FkCatalog::new(); // one per database, shared
//! let result = catalog.transaction(&mut conn, |conn| {
//!     diesel::sql_query("INSERT INTO orders (customer_id) VALUES (999)").execute(conn)?;
//!     Ok(())
//! });
//! match result {
//!     Err(Error::ForeignKey(v)) if v.kind() == ViolationKind::MissingParent => {
//!         assert_eq!(v.parent_table(), Some("customers"));
//!         assert_eq!(
//!             v.to_string(),
//!             "orders.customer_id = 999 has no matching row in customers.id. \
//!              Fix: insert the customers row first (in the same transaction), \
//!              or use a key that exists in customers"
//!         );
//!     }
//!     other => panic!("expected a missing parent, got {other:?}"),
//! }
//! # }
//! ```
//!
//! ## Features
//! - `postgres` and `sqlite` (both on by default): the backends. An
//!   application that enables only one compiles without the other's
//!   libraries.
//! - `r2d2`: [`EnforceForeignKeys`], a pool customizer.

#![deny(missing_docs)]

mod backend;
mod catalog;
mod classify;
mod error;
#[cfg(feature = "r2d2")]
mod r2d2;
pub mod sql;
mod violation;

#[doc(hidden)]
pub use backend::Dialect;
pub use backend::FkConnection;
pub use catalog::{FkCatalog, ForeignKey};
pub use error::Error;
#[cfg(feature = "r2d2")]
pub use r2d2::EnforceForeignKeys;
pub use violation::{BackendKind, Deferrability, FkAction, FkViolation, RowOrigin, ViolationKind};
