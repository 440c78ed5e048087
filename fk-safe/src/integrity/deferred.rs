//! Running work with foreign keys deferred to the end of its transaction,
//! and checked before that transaction commits: [`with_deferred`].
//!
//! Deferring lets a load write rows in any order (a cycle of tables that
//! reference each other, children before parents) while the keys still
//! hold at the end. fk-safe adds what a bare `SET CONSTRAINTS .. DEFERRED`
//! does not give:
//!
//! - **Nothing is ignored.** A chosen key that cannot be deferred is refused
//!   before any work (after reading the catalog, before any statement that
//!   writes, opens a transaction or changes the session), with the
//!   statement that makes it deferrable
//!   ([`DeferredError::NotDeferrable`], [`deferrable_statements`]); a name
//!   that matches no constraint, or constraints in several schemas, is an
//!   error, never a guess; naming a key on SQLite, which keeps no names, is
//!   an error too.
//! - **A failure is explained.** Before the transaction commits, the keys
//!   are checked inside it (PostgreSQL: `SET CONSTRAINTS .. IMMEDIATE`;
//!   SQLite: `PRAGMA foreign_key_check`), so a broken key comes back as an
//!   [`FkViolation`] with its tables, columns and key
//!   ([`DeferredError::Violation`]), not as a bare error from `COMMIT`, and
//!   nothing is committed.
//! - **Every outcome rolls back but success**: an error of the work, a
//!   failed check, and a panic in the work (the panic goes on after the
//!   rollback).
//! - **What the work undoes is told.** A work that ends the transaction
//!   itself (`COMMIT`) is [`DeferredError::TransactionEnded`] (its rows up
//!   to then may be committed); one that turns SQLite's `PRAGMA
//!   defer_foreign_keys` off, which makes SQLite forget the violations it
//!   counted, is [`DeferredError::DeferralUndone`]; a name shared with a
//!   constraint that is not a foreign key and cannot be deferred is
//!   refused before any work ([`DeferredError::SharedNames`]).
//!
//! On SQLite, rows broken before the work are not held against it when
//! they are known by rowid and key values in `main`; any other broken row
//! (a `WITHOUT ROWID` table's, a TEMP or attached schema's) cannot be told
//! from a new one and fails the check. Inside a caller's transaction on
//! PostgreSQL, the chosen keys are checked before the savepoint is
//! released; a key the work defers itself (`SET CONSTRAINTS ALL DEFERRED`)
//! is checked at the caller's `COMMIT`, as PostgreSQL does.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::integrity::deferred::{with_deferred, Deferral, DeferredError};
//! use fk_safe::{FkCatalog, FkConnection, ViolationKind};
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! conn.enforce_foreign_keys().unwrap();
//! diesel::sql_query(
//!     "CREATE TABLE departments (id INTEGER PRIMARY KEY, head_id BIGINT NOT NULL REFERENCES employees (id))",
//! )
//! .execute(&mut conn)
//! .unwrap();
//! diesel::sql_query(
//!     "CREATE TABLE employees (id INTEGER PRIMARY KEY, department_id BIGINT NOT NULL REFERENCES departments (id))",
//! )
//! .execute(&mut conn)
//! .unwrap();
//! let catalog = FkCatalog::new();
//!
//! // A department and its head reference each other: no order of the two
//! // inserts satisfies both keys at once, deferred they both hold at the end.
//! with_deferred(&mut conn, &catalog, &Deferral::all(), |conn| {
//!     diesel::sql_query("INSERT INTO departments (id, head_id) VALUES (1, 10)").execute(conn)?;
//!     diesel::sql_query("INSERT INTO employees (id, department_id) VALUES (10, 1)").execute(conn)?;
//!     Ok::<_, fk_safe::Error>(())
//! })
//! .unwrap();
//!
//! // A head who never arrives: checked before commit, explained, rolled back.
//! let failed = with_deferred(&mut conn, &catalog, &Deferral::all(), |conn| {
//!     diesel::sql_query("INSERT INTO departments (id, head_id) VALUES (2, 99)").execute(conn)?;
//!     Ok::<_, fk_safe::Error>(())
//! });
//! let Err(DeferredError::Violation { violation, rows }) = failed else { panic!("{failed:?}") };
//! assert_eq!(violation.kind(), ViolationKind::MissingParent);
//! assert_eq!(violation.child_table(), Some("departments"));
//! assert_eq!(violation.child_columns(), ["head_id"]);
//! assert_eq!(violation.parent_table(), Some("employees"));
//! assert_eq!(violation.key_values(), Some(&[Some("99".to_string())][..]));
//! assert_eq!(rows, Some(1));
//! # }
//! ```
//!
//! # Choosing the keys
//!
//! [`Deferral::all`] defers every foreign key and refuses when any foreign
//! key of the database is `NOT DEFERRABLE` (it would stay immediate, and
//! "all" would not be what ran); [`Deferral::all_deferrable`] defers the
//! deferrable ones and leaves the others immediate, on purpose. On
//! PostgreSQL both run `SET CONSTRAINTS ALL`. [`Deferral::constraint`] and
//! [`Deferral::constraint_in`] choose constraints by name (PostgreSQL only),
//! deferred by their quoted, schema-qualified names. A name covers every
//! constraint of that name in its schema, as `SET CONSTRAINTS` does (a
//! deferrable unique constraint of the same name too).
//!
//! # Inside a caller's transaction
//!
//! The work runs in a savepoint. PostgreSQL's check makes the chosen keys
//! `IMMEDIATE` for the rest of the caller's transaction, and covers rows the
//! caller wrote earlier under them while they were deferred. SQLite's check
//! holds against the work only the rows that broke a key after it and not
//! before; it leaves `PRAGMA defer_foreign_keys` as the caller had it.
//!
//! # SQLite
//!
//! `PRAGMA defer_foreign_keys = ON` defers every key; `PRAGMA
//! foreign_key_check` of every database of the connection runs before the
//! work (the rows already broken are not the work's) and after it, so two
//! scans of the tables with foreign keys, and a few queries for each row
//! that was already broken (to tell whether the work changed its key). A connection that does not
//! enforce foreign keys (`PRAGMA foreign_keys` off) is refused
//! ([`DeferredError::ForeignKeysOff`]): deferring there means nothing, and
//! the rows written after the load would not be checked either.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use diesel::connection::{Connection, TransactionManager};
use diesel::result::Error as DieselError;

use crate::backend::defer::{CheckFailure, Chosen};
use crate::backend::{DeferConstraints, ExplainFailure, FkBackend, FkConnection, SuspendChecks};
use crate::cache::CatalogCache;
use crate::catalog::FkCatalog;
use crate::error::Error;
use crate::fk::{Database, Deferrability, FkViolation, ForeignKey};
use crate::sql::quote_ident;

/// A constraint chosen by name: in one schema, or in whichever schema holds
/// it (then only one may).
///
/// ```
/// use fk_safe::integrity::deferred::ConstraintName;
///
/// assert_eq!(ConstraintName::new("orders_fk").to_string(), "\"orders_fk\"");
/// assert_eq!(ConstraintName::in_schema("shop", "orders_fk").to_string(), "\"shop\".\"orders_fk\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ConstraintName {
    /// The schema, or `None` for any schema.
    pub schema: Option<String>,
    /// The constraint's name, exactly as stored (not folded to lower case).
    pub name: String,
}

impl ConstraintName {
    /// The constraint `name` in whichever schema holds it.
    pub fn new(name: impl Into<String>) -> Self {
        ConstraintName {
            schema: None,
            name: name.into(),
        }
    }

    /// The constraint `name` of schema `schema`.
    pub fn in_schema(schema: impl Into<String>, name: impl Into<String>) -> Self {
        ConstraintName {
            schema: Some(schema.into()),
            name: name.into(),
        }
    }
}

impl fmt::Display for ConstraintName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{}.", quote_ident(schema))?;
        }
        f.write_str(&quote_ident(&self.name))
    }
}

/// Which foreign keys [`with_deferred`] defers.
///
/// ```
/// use fk_safe::integrity::deferred::Deferral;
///
/// let every_key = Deferral::all();
/// let two = Deferral::constraint("orders_customer_fk").and_in("billing", "invoices_order_fk");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferral {
    /// Every key (`Some`), and whether only the deferrable ones.
    every_key: Option<EveryKey>,
    /// Keys chosen by name, checked and deferred whatever else is chosen.
    names: Vec<ConstraintName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EveryKey {
    /// Refused when any key cannot be deferred.
    All,
    /// The keys that cannot be deferred stay immediate.
    Deferrable,
}

impl Deferral {
    /// Every foreign key. Refused when any foreign key of the database is
    /// `NOT DEFERRABLE`, which would stay immediate (see
    /// [`all_deferrable`](Self::all_deferrable)).
    pub fn all() -> Self {
        Deferral {
            every_key: Some(EveryKey::All),
            names: Vec::new(),
        }
    }

    /// Every deferrable foreign key; those declared `NOT DEFERRABLE` stay
    /// checked at each statement (a key also chosen by name is refused
    /// instead). The same as [`all`](Self::all) on SQLite, which defers every
    /// key.
    pub fn all_deferrable() -> Self {
        Deferral {
            every_key: Some(EveryKey::Deferrable),
            names: Vec::new(),
        }
    }

    /// The constraint `name`, in whichever schema holds it (PostgreSQL).
    pub fn constraint(name: impl Into<String>) -> Self {
        Deferral {
            every_key: None,
            names: vec![ConstraintName::new(name)],
        }
    }

    /// The constraint `name` of schema `schema` (PostgreSQL).
    pub fn constraint_in(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Deferral {
            every_key: None,
            names: vec![ConstraintName::in_schema(schema, name)],
        }
    }

    /// Also the constraint `name`, in whichever schema holds it. Added to
    /// [`all`](Self::all), it changes what is deferred not at all, but the
    /// name must still match exactly one schema's constraints, and a `NOT
    /// DEFERRABLE` one is refused even under
    /// [`all_deferrable`](Self::all_deferrable).
    pub fn and(mut self, name: impl Into<String>) -> Self {
        self.names.push(ConstraintName::new(name));
        self
    }

    /// Also the constraint `name` of schema `schema` (see [`and`](Self::and)).
    pub fn and_in(mut self, schema: impl Into<String>, name: impl Into<String>) -> Self {
        self.names.push(ConstraintName::in_schema(schema, name));
        self
    }

    /// The constraints chosen by name.
    pub fn names(&self) -> &[ConstraintName] {
        &self.names
    }

    /// Whether every foreign key is deferred (by [`all`](Self::all) or
    /// [`all_deferrable`](Self::all_deferrable)).
    pub fn is_every_key(&self) -> bool {
        self.every_key.is_some()
    }
}

/// A chosen foreign key that cannot be deferred, and the statement that
/// makes it deferrable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotDeferrableKey {
    /// The foreign key, as the catalog declares it.
    pub foreign_key: ForeignKey,
    /// `ALTER TABLE "schema"."table" ALTER CONSTRAINT "name" DEFERRABLE
    /// INITIALLY IMMEDIATE;`, for a migration.
    pub statement: String,
}

/// A constraint name held by several schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AmbiguousConstraint {
    /// The name as given.
    pub name: String,
    /// The schemas that have a foreign key of that name, sorted.
    pub schemas: Vec<String>,
}

/// Why [`with_deferred`] did not commit. `E` is the work's own error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeferredError<E> {
    /// Chosen foreign keys are `NOT DEFERRABLE`; nothing ran. Each carries
    /// the statement that makes it deferrable.
    #[error("{}", not_deferrable_text(keys, *every_key))]
    NotDeferrable {
        /// Every chosen key that cannot be deferred.
        keys: Vec<NotDeferrableKey>,
        /// Whether every key was asked for ([`Deferral::all`]).
        every_key: bool,
    },
    /// Names that match no foreign key; nothing ran.
    #[error(
        "no foreign key is named {}; nothing was run",
        names.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    UnknownConstraints {
        /// The names as given.
        names: Vec<ConstraintName>,
    },
    /// Names held by foreign keys in several schemas; nothing ran. Name
    /// the schema ([`Deferral::constraint_in`]).
    #[error(
        "{}; name the schema (Deferral::constraint_in). Nothing was run",
        ambiguous.iter().map(|a| format!(
            "foreign keys named {} exist in {} schemas ({})",
            quote_ident(&a.name),
            a.schemas.len(),
            a.schemas.iter().map(|s| quote_ident(s)).collect::<Vec<_>>().join(", ")
        )).collect::<Vec<_>>().join("; ")
    )]
    AmbiguousConstraints {
        /// Each ambiguous name and its schemas.
        ambiguous: Vec<AmbiguousConstraint>,
    },
    /// Constraints were named on a database that keeps no constraint names
    /// (SQLite); nothing ran. Use [`Deferral::all`].
    #[error("{database:?} keeps no names of foreign keys, so they cannot be deferred by name; defer them all with Deferral::all(). Nothing was run")]
    UnnamedConstraints {
        /// The database.
        database: Database,
    },
    /// The connection does not enforce foreign keys (SQLite's `PRAGMA
    /// foreign_keys` is off), so deferring them means nothing; nothing ran.
    #[error("this connection does not enforce foreign keys (PRAGMA foreign_keys is OFF), so deferring them means nothing and what is written afterwards would not be checked either; call FkConnection::enforce_foreign_keys outside any transaction first. Nothing was run")]
    ForeignKeysOff,
    /// A deferred key is broken when checked before commit; everything the
    /// work wrote was rolled back.
    #[error("{violation} (checked before commit; nothing was committed{})", rows_text(*rows))]
    Violation {
        /// The first broken row, explained from the catalog.
        violation: Box<FkViolation>,
        /// How many rows break the deferred keys, where the database counts
        /// them (SQLite); PostgreSQL names the first only.
        rows: Option<u64>,
    },
    /// The work returned an error; everything it wrote was rolled back.
    #[error(transparent)]
    Work(E),
    /// Constraints that are not foreign keys share a chosen key's name in
    /// its schema and are not deferrable, so `SET CONSTRAINTS` by that name
    /// would fail; nothing ran. Rename one, or make it deferrable.
    #[error(
        "SET CONSTRAINTS acts on every constraint of a name in its schema, and these share a \
         chosen key's name without being deferrable: {}. Nothing was run",
        clashes.join(", ")
    )]
    SharedNames {
        /// Each such constraint, described.
        clashes: Vec<String>,
    },
    /// The work undid the deferral itself, so the check before commit
    /// cannot vouch for what it wrote; everything was rolled back.
    #[error("{0}; everything the work wrote was rolled back")]
    DeferralUndone(String),
    /// The work ended the transaction itself (a `COMMIT` or `ROLLBACK` of
    /// its own, seen on PostgreSQL): what it wrote before that may be
    /// committed, unchecked.
    #[error(
        "the work ended with_deferred's transaction itself (COMMIT or ROLLBACK): rows it wrote \
         before may be committed without the check; run the orphan report on its tables"
    )]
    TransactionEnded,
    /// A statement of fk-safe's own failed (beginning, deferring, checking,
    /// committing or rolling back).
    #[error(transparent)]
    Database(DieselError),
}

impl<E> DeferredError<E> {
    /// The broken key found before commit, if that is what this error is.
    pub fn as_violation(&self) -> Option<&FkViolation> {
        match self {
            DeferredError::Violation { violation, .. } => Some(violation),
            _ => None,
        }
    }
}

fn rows_text(rows: Option<u64>) -> String {
    match rows {
        Some(n) if n > 1 => format!("; {n} rows break deferred foreign keys"),
        _ => String::new(),
    }
}

fn not_deferrable_text(keys: &[NotDeferrableKey], every_key: bool) -> String {
    let mut text = format!(
        "{} foreign key{} cannot be deferred (NOT DEFERRABLE); nothing was run. Make {} deferrable in a migration:",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" },
        if keys.len() == 1 { "it" } else { "them" },
    );
    for key in keys {
        text.push_str("\n  ");
        text.push_str(&key.statement);
    }
    if every_key {
        text.push_str(
            "\nor defer only the deferrable ones, leaving these immediate: Deferral::all_deferrable()",
        );
    }
    text
}

/// The statement that makes `fk` deferrable, checked per statement until a
/// transaction defers it: `ALTER TABLE "schema"."table" ALTER CONSTRAINT
/// "name" DEFERRABLE INITIALLY IMMEDIATE;`. `None` when the key is
/// deferrable already, or has no name or no recorded deferrability (SQLite,
/// which has no `ALTER CONSTRAINT` and defers any key).
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::integrity::deferred::deferrable_statement;
/// use fk_safe::FkCatalog;
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
/// diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT REFERENCES customers (id))")
///     .execute(&mut conn)
///     .unwrap();
/// let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
/// // SQLite defers any key as it is: there is nothing to alter.
/// assert_eq!(deferrable_statement(&keys[0]), None);
/// // On PostgreSQL, for a NOT DEFERRABLE "orders_customer_fk" of "shop"."orders":
/// // ALTER TABLE "shop"."orders" ALTER CONSTRAINT "orders_customer_fk" DEFERRABLE INITIALLY IMMEDIATE;
/// # }
/// ```
pub fn deferrable_statement(fk: &ForeignKey) -> Option<String> {
    let name = fk.name.as_ref()?;
    (fk.deferrability == Some(Deferrability::NotDeferrable)).then(|| {
        format!(
            "ALTER TABLE {}.{} ALTER CONSTRAINT {} DEFERRABLE INITIALLY IMMEDIATE;",
            quote_ident(&fk.schema),
            quote_ident(&fk.table),
            quote_ident(name)
        )
    })
}

/// The statements that make every `NOT DEFERRABLE` key of `keys`
/// deferrable (see [`deferrable_statement`]), in their order, for a
/// migration.
///
/// ```no_run
/// # #[cfg(feature = "postgres")] {
/// use diesel::prelude::*;
/// use fk_safe::integrity::deferred::deferrable_statements;
/// use fk_safe::FkCatalog;
///
/// let mut conn = PgConnection::establish("postgres://127.0.0.1/shop").unwrap();
/// let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
/// for statement in deferrable_statements(&keys) {
///     println!("{statement}");
/// }
/// # }
/// ```
pub fn deferrable_statements(keys: &[ForeignKey]) -> Vec<String> {
    keys.iter().filter_map(deferrable_statement).collect()
}

fn refused(keys: &[ForeignKey]) -> Vec<NotDeferrableKey> {
    keys.iter()
        .filter_map(|fk| {
            deferrable_statement(fk).map(|statement| NotDeferrableKey {
                foreign_key: fk.clone(),
                statement,
            })
        })
        .collect()
}

/// The keys `deferral` chooses (`None`: all), refusing what cannot be
/// honoured. Reads the catalog, writes nothing.
fn choose<C, E>(
    conn: &mut C,
    deferral: &Deferral,
) -> Result<Option<Vec<ForeignKey>>, DeferredError<E>>
where
    C: FkConnection,
{
    if !deferral.names.is_empty() && !<C::Backend as DeferConstraints>::NAMES_CONSTRAINTS {
        return Err(DeferredError::UnnamedConstraints {
            database: <C::Backend as FkBackend>::DATABASE,
        });
    }
    let live = C::Backend::deferral_catalog(conn).map_err(DeferredError::Database)?;
    let mut unknown = Vec::new();
    let mut ambiguous = Vec::new();
    let mut chosen: Vec<ForeignKey> = Vec::new();
    for wanted in &deferral.names {
        let matches: Vec<&ForeignKey> = live
            .iter()
            .filter(|fk| {
                fk.name.as_deref() == Some(wanted.name.as_str())
                    && match &wanted.schema {
                        Some(schema) => *schema == fk.schema,
                        None => true,
                    }
            })
            .collect();
        let mut schemas: Vec<String> = matches.iter().map(|fk| fk.schema.clone()).collect();
        schemas.sort();
        schemas.dedup();
        match schemas.len() {
            0 => unknown.push(wanted.clone()),
            1 => {
                for fk in matches {
                    if !chosen.contains(fk) {
                        chosen.push(fk.clone());
                    }
                }
            }
            _ => ambiguous.push(AmbiguousConstraint {
                name: wanted.name.clone(),
                schemas,
            }),
        }
    }
    if !unknown.is_empty() {
        return Err(DeferredError::UnknownConstraints { names: unknown });
    }
    if !ambiguous.is_empty() {
        return Err(DeferredError::AmbiguousConstraints { ambiguous });
    }
    // Keys named are refused whatever else was chosen; every key is refused
    // over the whole catalog unless the caller let those stay immediate.
    let checked = match deferral.every_key {
        Some(EveryKey::All) => &live,
        Some(EveryKey::Deferrable) | None => &chosen,
    };
    let clashes = C::Backend::name_clashes(conn, &chosen).map_err(DeferredError::Database)?;
    if !clashes.is_empty() {
        return Err(DeferredError::SharedNames { clashes });
    }
    let keys = refused(checked);
    if !keys.is_empty() {
        return Err(DeferredError::NotDeferrable {
            keys,
            every_key: deferral.every_key == Some(EveryKey::All),
        });
    }
    Ok(match deferral.every_key {
        Some(_) => None,
        None => Some(chosen),
    })
}

/// Runs `work` in a transaction (a savepoint when `conn` is already in one)
/// with the foreign keys `deferral` chooses deferred, checks them before the
/// transaction commits, and commits only when they hold; see the
/// [module documentation](self) for what is refused and how.
///
/// `work` returns its own error type (`fk_safe::Error`, Diesel's, or any
/// that Diesel's errors convert into for `?`); its error is returned
/// unchanged as [`DeferredError::Work`] after the rollback. A foreign key
/// that fails inside `work` in spite of the deferral (one left immediate,
/// or `ON DELETE RESTRICT`, which is never deferred) is part of that error;
/// explain it with [`FkCatalog::explain`].
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::integrity::deferred::{with_deferred, Deferral, DeferredError};
/// use fk_safe::{Database, FkCatalog, FkConnection};
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.enforce_foreign_keys().unwrap();
/// let catalog = FkCatalog::new();
/// // SQLite keeps no constraint names: naming one is refused, not ignored.
/// let named = with_deferred(&mut conn, &catalog, &Deferral::constraint("orders_fk"), |_| {
///     Ok::<_, fk_safe::Error>(())
/// });
/// assert!(matches!(
///     named,
///     Err(DeferredError::UnnamedConstraints { database: Database::Sqlite })
/// ));
/// # }
/// ```
pub fn with_deferred<C, T, E, F>(
    conn: &mut C,
    catalog: &FkCatalog,
    deferral: &Deferral,
    work: F,
) -> Result<T, DeferredError<E>>
where
    C: FkConnection,
    F: FnOnce(&mut C) -> Result<T, E>,
{
    let keys = choose::<C, E>(conn, deferral)?;
    if !C::Backend::enforces_foreign_keys(conn).map_err(DeferredError::Database)? {
        return Err(DeferredError::ForeignKeysOff);
    }
    let chosen = match &keys {
        Some(keys) => Chosen::These(keys),
        None => Chosen::All,
    };
    let cache = catalog.cache();
    C::Backend::begin(conn).map_err(DeferredError::Database)?;
    match run(conn, cache, chosen, work) {
        Ok(value) => {
            match <C::TransactionManager as TransactionManager<C>>::commit_transaction(conn) {
                Ok(()) => Ok(value),
                // Diesel has rolled back by now.
                Err(failed) => Err(commit_failed(conn, cache, failed)),
            }
        }
        Err(error) => {
            let error = match roll_back(conn) {
                Ok(()) => error,
                // The work ended the transaction: nothing is left to roll
                // back, and that is what the caller must hear.
                Err(_) if matches!(error, DeferredError::TransactionEnded) => error,
                Err(rollback) => return Err(DeferredError::Database(rollback)),
            };
            Err(match error {
                DeferredError::Violation {
                    mut violation,
                    rows,
                } => {
                    // On PostgreSQL the failed check aborted the transaction;
                    // rolled back, the catalog is readable again.
                    C::Backend::explain(conn, cache, &mut violation);
                    DeferredError::Violation { violation, rows }
                }
                other => other,
            })
        }
    }
}

/// Defers, runs the work and checks, inside the transaction; the caller
/// commits or rolls back. A panic of the work rolls back and goes on.
fn run<C, T, E, F>(
    conn: &mut C,
    cache: &CatalogCache,
    chosen: Chosen<'_>,
    work: F,
) -> Result<T, DeferredError<E>>
where
    C: FkConnection,
    F: FnOnce(&mut C) -> Result<T, E>,
{
    let deferred = C::Backend::defer(conn, chosen).map_err(DeferredError::Database)?;
    let before =
        <C::Backend as SuspendChecks>::transaction_marker(conn).map_err(DeferredError::Database)?;
    let outcome = match panic::catch_unwind(AssertUnwindSafe(|| work(conn))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            // The panic is what the caller must hear about; a failure to
            // clean up after it can only be dropped.
            let _ = C::Backend::restore(conn, deferred);
            let _ = roll_back(conn);
            panic::resume_unwind(panic);
        }
    };
    // After a failed statement PostgreSQL reads nothing more in the
    // transaction: the marker then goes unread, and the work's error stands.
    match <C::Backend as SuspendChecks>::transaction_marker(conn) {
        Ok(after) if after != before => return Err(DeferredError::TransactionEnded),
        Err(error) if outcome.is_ok() => return Err(DeferredError::Database(error)),
        _ => {}
    }
    let checked = match outcome {
        Ok(value) => match C::Backend::check(conn, cache, chosen, &deferred) {
            Ok(()) => Ok(value),
            Err(CheckFailure::Broken { violation, rows }) => {
                Err(DeferredError::Violation { violation, rows })
            }
            Err(CheckFailure::Database(error)) => Err(DeferredError::Database(error)),
            Err(CheckFailure::DeferralUndone(why)) => Err(DeferredError::DeferralUndone(why)),
        },
        Err(error) => Err(DeferredError::Work(error)),
    };
    match C::Backend::restore(conn, deferred) {
        Ok(()) => checked,
        // The error the work or the check ran into comes first.
        Err(error) => checked.and(Err(DeferredError::Database(error))),
    }
}

fn roll_back<C: Connection>(conn: &mut C) -> Result<(), DieselError> {
    match <C::TransactionManager as TransactionManager<C>>::rollback_transaction(conn) {
        Ok(()) | Err(DieselError::BrokenTransactionManager) => Ok(()),
        Err(error) => Err(error),
    }
}

/// `COMMIT` failed after the check passed: a key the check does not cover
/// (on PostgreSQL one declared `INITIALLY DEFERRED` and not chosen) is
/// explained like the check's own failures.
fn commit_failed<C, E>(conn: &mut C, cache: &CatalogCache, failed: DieselError) -> DeferredError<E>
where
    C: FkConnection,
{
    match Error::from(failed) {
        Error::ForeignKey(mut violation) => {
            C::Backend::explain(conn, cache, &mut violation);
            if violation.child_table().is_none() {
                violation.set_note(
                    "COMMIT failed on a deferred foreign key that the check before it did not \
                     find broken, and the database does not say which"
                        .to_string(),
                );
            }
            DeferredError::Violation {
                violation,
                rows: None,
            }
        }
        Error::Database(error) => DeferredError::Database(error),
        other => DeferredError::Database(DieselError::QueryBuilderError(other.to_string().into())),
    }
}
