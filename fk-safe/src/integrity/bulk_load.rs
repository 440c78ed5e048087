//! Bulk loads with the foreign-key checks off, which always end with an
//! orphan check before the transaction commits.
//!
//! [`load_unchecked`] runs your work in a transaction (a savepoint inside
//! yours) with the checks turned off by the first [`Mechanism`] your
//! privileges allow, turns them back on, and then checks every foreign key
//! that went unchecked for orphans with the [orphan report](mod@super::orphans)
//! (never with `VALIDATE CONSTRAINT` alone, which misses orphans written
//! under `session_replication_role = replica` and stops at the first). By
//! default any orphan rolls the whole load back and the error lists every
//! one per foreign key; [`BulkLoadOptions::keep_orphans`] keeps the rows and
//! returns the report instead.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::connection::SimpleConnection;
//! use diesel::prelude::*;
//! use fk_safe::integrity::bulk_load::{load_unchecked, BulkLoadError, BulkLoadOptions, Mechanism};
//! use fk_safe::FkCatalog;
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! conn.batch_execute(
//!     "PRAGMA foreign_keys = ON;
//!      CREATE TABLE authors (id INTEGER PRIMARY KEY);
//!      CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors (id));",
//! )
//! .unwrap();
//! let catalog = FkCatalog::new();
//!
//! // Children before their parents: fine, as long as the parents come.
//! let loaded = load_unchecked(&mut conn, &catalog, &BulkLoadOptions::new(), |conn| {
//!     conn.batch_execute("INSERT INTO books VALUES (1, 7); INSERT INTO authors VALUES (7)")
//! })
//! .unwrap();
//! assert_eq!(loaded.mechanism, Mechanism::DeferredChecks);
//! assert!(loaded.report.is_clean());
//!
//! // A parent that never comes: the load is rolled back, the orphan named.
//! let failed = load_unchecked(&mut conn, &catalog, &BulkLoadOptions::new(), |conn| {
//!     conn.batch_execute("INSERT INTO books VALUES (2, 8)")
//! });
//! match failed {
//!     Err(BulkLoadError::Orphans { report, .. }) => {
//!         assert_eq!(report.total_orphans(), 1);
//!         assert!(report.to_string().contains("main.books (author_id) -> main.authors (id): 1 orphan; e.g. (8)"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! let books: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
//!     "(SELECT COUNT(*) FROM books)",
//! ))
//! .get_result(&mut conn)
//! .unwrap();
//! assert_eq!(books, 1);
//! # }
//! ```
//!
//! # Which mechanism, and what it costs
//!
//! | database | who | mechanism | what else it does |
//! |---|---|---|---|
//! | PostgreSQL, READ COMMITTED, orphans not kept | superuser, `rds_superuser`, or granted `SET ON PARAMETER session_replication_role` (15+) | [`Mechanism::ReplicationRole`] | also turns off the user's own triggers and rules, on every table; every foreign key whose tables the work wrote is checked, its parent table locked `SHARE` from the check to the end |
//! | PostgreSQL | owner of the chosen foreign keys' tables (also a superuser under REPEATABLE READ or SERIALIZABLE, or keeping orphans) | [`Mechanism::RecreatedConstraints`] | `ACCESS EXCLUSIVE` locks on the child and parent tables until the end; kept orphans leave the constraint `NOT VALID` |
//! | PostgreSQL | anyone else | refused with [`BulkLoadError::NotPermitted`] before any work | |
//! | SQLite | `PRAGMA foreign_keys = ON` | [`Mechanism::DeferredChecks`] | orphans can never be kept |
//! | SQLite | `PRAGMA foreign_keys = OFF` | [`Mechanism::ForeignKeysOff`] | |
//!
//! Afterwards the foreign keys are read again, as the work left them (it
//! may have added some, renamed or detached tables), without the catalog's
//! cache. A work that ends the load's transaction itself (`COMMIT`) is
//! told apart on PostgreSQL ([`BulkLoadError::TransactionEnded`]).
//!
//! [`BulkLoad::effects`] says, in words, what the mechanism used switched
//! off or locked. Each lasts only as long as the transaction: an error, a
//! panic in the work (rolled back, then resumed) or a lost connection
//! restores every check. A savepoint inside your transaction is undone as
//! the transaction would be; replica mode and SQLite's deferral are then
//! set back to what they were.

use std::panic::{self, AssertUnwindSafe};

use diesel::result::Error as DieselError;

pub use crate::backend::bulk_load::Mechanism;
use crate::backend::bulk_load::{SuspendChecks, SuspendFailed};
use crate::backend::integrity::{CheckFailed, ReadRows};
use crate::backend::FkConnection;
use crate::catalog::FkCatalog;
use crate::fk::ForeignKey;
use crate::integrity::orphans::{
    nothing_unselected, orphans_matched, unchecked_reason, OrphanError, OrphanOptions,
    OrphanReport, UncheckedForeignKey,
};

/// Which foreign keys a bulk load turns off, and what happens to orphans.
///
/// By default: every foreign key, the first mechanism the caller's
/// privileges allow, any orphan rolls the load back, ten orphans of each
/// foreign key shown.
///
/// ```
/// use fk_safe::integrity::bulk_load::{BulkLoadOptions, Mechanism};
///
/// let options = BulkLoadOptions::new()
///     .schema("shop")
///     .table("orders")
///     .mechanism(Mechanism::RecreatedConstraints)
///     .keep_orphans();
/// assert!(options.keep_orphans);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkLoadOptions {
    /// Only the foreign keys declared on tables of these schemas (`main`
    /// on SQLite); all when empty.
    pub schemas: Vec<String>,
    /// Only the foreign keys declared on these (child) tables; all when
    /// empty. Replica mode and SQLite turn off every foreign key whatever
    /// is named, and then check every one.
    pub tables: Vec<String>,
    /// Keep the rows when orphans are found, and return them in
    /// [`BulkLoad::report`], instead of rolling the load back.
    pub keep_orphans: bool,
    /// How many orphans of each foreign key are shown.
    pub sample_size: usize,
    /// The mechanism to use; the first one allowed when `None`.
    pub mechanism: Option<Mechanism>,
}

impl Default for BulkLoadOptions {
    fn default() -> Self {
        BulkLoadOptions {
            schemas: Vec::new(),
            tables: Vec::new(),
            keep_orphans: false,
            sample_size: 10,
            mechanism: None,
        }
    }
}

impl BulkLoadOptions {
    /// Every foreign key; orphans roll the load back.
    pub fn new() -> Self {
        BulkLoadOptions::default()
    }

    /// Also turns off the foreign keys of tables in `schema`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schemas.push(schema.into());
        self
    }

    /// Also turns off the foreign keys declared on `table`.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.tables.push(table.into());
        self
    }

    /// Keeps orphans (and returns them in the report) instead of rolling
    /// the load back.
    pub fn keep_orphans(mut self) -> Self {
        self.keep_orphans = true;
        self
    }

    /// Shows at most `sample_size` orphans of each foreign key.
    pub fn sample_size(mut self, sample_size: usize) -> Self {
        self.sample_size = sample_size;
        self
    }

    /// Uses `mechanism`, or fails if it cannot be used.
    pub fn mechanism(mut self, mechanism: Mechanism) -> Self {
        self.mechanism = Some(mechanism);
        self
    }

    fn selection(&self) -> OrphanOptions {
        let mut options = OrphanOptions::new().sample_size(self.sample_size);
        options.schemas.clone_from(&self.schemas);
        options.tables.clone_from(&self.tables);
        options
    }
}

/// A bulk load that committed (or, inside your transaction, was released).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkLoad<T> {
    /// What the work returned.
    pub value: T,
    /// How the checks were turned off.
    pub mechanism: Mechanism,
    /// What else the mechanism turned off or locked, one sentence each.
    pub effects: Vec<String>,
    /// The orphan check of every foreign key that went unchecked: clean,
    /// unless [`BulkLoadOptions::keep_orphans`] kept orphans.
    pub report: OrphanReport,
}

/// Why a bulk load did not commit. In every case it was rolled back, and
/// every check is on again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkLoadError<E> {
    /// The work failed.
    #[error("the bulk load's work failed; it was rolled back")]
    Work(#[source] E),
    /// The load left orphans (or foreign keys that could not be checked),
    /// listed in `report`; it was rolled back.
    #[error("the bulk load was rolled back: it left orphans\n{report}")]
    Orphans {
        /// Every orphan, per foreign key.
        report: OrphanReport,
        /// How the checks had been turned off.
        mechanism: Mechanism,
    },
    /// The caller has none of the privileges a mechanism needs; nothing
    /// was run.
    #[error("cannot turn the foreign-key checks off: {missing}")]
    NotPermitted {
        /// The privileges that are missing, in words.
        missing: String,
    },
    /// [`BulkLoadOptions::keep_orphans`] was asked where orphans cannot be
    /// committed; nothing was run.
    #[error("cannot keep orphans: {0}")]
    CannotKeep(String),
    /// The [`Mechanism`] asked for cannot be used here; nothing was run.
    #[error("cannot use that mechanism: {0}")]
    Unavailable(String),
    /// The foreign keys could not be read or chosen; nothing was run.
    #[error(transparent)]
    Selection(OrphanError),
    /// The work left orphans where the orphan report does not look (on
    /// SQLite, in the TEMP schema or an attached database); it was rolled
    /// back.
    #[error("the bulk load was rolled back: {0}")]
    UnreportedOrphans(String),
    /// The work ended the load's transaction itself (a `COMMIT` or
    /// `ROLLBACK` of its own): what it wrote before that may be committed
    /// unchecked, and what followed was not checked either. Run the
    /// orphan report on the tables it wrote.
    #[error(
        "the bulk load's work ended the load's transaction itself (COMMIT or ROLLBACK): rows it \
         wrote before may be committed without a check; run the orphan report on its tables"
    )]
    TransactionEnded,
    /// The database failed: beginning or ending the transaction, turning
    /// the checks off or back on.
    #[error("the bulk load failed in the database: {0}")]
    Database(#[source] DieselError),
}

/// Why the load's transaction ended early.
enum Stop<E> {
    Load(BulkLoadError<E>),
    Panic(Box<dyn std::any::Any + Send>),
    Transaction(DieselError),
}

impl<E> From<DieselError> for Stop<E> {
    fn from(error: DieselError) -> Self {
        Stop::Transaction(error)
    }
}

/// Runs `work` with the foreign-key checks off, then checks every foreign
/// key that went unchecked for orphans before the transaction ends; see
/// the [module documentation](self).
pub fn load_unchecked<C, T, E, F>(
    conn: &mut C,
    catalog: &FkCatalog,
    options: &BulkLoadOptions,
    work: F,
) -> Result<BulkLoad<T>, BulkLoadError<E>>
where
    C: FkConnection,
    F: FnOnce(&mut C) -> Result<T, E>,
{
    let selection = options.selection();
    let mut suspended = None;
    let outcome = conn.transaction(|conn| {
        // Read in the load's transaction, not from the cache: the keys
        // turned off are the database's as they are now.
        let all = catalog
            .current_foreign_keys(conn)
            .map_err(|e| Stop::Load(BulkLoadError::Selection(OrphanError::Catalog(e))))?;
        let chosen: Vec<ForeignKey> = all
            .iter()
            .filter(|fk| selection.selects(fk))
            .cloned()
            .collect();
        {
            let chosen: Vec<&ForeignKey> = chosen.iter().collect();
            nothing_unselected(&selection, &chosen)
                .map_err(|e| Stop::Load(BulkLoadError::Selection(e)))?;
        }
        let suspension =
            C::Backend::suspend(conn, &all, &chosen, options.mechanism, options.keep_orphans)
                .map_err(|failure| Stop::Load(refusal(failure)))?;
        let suspension = &*suspended.insert(suspension);
        let before = C::Backend::transaction_marker(conn)?;
        let value = match panic::catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => return Err(Stop::Load(BulkLoadError::Work(error))),
            Err(payload) => return Err(Stop::Panic(payload)),
        };
        if C::Backend::transaction_marker(conn)? != before {
            return Err(Stop::Load(BulkLoadError::TransactionEnded));
        }
        // The foreign keys as the work left them: it may have added some,
        // renamed or detached tables.
        let now = catalog
            .current_foreign_keys(conn)
            .map_err(|e| Stop::Load(BulkLoadError::Selection(OrphanError::Catalog(e))))?;
        let unchecked = C::Backend::to_check(conn, suspension, &now)
            .map_err(|failure| Stop::Load(refusal(failure)))?;
        let report = check(conn, &unchecked, options.sample_size)?;
        // A foreign key that could not be checked is never kept over.
        let keep = options.keep_orphans && report.unchecked.is_empty() && !report.is_clean();
        if !report.is_clean() && !keep {
            return Err(Stop::Load(BulkLoadError::Orphans {
                report,
                mechanism: suspension.mechanism,
            }));
        }
        let kept: Vec<ForeignKey> = if keep {
            report.broken().map(|c| c.foreign_key.clone()).collect()
        } else {
            Vec::new()
        };
        let mut effects = suspension.effects.clone();
        effects.extend(C::Backend::resume(conn, suspension, &kept)?);
        Ok(BulkLoad {
            value,
            mechanism: suspension.mechanism,
            effects,
            report,
        })
    });
    let restored = match &suspended {
        Some(suspension) => C::Backend::after_transaction(conn, suspension),
        None => Ok(()),
    };
    let loaded = match outcome {
        Ok(loaded) => loaded,
        Err(Stop::Load(error)) => return Err(error),
        Err(Stop::Transaction(error)) => return Err(BulkLoadError::Database(error)),
        Err(Stop::Panic(payload)) => panic::resume_unwind(payload),
    };
    restored.map_err(BulkLoadError::Database)?;
    Ok(loaded)
}

/// The orphans of each foreign key that went unchecked, each in a
/// savepoint; one that cannot be checked is listed as such.
fn check<C: FkConnection, E>(
    conn: &mut C,
    unchecked: &[(ForeignKey, Vec<String>)],
    sample_size: usize,
) -> Result<OrphanReport, Stop<E>> {
    let changed = C::Backend::begin_reading(conn, false)?;
    let mut report = OrphanReport {
        constraints: Vec::new(),
        unchecked: Vec::new(),
    };
    for (fk, matches) in unchecked {
        let checked = conn.transaction(|conn| {
            orphans_matched(conn, fk, matches, sample_size).map_err(Checked::Failed)
        });
        match checked {
            Ok(found) => report.constraints.push(found),
            Err(Checked::Failed(error)) => match unchecked_reason(&error) {
                Some(reason) => report.unchecked.push(UncheckedForeignKey {
                    foreign_key: fk.clone(),
                    reason,
                }),
                None => return Err(Stop::Load(BulkLoadError::Selection(error))),
            },
            Err(Checked::Transaction(error)) => return Err(Stop::Transaction(error)),
        }
    }
    C::Backend::end_reading(conn, changed)?;
    Ok(report)
}

enum Checked {
    Failed(OrphanError),
    Transaction(DieselError),
}

impl From<DieselError> for Checked {
    fn from(error: DieselError) -> Self {
        Checked::Transaction(error)
    }
}

fn refusal<E>(failure: SuspendFailed) -> BulkLoadError<E> {
    match failure {
        SuspendFailed::NotPermitted(missing) => BulkLoadError::NotPermitted { missing },
        SuspendFailed::CannotKeep(why) => BulkLoadError::CannotKeep(why),
        SuspendFailed::Unavailable(why) => BulkLoadError::Unavailable(why),
        SuspendFailed::Unreported(what) => BulkLoadError::UnreportedOrphans(what),
        SuspendFailed::Check(CheckFailed::Query(error)) => BulkLoadError::Database(error),
        SuspendFailed::Check(CheckFailed::Refused(reason)) => {
            BulkLoadError::Selection(OrphanError::Refused {
                constraint: "a foreign key to load unchecked".to_string(),
                reason,
            })
        }
    }
}
