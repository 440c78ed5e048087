//! Running work with foreign keys deferred: which keys can be chosen, how
//! they are deferred inside a transaction, and how they are checked again
//! before it commits, so that a failure is explained instead of surfacing as
//! a bare error from `COMMIT`.

use diesel::connection::LoadConnection;
use diesel::QueryResult;

use super::explain::ExplainFailure;
use crate::cache::CatalogCache;
use crate::fk::{FkViolation, ForeignKey};

/// The foreign keys a deferral applies to, once chosen. Not public API.
#[derive(Debug, Clone, Copy)]
pub enum Chosen<'a> {
    /// Every foreign key the backend can defer.
    All,
    /// These, each of them deferrable.
    These(&'a [ForeignKey]),
}

/// Why the check before commit failed. Not public API.
#[derive(Debug)]
pub enum CheckFailure {
    /// A deferred key is broken: the first broken row, and how many rows
    /// break the chosen keys when the backend can count them.
    Broken {
        /// The first broken row, explained as far as the backend can
        /// inside the transaction.
        violation: Box<FkViolation>,
        /// How many rows break the chosen keys (`None`: not counted).
        rows: Option<u64>,
    },
    /// The check itself failed.
    Database(diesel::result::Error),
    /// The work undid the deferral itself (SQLite: `PRAGMA
    /// defer_foreign_keys = OFF`, which makes SQLite forget the violations
    /// it counted), so the check cannot vouch for what it wrote.
    DeferralUndone(String),
}

/// How a backend defers foreign keys for the length of some work and checks
/// them again before the end of its transaction.
pub trait DeferConstraints: ExplainFailure {
    /// Whether a caller can choose foreign keys by constraint name (SQLite
    /// keeps no names, and defers every key or none).
    const NAMES_CONSTRAINTS: bool;

    /// What [`defer`](Self::defer) changed, for [`restore`](Self::restore)
    /// and [`check`](Self::check).
    type Deferred;

    /// The foreign keys a deferral is chosen from and checked against, read
    /// now (never from a cache: a key made deferrable, or added, since an
    /// earlier read must count). Empty where keys have neither names nor a
    /// recorded deferrability (SQLite), since nothing can be chosen or
    /// refused by them there.
    fn deferral_catalog<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Vec<ForeignKey>>;

    /// Whether the connection enforces foreign keys at all (SQLite's
    /// `PRAGMA foreign_keys`; always on PostgreSQL).
    fn enforces_foreign_keys<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<bool>;

    /// Opens the transaction the work runs in (a savepoint when `conn` is
    /// already in one), counted in Diesel's transaction manager so that its
    /// `commit_transaction` and `rollback_transaction` end it.
    fn begin<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<()>;

    /// Defers `chosen`, inside the transaction [`begin`](Self::begin) opened.
    fn defer<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        chosen: Chosen<'_>,
    ) -> QueryResult<Self::Deferred>;

    /// Checks `chosen` against the rows as the work left them, inside the
    /// transaction, before it commits.
    fn check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
        chosen: Chosen<'_>,
        deferred: &Self::Deferred,
    ) -> Result<(), CheckFailure>;

    /// Constraints other than foreign keys that share a chosen key's name
    /// in its schema and are not deferrable (PostgreSQL's `SET CONSTRAINTS
    /// "schema"."name"` acts on every constraint of that name there, and
    /// fails on such one), described; none where keys are not named.
    fn name_clashes<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        chosen: &[ForeignKey],
    ) -> QueryResult<Vec<String>>;

    /// Undoes what [`defer`](Self::defer) changed that the end of the
    /// transaction (or savepoint) would not undo by itself. Called before the
    /// transaction ends, whatever the outcome.
    fn restore<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        deferred: Self::Deferred,
    ) -> QueryResult<()>;
}
