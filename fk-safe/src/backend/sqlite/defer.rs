//! Deferring on SQLite: `PRAGMA defer_foreign_keys = ON` inside the
//! transaction, which defers every foreign key (SQLite keeps no names to
//! choose by), and `PRAGMA foreign_key_check` before it commits, which names
//! the rows the work left without their parent: SQLite's own check at
//! `COMMIT` would only say `FOREIGN KEY constraint failed`.
//!
//! - `foreign_key_check` lists every orphan, also those that were there
//!   before the work (written with the checks off, say). The rows broken
//!   before the work are read first and not held against it unless the work
//!   changed their key.
//! - Every database of the connection is checked (`main`, `temp`, attached
//!   ones): the pragma defers them all.
//! - Turning the pragma off makes SQLite forget the deferred violations it
//!   counted so far (tested: a `COMMIT` after `OFF` keeps an orphan).
//!   fk-safe therefore leaves the pragma alone when it is already on (a
//!   caller deferring in its own transaction keeps its count), and turns it
//!   back off only inside a caller's transaction, after the check or with
//!   the work rolled back: at the top level `COMMIT` resets it, after
//!   counting once more.

use diesel::connection::{
    LoadConnection, TransactionDepthChange, TransactionManager, TransactionManagerStatus,
};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::catalog::{table_foreign_keys, NameRow};
use super::inspect::row_values;
use super::SCHEMA;
use crate::backend::defer::{CheckFailure, Chosen, DeferConstraints};
use crate::cache::CatalogCache;
use crate::fk::{Database, Declaration, FkViolation, ForeignKey, ViolationKind};
use crate::sql::quote_ident;

/// The savepoint the work runs in, so that the check can look at the rows
/// as they were before it.
const WORK: &str = "fk_safe_deferred";

#[derive(QueryableByName)]
struct FlagRow {
    #[diesel(sql_type = BigInt)]
    flag: i64,
}

#[derive(QueryableByName)]
struct CheckRow {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    rowid: Option<i64>,
    #[diesel(sql_type = BigInt)]
    fkid: i64,
}

/// A row that breaks a foreign key, with its key when it can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    schema: String,
    table: String,
    rowid: Option<i64>,
    fkid: i64,
    values: Option<Vec<Option<String>>>,
}

/// What `defer` changed and found. Not public API.
#[derive(Debug)]
pub struct SqliteDeferred {
    /// Turn the pragma back off when done (inside a caller's transaction).
    turn_off: bool,
    /// The rows that broke a foreign key before the work.
    before: Vec<Broken>,
}

fn status<C: Connection>(conn: &mut C) -> &mut TransactionManagerStatus {
    <C::TransactionManager as TransactionManager<C>>::transaction_manager_status_mut(conn)
}

fn depth<C: Connection>(conn: &mut C) -> QueryResult<u32> {
    Ok(status(conn).transaction_depth()?.map_or(0, |d| d.get()))
}

fn flag<C: LoadConnection<Backend = Sqlite>>(conn: &mut C, pragma: &str) -> QueryResult<bool> {
    let rows: Vec<FlagRow> = diesel::sql_query(format!(
        "/* fk-safe: catalog */ SELECT {pragma} AS flag FROM pragma_{pragma}"
    ))
    .load(conn)?;
    Ok(rows.first().is_some_and(|r| r.flag != 0))
}

/// The foreign-key columns of `table`'s key `fkid`, from the catalog.
fn key_of<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
    table: &str,
    fkid: i64,
) -> QueryResult<Option<ForeignKey>> {
    let keys = table_foreign_keys(conn, cache, table)?;
    Ok(keys
        .iter()
        .find(|(id, _)| *id == fkid)
        .map(|(_, fk)| fk.clone()))
}

/// Every row of every database of the connection that breaks a foreign
/// key now, with its key values where the row is in `main` (the schema the
/// catalog reads).
fn broken_rows<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
) -> QueryResult<Vec<Broken>> {
    let schemas: Vec<NameRow> =
        diesel::sql_query("/* fk-safe: catalog */ SELECT name FROM pragma_database_list")
            .load(conn)?;
    let mut all = Vec::new();
    for schema in schemas {
        let rows: Vec<CheckRow> = diesel::sql_query(format!(
            "PRAGMA {}.foreign_key_check",
            quote_ident(&schema.name)
        ))
        .load(conn)?;
        for row in rows {
            let values = match (schema.name == SCHEMA, row.rowid) {
                (true, Some(rowid)) => match key_of(conn, cache, &row.table, row.fkid)? {
                    Some(fk) => row_values(conn, &fk.table, &fk.columns, rowid)?,
                    None => None,
                },
                _ => None,
            };
            all.push(Broken {
                schema: schema.name.clone(),
                table: row.table,
                rowid: row.rowid,
                fkid: row.fkid,
                values,
            });
        }
    }
    Ok(all)
}

/// Explains the first row the work broke; `count` rows are broken in all.
fn explain_first<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
    first: &Broken,
    count: usize,
) -> Result<FkViolation, DieselError> {
    let more = match count {
        1 => String::new(),
        n => format!("; {n} rows break foreign keys after the work, this is the first PRAGMA foreign_key_check named"),
    };
    let fk = if first.schema == SCHEMA {
        key_of(conn, cache, &first.table, first.fkid)?
    } else {
        None
    };
    let Some(fk) = fk else {
        let mut violation =
            FkViolation::found_before_writing(ViolationKind::Undetermined, Database::Sqlite);
        violation.declare(Declaration {
            schema: Some(first.schema.clone()),
            child_table: Some(first.table.clone()),
            ..Declaration::default()
        });
        violation.set_note(format!(
            "checked before commit: a row of {}.{} (rowid {}) breaks a deferred foreign key of a \
             database fk-safe's catalog does not read{more}",
            quote_ident(&first.schema),
            quote_ident(&first.table),
            first
                .rowid
                .map_or_else(|| "unknown".to_string(), |r| r.to_string()),
        ));
        return Ok(violation);
    };
    // Which side broke it is told by the row as it was before the work: the
    // same key then, when it was no orphan, means its parent went away.
    conn.batch_execute(&format!("ROLLBACK TO {WORK}"))?;
    let before = match first.rowid {
        Some(rowid) => row_values(conn, &fk.table, &fk.columns, rowid)?,
        None => None,
    };
    let kind = match (&first.values, &before) {
        (Some(now), Some(then)) if now == then => ViolationKind::StillReferenced,
        (Some(_), _) => ViolationKind::MissingParent,
        (None, _) => ViolationKind::Undetermined,
    };
    let mut violation = FkViolation::found_before_writing(kind, Database::Sqlite);
    violation.declare(Declaration::from(&fk));
    violation.set_key_values(first.values.clone());
    violation.set_note(format!(
        "checked before commit by PRAGMA foreign_key_check: row {} of {}{more}",
        first
            .rowid
            .map_or_else(|| "?".to_string(), |r| r.to_string()),
        quote_ident(&fk.table),
    ));
    Ok(violation)
}

impl DeferConstraints for Sqlite {
    const NAMES_CONSTRAINTS: bool = false;

    type Deferred = SqliteDeferred;

    fn deferral_catalog<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
    ) -> QueryResult<Vec<ForeignKey>> {
        Ok(Vec::new())
    }

    fn enforces_foreign_keys<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<bool> {
        flag(conn, "foreign_keys")
    }

    /// At the top level `BEGIN IMMEDIATE`, taking the write lock at once, as
    /// `FkCatalog::transaction` does (a deferred transaction that reads
    /// first cannot write once another connection committed); inside a
    /// caller's transaction Diesel's savepoint.
    fn begin<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<()> {
        if depth(conn)? > 0 {
            return <C::TransactionManager as TransactionManager<C>>::begin_transaction(conn);
        }
        conn.batch_execute("BEGIN IMMEDIATE")?;
        let counted = match status(conn) {
            TransactionManagerStatus::Valid(valid) => {
                valid.change_transaction_depth(TransactionDepthChange::IncreaseDepth)
            }
            TransactionManagerStatus::InError => Err(DieselError::BrokenTransactionManager),
        };
        if let Err(error) = counted {
            let _ = conn.batch_execute("ROLLBACK");
            return Err(error);
        }
        Ok(())
    }

    fn defer<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _chosen: Chosen<'_>,
    ) -> QueryResult<SqliteDeferred> {
        let nested = depth(conn)? > 1;
        // A fresh cache: the tables' keys as they are in this transaction.
        let before = broken_rows(conn, &CatalogCache::default())?;
        let already = flag(conn, "defer_foreign_keys")?;
        if !already {
            conn.batch_execute("PRAGMA defer_foreign_keys = ON")?;
        }
        conn.batch_execute(&format!("SAVEPOINT {WORK}"))?;
        Ok(SqliteDeferred {
            turn_off: nested && !already,
            before,
        })
    }

    fn check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
        _chosen: Chosen<'_>,
        deferred: &SqliteDeferred,
    ) -> Result<(), CheckFailure> {
        // Read fresh, not from the catalog's cache: a key's PRAGMA id moves
        // when the table is re-created, and a remembered one would name
        // another key.
        let _ = cache;
        // Turned off, the pragma forgets what it counted, and a broken row
        // would commit.
        if !flag(conn, "defer_foreign_keys").map_err(CheckFailure::Database)? {
            return Err(CheckFailure::DeferralUndone(
                "the work turned PRAGMA defer_foreign_keys off, which makes SQLite forget the \
                 violations it counted until then"
                    .to_string(),
            ));
        }
        let cache = &CatalogCache::default();
        let now = broken_rows(conn, cache).map_err(CheckFailure::Database)?;
        // A row is taken for one broken before the work only when it is
        // known by its rowid and key values (in `main`, with a rowid); any
        // other broken row cannot be told apart from a new one, and counts
        // against the work.
        let new: Vec<&Broken> = now
            .iter()
            .filter(|row| row.values.is_none() || !deferred.before.contains(row))
            .collect();
        let Some(first) = new.first() else {
            return Ok(());
        };
        let violation =
            explain_first(conn, cache, first, new.len()).map_err(CheckFailure::Database)?;
        Err(CheckFailure::Broken {
            violation: Box::new(violation),
            rows: Some(new.len() as u64),
        })
    }

    fn name_clashes<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _chosen: &[ForeignKey],
    ) -> QueryResult<Vec<String>> {
        // SQLite defers every key at once, by no name.
        Ok(Vec::new())
    }

    fn restore<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        deferred: SqliteDeferred,
    ) -> QueryResult<()> {
        if deferred.turn_off {
            conn.batch_execute("PRAGMA defer_foreign_keys = OFF")?;
        }
        Ok(())
    }
}
