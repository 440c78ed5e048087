//! The orphan report: for each foreign key, how many child rows point at a
//! parent that does not exist, and a bounded sample of their keys.
//!
//! Each foreign key is checked with one anti-join (a `LEFT JOIN` keeping
//! the child rows no parent matches), which counts every orphan, not just
//! the first, and matches NULLs as the constraint declares:
//!
//! - `MATCH SIMPLE` (the default, and all SQLite knows): a row with a NULL
//!   in any key column references nothing and is never an orphan.
//! - `MATCH FULL`: a row whose key columns are all NULL references nothing;
//!   one with only some of them NULL breaks the constraint, and is counted
//!   apart, in [`ConstraintOrphans::partial_nulls`].
//! - `MATCH PARTIAL` (which PostgreSQL does not implement): a row is an
//!   orphan when no parent matches its non-NULL columns.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::integrity::orphans::{orphans, OrphanOptions};
//! use fk_safe::FkCatalog;
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
//! diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT REFERENCES customers (id))")
//!     .execute(&mut conn)
//!     .unwrap();
//! // Written with the checks off, as a bulk load does.
//! diesel::sql_query("PRAGMA foreign_keys = OFF").execute(&mut conn).unwrap();
//! diesel::sql_query("INSERT INTO customers (id) VALUES (1)").execute(&mut conn).unwrap();
//! diesel::sql_query("INSERT INTO orders (customer_id) VALUES (1), (7), (7), (9), (NULL)")
//!     .execute(&mut conn)
//!     .unwrap();
//!
//! let report = orphans(&mut conn, &FkCatalog::new(), &OrphanOptions::new()).unwrap();
//! assert_eq!(report.total_orphans(), 3);
//! let orders = &report.constraints[0];
//! assert_eq!(orders.foreign_key.table, "orders");
//! assert_eq!(orders.sample[0].child_key, vec![Some("7".to_string())]);
//! assert_eq!(
//!     orders.to_string(),
//!     "main.orders (customer_id) -> main.customers (id): 3 orphans; e.g. (7), (7), (9)"
//! );
//! # }
//! ```
//!
//! # What the counts agree with
//!
//! A child row matches its parent as the database's own check matches it,
//! not by a plain `=`: on PostgreSQL with the constraint's own equality
//! operator, casts and collation (as `ALTER TABLE .. VALIDATE CONSTRAINT`
//! compares), on SQLite under the parent column's affinity and collation,
//! and every SQLite count is checked against `PRAGMA foreign_key_check`,
//! SQLite's own verdict.
//!
//! # One snapshot, and what could not be checked
//!
//! [`orphans`] reads the catalog and every foreign key in one transaction:
//! on PostgreSQL `REPEATABLE READ, READ ONLY`, so rows written meanwhile by
//! other sessions neither appear in one count and not another nor make a
//! parent seem missing. Called inside a transaction of yours, it runs in a
//! savepoint and sees what your transaction sees. Each foreign key is
//! checked in a savepoint of its own: one the database will not let be
//! checked (a table unreadable for lack of privilege, gone since the
//! catalog was read, a SQLite parent key without a unique index) is listed
//! in [`OrphanReport::unchecked`] with the database's reason, and the
//! report is then not [clean](OrphanReport::is_clean).

use std::fmt;

use diesel::connection::TransactionManager;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::backend::integrity::{key_column, CheckFailed, KEY_WIDTH, TOTAL};
use crate::backend::{FkConnection, ReadRows};
use crate::catalog::FkCatalog;
use crate::fk::{ForeignKey, MatchType};
use crate::sql::{display_ident, quote_ident};

/// Which foreign keys to check and how many orphans of each to show.
///
/// By default every foreign key of the catalog is checked and ten orphans
/// of each are shown. Each filter narrows the set: a foreign key is checked
/// when its child table's schema is one of [`schema`](Self::schema)'s (if
/// any were given), its child table one of [`table`](Self::table)'s, and its
/// name one of [`constraint`](Self::constraint)'s. A name that selects no
/// foreign key (a typo, a table without foreign keys, a constraint name on
/// SQLite, which keeps none) fails the report with
/// [`OrphanError::NothingSelected`], rather than report nothing as clean.
///
/// ```
/// use fk_safe::integrity::orphans::OrphanOptions;
///
/// let options = OrphanOptions::new().sample_size(3).schema("shop").table("orders");
/// assert_eq!(options.sample_size, 3);
/// assert_eq!(options.tables, ["orders"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrphanOptions {
    /// How many orphans (and, under `MATCH FULL`, partly NULL keys) of each
    /// foreign key are read as a sample; the counts are always complete.
    pub sample_size: usize,
    /// Only foreign keys declared on tables of these schemas (`main` on
    /// SQLite); all when empty.
    pub schemas: Vec<String>,
    /// Only foreign keys declared on these (child) tables; all when empty.
    pub tables: Vec<String>,
    /// Only the foreign keys of these names; all when empty. SQLite keeps no
    /// names, so there this matches nothing.
    pub constraints: Vec<String>,
}

impl Default for OrphanOptions {
    fn default() -> Self {
        OrphanOptions {
            sample_size: 10,
            schemas: Vec::new(),
            tables: Vec::new(),
            constraints: Vec::new(),
        }
    }
}

impl OrphanOptions {
    /// Every foreign key, ten orphans of each shown.
    pub fn new() -> Self {
        OrphanOptions::default()
    }

    /// Shows at most `sample_size` orphans of each foreign key.
    pub fn sample_size(mut self, sample_size: usize) -> Self {
        self.sample_size = sample_size;
        self
    }

    /// Also checks the foreign keys of tables in `schema`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schemas.push(schema.into());
        self
    }

    /// Also checks the foreign keys declared on the table `table`.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.tables.push(table.into());
        self
    }

    /// Also checks the foreign key named `constraint`.
    pub fn constraint(mut self, constraint: impl Into<String>) -> Self {
        self.constraints.push(constraint.into());
        self
    }

    /// Whether `fk` is one of the foreign keys to check.
    pub fn selects(&self, fk: &ForeignKey) -> bool {
        let wanted = |names: &[String], name: Option<&str>| {
            names.is_empty() || name.is_some_and(|name| names.iter().any(|n| n == name))
        };
        wanted(&self.schemas, Some(&fk.schema))
            && wanted(&self.tables, Some(&fk.table))
            && wanted(&self.constraints, fk.name.as_deref())
    }
}

/// What [`orphans`] found, one entry per foreign key checked, in the
/// catalog's order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrphanReport {
    /// Each foreign key checked and what breaks it.
    pub constraints: Vec<ConstraintOrphans>,
    /// The foreign keys the database did not let be checked, with why.
    pub unchecked: Vec<UncheckedForeignKey>,
}

impl OrphanReport {
    /// Whether every foreign key selected was checked and no row breaks any
    /// of them.
    pub fn is_clean(&self) -> bool {
        self.unchecked.is_empty() && self.constraints.iter().all(ConstraintOrphans::is_clean)
    }

    /// How many orphans all the foreign keys have together.
    pub fn total_orphans(&self) -> u64 {
        self.constraints.iter().map(|c| c.orphans).sum()
    }

    /// The foreign keys that some row breaks.
    pub fn broken(&self) -> impl Iterator<Item = &ConstraintOrphans> {
        self.constraints.iter().filter(|c| !c.is_clean())
    }
}

impl fmt::Display for OrphanReport {
    /// One line per broken foreign key and per one not checked, or one
    /// saying there are none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut broken = self.broken().peekable();
        if broken.peek().is_none() && self.unchecked.is_empty() {
            return write!(
                f,
                "no orphans in {} foreign key{}",
                self.constraints.len(),
                plural(self.constraints.len() as u64)
            );
        }
        let lines = broken
            .map(|constraint| constraint as &dyn fmt::Display)
            .chain(self.unchecked.iter().map(|u| u as &dyn fmt::Display));
        for (index, line) in lines.enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{line}")?;
        }
        Ok(())
    }
}

/// The rows that break one foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConstraintOrphans {
    /// The foreign key, as the catalog declares it.
    pub foreign_key: ForeignKey,
    /// How many child rows point at a parent that does not exist: every one
    /// of them, however many the sample shows.
    pub orphans: u64,
    /// Some of those rows (at most [`OrphanOptions::sample_size`]), ordered
    /// by their key.
    pub sample: Vec<Orphan>,
    /// Under `MATCH FULL`, how many child rows have some but not all of the
    /// key's columns NULL, which the constraint refuses as well; always 0
    /// under any other match type, where such a row is allowed.
    pub partial_nulls: u64,
    /// Some of those rows' keys (at most [`OrphanOptions::sample_size`]),
    /// in the order of [`ForeignKey::columns`], NULL as `None`.
    pub partial_null_sample: Vec<Vec<Option<String>>>,
}

impl ConstraintOrphans {
    /// Whether no row breaks the foreign key.
    pub fn is_clean(&self) -> bool {
        self.orphans == 0 && self.partial_nulls == 0
    }
}

impl fmt::Display for ConstraintOrphans {
    /// `schema.child (columns) -> schema.parent (columns): N orphans; e.g.
    /// (values), ..`, and the partly NULL keys under `MATCH FULL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", Described(&self.foreign_key))?;
        write!(f, "{} orphan{}", self.orphans, plural(self.orphans))?;
        write_sample(f, self.sample.iter().map(|o| o.child_key.as_slice()))?;
        if self.partial_nulls > 0 {
            write!(
                f,
                "; {} partly NULL key{} (refused by MATCH FULL)",
                self.partial_nulls,
                plural(self.partial_nulls)
            )?;
            write_sample(f, self.partial_null_sample.iter().map(Vec::as_slice))?;
        }
        Ok(())
    }
}

/// A foreign key the database did not let be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UncheckedForeignKey {
    /// The foreign key, as the catalog declares it.
    pub foreign_key: ForeignKey,
    /// Why: the database's error, or why its answers allow no exact check.
    pub reason: String,
}

impl fmt::Display for UncheckedForeignKey {
    /// `schema.child (columns) -> schema.parent (columns): not checked: ..`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: not checked: {}",
            Described(&self.foreign_key),
            self.reason
        )
    }
}

/// One child row whose parent does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Orphan {
    /// The row's values of the foreign key's columns, in the order of
    /// [`ForeignKey::columns`], as text (`CAST .. AS TEXT`; a SQLite BLOB
    /// as `X'..'` in hexadecimal, so that no byte is lost). `None` is NULL,
    /// which only `MATCH PARTIAL` lets into an orphan's key.
    pub child_key: Vec<Option<String>>,
    /// The parent key that does not exist: each of
    /// [`ForeignKey::parent_columns`] with the value the row gives it.
    pub missing_parent_key: Vec<(String, Option<String>)>,
}

/// Why an orphan report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrphanError {
    /// The catalog of foreign keys could not be read.
    #[error("could not read the foreign keys to check for orphans: {0}")]
    Catalog(#[source] crate::error::Error),
    /// The catalog declares a foreign key whose two sides have different
    /// numbers of columns, which no database accepts; it was not checked.
    #[error(
        "cannot check {constraint} for orphans: it lists {columns} columns \
         referencing {parent_columns}"
    )]
    MismatchedColumns {
        /// The foreign key, described.
        constraint: String,
        /// How many referencing columns it lists.
        columns: usize,
        /// How many referenced columns it lists.
        parent_columns: usize,
    },
    /// A query checking one foreign key failed (a table gone, no privilege
    /// to read it, the connection lost). [`orphans`] lists such a foreign
    /// key in [`OrphanReport::unchecked`] instead, unless the connection
    /// itself failed.
    #[error("could not check {constraint} for orphans: {source}")]
    Query {
        /// The foreign key, described.
        constraint: String,
        /// The database's error.
        #[source]
        source: diesel::result::Error,
    },
    /// The database's answers allow no exact check of one foreign key (it
    /// changed since the catalog was read, or SQLite's own check counts
    /// other orphans than the anti-join), so no count is given.
    #[error("cannot check {constraint} for orphans: {reason}")]
    Refused {
        /// The foreign key, described.
        constraint: String,
        /// Why.
        reason: String,
    },
    /// A name given to [`OrphanOptions`] selects no foreign key.
    #[error(
        "no foreign key {what}: nothing to check (the names are matched exactly, \
         and SQLite keeps no constraint names)"
    )]
    NothingSelected {
        /// Which name selected nothing, e.g. `is declared on table "ordrs"`.
        what: String,
    },
    /// The transaction the report reads in could not be begun or ended.
    #[error("could not read the database in one snapshot: {0}")]
    Snapshot(#[source] diesel::result::Error),
}

/// The orphans of every foreign key of `catalog` that `options` selects,
/// read in one snapshot, each foreign key in a savepoint of its own.
///
/// See the [module documentation](self) for an example, how NULLs are
/// matched and what becomes of a foreign key that cannot be checked.
pub fn orphans<C: FkConnection>(
    conn: &mut C,
    catalog: &FkCatalog,
    options: &OrphanOptions,
) -> Result<OrphanReport, OrphanError> {
    let outermost = C::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_err(OrphanError::Snapshot)?
        .is_none();
    let report = conn.transaction(|conn| {
        let changed = C::Backend::begin_reading(conn, outermost)
            .map_err(|e| Stop::Report(OrphanError::Snapshot(e)))?;
        // Read in the snapshot, not from the cache: a foreign key added
        // since the cache was filled has orphans too.
        let all = catalog
            .current_foreign_keys(conn)
            .map_err(|e| Stop::Report(OrphanError::Catalog(e)))?;
        let selected: Vec<&ForeignKey> = all.iter().filter(|fk| options.selects(fk)).collect();
        nothing_unselected(options, &selected).map_err(Stop::Report)?;
        let mut report = OrphanReport {
            constraints: Vec::new(),
            unchecked: Vec::new(),
        };
        for fk in selected {
            let checked = conn.transaction(|conn| {
                constraint_orphans(conn, fk, options.sample_size).map_err(Stop::Report)
            });
            match checked {
                Ok(found) => report.constraints.push(found),
                Err(Stop::Report(error)) => match unchecked_reason(&error) {
                    Some(reason) => report.unchecked.push(UncheckedForeignKey {
                        foreign_key: fk.clone(),
                        reason,
                    }),
                    None => return Err(Stop::Report(error)),
                },
                Err(stop) => return Err(stop),
            }
        }
        C::Backend::end_reading(conn, changed)
            .map_err(|e| Stop::Report(OrphanError::Snapshot(e)))?;
        Ok(report)
    });
    report.map_err(|stop| match stop {
        Stop::Report(error) => error,
        Stop::Transaction(error) => OrphanError::Snapshot(error),
    })
}

/// Why [`orphans`]' transaction ended early: a failure of the report, or of
/// the transaction itself (`BEGIN`, a savepoint, `COMMIT`).
enum Stop {
    Report(OrphanError),
    Transaction(DieselError),
}

impl From<DieselError> for Stop {
    fn from(error: DieselError) -> Self {
        Stop::Transaction(error)
    }
}

/// Why one foreign key went unchecked, or `None` when the failure is the
/// connection's and ends the whole report.
pub(crate) fn unchecked_reason(error: &OrphanError) -> Option<String> {
    match error {
        OrphanError::Query { source, .. } => match source {
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::BrokenTransactionManager
            | DieselError::RollbackErrorOnCommit { .. } => None,
            other => Some(other.to_string()),
        },
        OrphanError::Refused { reason, .. } => Some(reason.clone()),
        OrphanError::MismatchedColumns { .. } => Some(error.to_string()),
        _ => None,
    }
}

/// Fails when a name of `options` selected none of the foreign keys.
pub(crate) fn nothing_unselected(
    options: &OrphanOptions,
    selected: &[&ForeignKey],
) -> Result<(), OrphanError> {
    let unmatched = |names: &[String], of: fn(&ForeignKey) -> Option<&str>| {
        names
            .iter()
            .find(|name| !selected.iter().any(|fk| of(fk) == Some(name.as_str())))
            .cloned()
    };
    // The narrowest name first: a table that selects nothing also leaves
    // its schema with nothing selected.
    let (what, others) =
        if let Some(name) = unmatched(&options.constraints, |fk| fk.name.as_deref()) {
            (
                format!("is named {name:?}"),
                options.schemas.len() + options.tables.len(),
            )
        } else if let Some(table) = unmatched(&options.tables, |fk| Some(&fk.table)) {
            (
                format!("is declared on table {table:?}"),
                options.schemas.len() + options.constraints.len(),
            )
        } else if let Some(schema) = unmatched(&options.schemas, |fk| Some(&fk.schema)) {
            (
                format!("is declared on a table of schema {schema:?}"),
                options.tables.len() + options.constraints.len(),
            )
        } else {
            return Ok(());
        };
    Err(OrphanError::NothingSelected {
        what: if others == 0 {
            what
        } else {
            format!("{what} among those the other names select")
        },
    })
}

/// The orphans of one foreign key, with at most `sample_size` of them (and
/// of its partly NULL keys) read as a sample.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::integrity::orphans::constraint_orphans;
/// use fk_safe::FkCatalog;
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// diesel::sql_query("CREATE TABLE sites (region TEXT, code TEXT, PRIMARY KEY (region, code))")
///     .execute(&mut conn)
///     .unwrap();
/// diesel::sql_query(
///     "CREATE TABLE visits (region TEXT, code TEXT, FOREIGN KEY (region, code) REFERENCES sites (region, code))",
/// )
/// .execute(&mut conn)
/// .unwrap();
/// diesel::sql_query("PRAGMA foreign_keys = OFF").execute(&mut conn).unwrap();
/// diesel::sql_query("INSERT INTO visits VALUES ('eu', 'ber'), ('eu', NULL)").execute(&mut conn).unwrap();
///
/// let foreign_keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
/// let visits = constraint_orphans(&mut conn, &foreign_keys[0], 1).unwrap();
/// // MATCH SIMPLE: the key with a NULL references nothing.
/// assert_eq!(visits.orphans, 1);
/// assert_eq!(
///     visits.sample[0].missing_parent_key,
///     [("region".to_string(), Some("eu".to_string())), ("code".to_string(), Some("ber".to_string()))]
/// );
/// # }
/// ```
pub fn constraint_orphans<C: FkConnection>(
    conn: &mut C,
    fk: &ForeignKey,
    sample_size: usize,
) -> Result<ConstraintOrphans, OrphanError> {
    well_formed(fk, fk.columns.len())?;
    let matches = C::Backend::key_matches(conn, fk).map_err(|failure| refused(fk, failure))?;
    orphans_matched(conn, fk, &matches, sample_size)
}

/// Refuses a foreign key whose sides (and comparisons) differ in number.
fn well_formed(fk: &ForeignKey, comparisons: usize) -> Result<(), OrphanError> {
    if fk.columns.is_empty()
        || fk.columns.len() != fk.parent_columns.len()
        || fk.columns.len() != comparisons
    {
        return Err(OrphanError::MismatchedColumns {
            constraint: Described(fk).to_string(),
            columns: fk.columns.len(),
            parent_columns: fk.parent_columns.len(),
        });
    }
    Ok(())
}

/// A query of `fk`'s check failed.
fn failed(fk: &ForeignKey, source: diesel::result::Error) -> OrphanError {
    OrphanError::Query {
        constraint: Described(fk).to_string(),
        source,
    }
}

/// `fk` could not be checked exactly.
fn refused(fk: &ForeignKey, failure: CheckFailed) -> OrphanError {
    match failure {
        CheckFailed::Query(source) => failed(fk, source),
        CheckFailed::Refused(reason) => OrphanError::Refused {
            constraint: Described(fk).to_string(),
            reason,
        },
    }
}

/// The orphans of `fk`, whose rows are matched by `matches`
/// ([`ReadRows::key_matches`], read while the constraint existed, for a
/// bulk load that drops it).
pub(crate) fn orphans_matched<C: FkConnection>(
    conn: &mut C,
    fk: &ForeignKey,
    matches: &[String],
    sample_size: usize,
) -> Result<ConstraintOrphans, OrphanError> {
    well_formed(fk, matches.len())?;
    let failed = |source| failed(fk, source);
    let child = C::Backend::constrained_rows(conn, &fk.schema, &fk.table).map_err(failed)?;
    let parent =
        C::Backend::constrained_rows(conn, &fk.parent_schema, &fk.parent_table).map_err(failed)?;

    let (from, condition) = missing_parent(fk, &child, &parent, matches);
    let (orphans, sample) = counted_sample(
        conn,
        &key_query(
            fk,
            &from,
            &condition,
            sample_size,
            C::Backend::value_as_text,
        ),
    )
    .map_err(failed)?;
    C::Backend::confirm_orphans(conn, fk, orphans).map_err(|failure| refused(fk, failure))?;
    let sample = sample
        .into_iter()
        .map(|child_key| Orphan {
            missing_parent_key: fk
                .parent_columns
                .iter()
                .cloned()
                .zip(child_key.clone())
                .collect(),
            child_key,
        })
        .collect();

    let (partial_nulls, partial_null_sample) = match partly_null(fk) {
        Some(condition) => counted_sample(
            conn,
            &key_query(
                fk,
                &format!("{child} AS c"),
                &condition,
                sample_size,
                C::Backend::value_as_text,
            ),
        )
        .map_err(failed)?,
        None => (0, Vec::new()),
    };
    Ok(ConstraintOrphans {
        foreign_key: fk.clone(),
        orphans,
        sample,
        partial_nulls,
        partial_null_sample,
    })
}

/// Runs a query of [`key_query`]'s shape: how many rows matched, and the
/// sample it read.
fn counted_sample<C: FkConnection>(
    conn: &mut C,
    sql: &KeyQuery,
) -> diesel::QueryResult<(u64, Vec<Vec<Option<String>>>)> {
    let rows = C::Backend::key_rows(conn, &sql.sql)?;
    // Every row carries the same window count; none at all means none matched.
    let total = rows
        .first()
        .map_or(0, |row| u64::try_from(row.total).unwrap_or(0));
    let sample = rows
        .into_iter()
        .take(sql.sample_size)
        .map(|row| row.key)
        .collect();
    Ok((total, sample))
}

/// A query reading a sample of the keys of the child rows that meet a
/// condition, with the count of all of them.
struct KeyQuery {
    sql: String,
    sample_size: usize,
}

/// The keys of the child rows (aliased `c` in `from`) meeting `condition`,
/// ordered, at most `sample_size` of them, each row carrying the count of
/// all of them (`COUNT(*) OVER ()` is taken before `LIMIT`). At least one
/// row is read even for an empty sample, so that the count comes back; the
/// limit stays within the BIGINT both databases read it as.
fn key_query(
    fk: &ForeignKey,
    from: &str,
    condition: &str,
    sample_size: usize,
    value_as_text: fn(&str) -> String,
) -> KeyQuery {
    let columns = child_columns(fk);
    let keys: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| format!("{} AS {}", value_as_text(column), key_column(index)))
        .collect();
    let limit = i64::try_from(sample_size).unwrap_or(i64::MAX).max(1);
    KeyQuery {
        sql: format!(
            "SELECT CAST({width} AS BIGINT) AS {KEY_WIDTH}, {keys}, COUNT(*) OVER () AS {TOTAL} \
             FROM {from} WHERE {condition} ORDER BY {order} LIMIT {limit}",
            width = columns.len(),
            keys = keys.join(", "),
            order = columns.join(", "),
        ),
        sample_size,
    }
}

/// `c."column"` for each referencing column.
fn child_columns(fk: &ForeignKey) -> Vec<String> {
    fk.columns
        .iter()
        .map(|column| format!("c.{}", quote_ident(column)))
        .collect()
}

/// The rows of `child` (aliased `c`) that reference a parent under the
/// constraint's match type while none of `parent`'s rows (`p`) has that key:
/// the anti-join, as a `FROM` clause and a condition.
///
/// Under SIMPLE and FULL it is a `LEFT JOIN .. WHERE p.key IS NULL`: a
/// parent that matches has its key column set (it equals the child's, which
/// is not NULL), so only a child with no parent keeps a NULL there, once
/// (a child row is never repeated: an unmatched row is extended once). On
/// 1,000,000 rows SQLite runs this as a join in a fifth of the time it
/// takes for `NOT EXISTS`, which it runs as a subquery per row; PostgreSQL
/// plans both as the same hash anti-join (BENCHMARKS.md, "The orphan
/// report"). Under PARTIAL a matching parent may have any one key column
/// set, so the test stays `NOT EXISTS`.
///
/// `matches` compares each column pair as the database's own check does
/// ([`ReadRows::key_matches`]).
fn missing_parent(
    fk: &ForeignKey,
    child: &str,
    parent: &str,
    matches: &[String],
) -> (String, String) {
    let columns = child_columns(fk);
    match fk.match_type {
        MatchType::Simple | MatchType::Full => {
            let references: Vec<String> =
                columns.iter().map(|c| format!("{c} IS NOT NULL")).collect();
            (
                format!(
                    "{child} AS c LEFT JOIN {parent} AS p ON {}",
                    matches.join(" AND ")
                ),
                format!(
                    "{} AND p.{} IS NULL",
                    references.join(" AND "),
                    // Checked non-empty by the caller.
                    quote_ident(fk.parent_columns.first().map_or("", String::as_str))
                ),
            )
        }
        // A NULL column matches any parent value.
        MatchType::Partial => {
            let all_null: Vec<String> = columns.iter().map(|c| format!("{c} IS NULL")).collect();
            let matches: Vec<String> = columns
                .iter()
                .zip(matches)
                .map(|(c, matches)| format!("({c} IS NULL OR {matches})"))
                .collect();
            (
                format!("{child} AS c"),
                format!(
                    "NOT ({}) AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {})",
                    all_null.join(" AND "),
                    matches.join(" AND ")
                ),
            )
        }
    }
}

/// Under `MATCH FULL` with several columns, the condition that some but not
/// all of a child row's key columns are NULL; `None` where no such row
/// breaks the constraint.
fn partly_null(fk: &ForeignKey) -> Option<String> {
    if fk.match_type != MatchType::Full || fk.columns.len() < 2 {
        return None;
    }
    let child = child_columns(fk);
    let any_null: Vec<String> = child.iter().map(|c| format!("{c} IS NULL")).collect();
    let any_set: Vec<String> = child.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    Some(format!(
        "({}) AND ({})",
        any_null.join(" OR "),
        any_set.join(" OR ")
    ))
}

/// `schema.child (columns) -> schema.parent (columns)`, with the
/// constraint's name when it has one.
pub(crate) struct Described<'a>(pub(crate) &'a ForeignKey);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fk = self.0;
        let names = |names: &[String]| {
            names
                .iter()
                .map(|name| display_ident(name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(name) = &fk.name {
            write!(f, "{} ", display_ident(name))?;
        }
        write!(
            f,
            "{}.{} ({}) -> {}.{} ({})",
            display_ident(&fk.schema),
            display_ident(&fk.table),
            names(&fk.columns),
            display_ident(&fk.parent_schema),
            display_ident(&fk.parent_table),
            names(&fk.parent_columns)
        )
    }
}

/// `; e.g. (a, b), (c, NULL)` for a sample that is not empty.
fn write_sample<'a>(
    f: &mut fmt::Formatter<'_>,
    keys: impl Iterator<Item = &'a [Option<String>]>,
) -> fmt::Result {
    for (index, key) in keys.enumerate() {
        f.write_str(if index == 0 { "; e.g. (" } else { ", (" })?;
        for (position, value) in key.iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            f.write_str(value.as_deref().unwrap_or("NULL"))?;
        }
        f.write_str(")")?;
    }
    Ok(())
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::{key_query, missing_parent, partly_null};
    use crate::fk::{FkAction, ForeignKey, MatchType};

    fn composite(match_type: MatchType) -> ForeignKey {
        ForeignKey {
            name: Some("visits_site_fkey".into()),
            schema: "s".into(),
            table: "visits".into(),
            columns: vec!["region".into(), "co\"de".into()],
            nullable: vec![true, true],
            parent_schema: "s".into(),
            parent_table: "sites".into(),
            parent_columns: vec!["region".into(), "code".into()],
            on_delete: FkAction::NoAction,
            on_update: FkAction::NoAction,
            deferrability: None,
            match_type,
            validated: true,
        }
    }

    /// Comparisons as a backend would give them.
    fn matches() -> Vec<String> {
        vec![
            "p.\"region\" = c.\"region\"".to_string(),
            "p.\"code\" = c.\"co\"\"de\"".to_string(),
        ]
    }

    fn as_text(expression: &str) -> String {
        format!("CAST({expression} AS TEXT)")
    }

    #[test]
    fn simple_keys_with_a_null_reference_nothing() {
        let (from, condition) = missing_parent(
            &composite(MatchType::Simple),
            "\"s\".\"visits\"",
            "\"s\".\"sites\"",
            &matches(),
        );
        assert_eq!(
            from,
            "\"s\".\"visits\" AS c LEFT JOIN \"s\".\"sites\" AS p \
             ON p.\"region\" = c.\"region\" AND p.\"code\" = c.\"co\"\"de\""
        );
        assert_eq!(
            condition,
            "c.\"region\" IS NOT NULL AND c.\"co\"\"de\" IS NOT NULL AND p.\"region\" IS NULL"
        );
        assert_eq!(partly_null(&composite(MatchType::Simple)), None);
    }

    #[test]
    fn full_keys_count_partly_null_rows() {
        assert_eq!(
            partly_null(&composite(MatchType::Full)).as_deref(),
            Some(
                "(c.\"region\" IS NULL OR c.\"co\"\"de\" IS NULL) AND \
                 (c.\"region\" IS NOT NULL OR c.\"co\"\"de\" IS NOT NULL)"
            )
        );
    }

    #[test]
    fn partial_keys_match_their_set_columns() {
        let (from, condition) =
            missing_parent(&composite(MatchType::Partial), "c_t", "p_t", &matches());
        assert_eq!(from, "c_t AS c");
        assert!(condition.starts_with("NOT (c.\"region\" IS NULL AND c.\"co\"\"de\" IS NULL)"));
        assert!(condition.contains("(c.\"region\" IS NULL OR p.\"region\" = c.\"region\")"));
    }

    #[test]
    fn a_sample_of_any_size_is_a_valid_limit() {
        let query = key_query(
            &composite(MatchType::Simple),
            "t",
            "TRUE",
            usize::MAX,
            as_text,
        );
        assert!(query.sql.ends_with(&format!("LIMIT {}", i64::MAX)));
    }

    #[test]
    fn an_empty_sample_still_reads_the_count() {
        let query = key_query(&composite(MatchType::Simple), "t", "TRUE", 0, as_text);
        assert!(query.sql.ends_with("LIMIT 1"));
        assert_eq!(query.sample_size, 0);
    }
}
