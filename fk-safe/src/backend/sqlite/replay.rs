//! `FkCatalog::transaction` on SQLite.
//!
//! At the top level the work runs in a transaction that takes the write lock
//! when it begins (`BEGIN IMMEDIATE`): a deferred transaction that reads first
//! cannot upgrade to a write once another connection has committed, and
//! SQLite fails that at once, without the busy handler. Inside a caller's
//! transaction the work runs in a savepoint, under whatever lock the caller
//! took.
//!
//! Either way the work runs inside a savepoint (`fk_safe_work`) of a
//! transaction that stays open until fk-safe has explained a failure, so the
//! explanation sees the data the failing work saw and no other writer gets
//! in between: a statement that failed on a foreign key had already written,
//! so the write lock is held until the transaction ends.
//! - A statement failed on a foreign key: back to the savepoint, the work is
//!   replayed once with the constraints deferred inside another savepoint
//!   (`fk_safe_replay`, always rolled back), and `PRAGMA foreign_key_check`
//!   lists the rows it left without their parent.
//! - `COMMIT` failed on a deferred key: the transaction is still open with
//!   the work's rows in place, so they are checked as they are; the work
//!   does not run again.
//!
//! Whether an orphan broke the child or the parent side is then decided in
//! the state before the work (back to the savepoint), and everything is
//! rolled back.

use diesel::connection::{
    Connection, LoadConnection, TransactionDepthChange, TransactionManager,
    TransactionManagerStatus,
};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sqlite::Sqlite;

use super::catalog::{read_flag, table_foreign_keys};
use super::declare_main_schema;
use super::inspect::{explain_restrict, parent_exists, row_values, CheckRow};
use crate::cache::CatalogCache;
use crate::error::Error;
use crate::fk::{Declaration, FkViolation, ForeignKey, ViolationKind};

/// The savepoint the work runs in.
const WORK: &str = "fk_safe_work";
/// The savepoint the replay runs in, always rolled back.
const REPLAY: &str = "fk_safe_replay";

/// Where the work runs.
#[derive(Clone, Copy)]
enum Level {
    /// In fk-safe's own `BEGIN IMMEDIATE` transaction.
    Top,
    /// In a savepoint of the caller's transaction.
    Nested,
}

/// Diesel's transaction state of `conn`. Diesel begins `BEGIN IMMEDIATE`
/// only for `SqliteConnection` itself (`immediate_transaction`), not for any
/// connection whose backend is SQLite (r2d2's `PooledConnection`), so
/// fk-safe begins it as Diesel's `AnsiTransactionManager::begin_transaction_sql`
/// does: it runs the SQL and counts the transaction in this state, which
/// every Diesel connection exposes through its transaction manager.
fn status<C: Connection>(conn: &mut C) -> &mut TransactionManagerStatus {
    <C::TransactionManager as TransactionManager<C>>::transaction_manager_status_mut(conn)
}

fn change_depth<C: Connection>(conn: &mut C, change: TransactionDepthChange) -> QueryResult<()> {
    match status(conn) {
        TransactionManagerStatus::Valid(valid) => valid.change_transaction_depth(change),
        TransactionManagerStatus::InError => Err(DieselError::BrokenTransactionManager),
    }
}

fn begin<C: Connection<Backend = Sqlite>>(conn: &mut C) -> QueryResult<Level> {
    if status(conn).transaction_depth()?.is_some() {
        conn.batch_execute(&format!("SAVEPOINT {WORK}"))?;
        return Ok(Level::Nested);
    }
    // One batch, so that a statement counter sees one statement, as for
    // Diesel's `BEGIN`.
    if let Err(error) = conn.batch_execute(&format!("BEGIN IMMEDIATE; SAVEPOINT {WORK}")) {
        // A failed BEGIN IMMEDIATE (busy) leaves nothing open, and this
        // ROLLBACK then only reports that; a failed SAVEPOINT after it leaves
        // the transaction open, which this ends. The error returned is the
        // one that stopped the begin.
        let _ = conn.batch_execute("ROLLBACK");
        return Err(error);
    }
    if let Err(error) = change_depth(conn, TransactionDepthChange::IncreaseDepth) {
        let _ = conn.batch_execute("ROLLBACK");
        return Err(error);
    }
    Ok(Level::Top)
}

/// Undoes the work and ends its level, then returns `error`. A failed
/// rollback is returned instead (as Diesel's own `transaction` does): the
/// connection's state is then what the caller must know about.
fn roll_back<C, T>(conn: &mut C, level: Level, error: Error) -> Result<T, Error>
where
    C: Connection<Backend = Sqlite>,
{
    let undone = match level {
        Level::Top => <C::TransactionManager as TransactionManager<C>>::rollback_transaction(conn),
        Level::Nested => conn.batch_execute(&format!("ROLLBACK TO {WORK}; RELEASE {WORK}")),
    };
    match undone {
        Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(error),
        Err(rollback) => Err(Error::Database(rollback)),
    }
}

/// `FkCatalog::transaction` on SQLite: see the module documentation.
pub(super) fn run<C, T, F>(conn: &mut C, cache: &CatalogCache, mut work: F) -> Result<T, Error>
where
    C: LoadConnection<Backend = Sqlite>,
    F: FnMut(&mut C) -> Result<T, Error>,
{
    let level = begin(conn).map_err(Error::Database)?;
    match work(conn) {
        Ok(value) => match level {
            Level::Nested => {
                conn.batch_execute(&format!("RELEASE {WORK}"))
                    .map_err(Error::Database)?;
                Ok(value)
            }
            Level::Top => commit(conn, cache, value),
        },
        // Already explained by a transaction nested inside `work`.
        Err(Error::ForeignKey(violation)) if violation.child_table().is_some() => {
            roll_back(conn, level, Error::ForeignKey(violation))
        }
        Err(Error::ForeignKey(mut violation)) => {
            explain_failed_statement(conn, cache, &mut work, &mut violation);
            finish(&mut violation);
            roll_back(conn, level, Error::ForeignKey(violation))
        }
        Err(other) => roll_back(conn, level, other),
    }
}

/// Commits fk-safe's own transaction, with the work's savepoint still open,
/// so that a deferred key that fails the `COMMIT` is explained with the
/// work's rows in place and the state before them one `ROLLBACK TO` away.
fn commit<C, T>(conn: &mut C, cache: &CatalogCache, value: T) -> Result<T, Error>
where
    C: LoadConnection<Backend = Sqlite>,
{
    let Err(failed) = conn.batch_execute("COMMIT") else {
        change_depth(conn, TransactionDepthChange::DecreaseDepth).map_err(Error::Database)?;
        return Ok(value);
    };
    // Some failures end the transaction; Diesel's SQLite connection then
    // resets its state, and there is nothing left to roll back.
    if status(conn)
        .transaction_depth()
        .map_err(Error::Database)?
        .is_none()
    {
        return Err(Error::from(failed));
    }
    match Error::from(failed) {
        Error::ForeignKey(mut violation) => {
            explain_failed_commit(conn, cache, &mut violation);
            finish(&mut violation);
            roll_back(conn, Level::Top, Error::ForeignKey(violation))
        }
        other => roll_back(conn, Level::Top, other),
    }
}

fn finish(violation: &mut FkViolation) {
    declare_main_schema(violation);
}

/// A row that broke a key.
struct Orphan {
    fk: ForeignKey,
    rowid: Option<i64>,
    values: Option<Vec<Option<String>>>,
}

/// The rows that break a key now, with their key values.
fn orphans<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
) -> QueryResult<Vec<Orphan>> {
    let broken: Vec<CheckRow> = diesel::sql_query("PRAGMA foreign_key_check").load(conn)?;
    let mut orphans = Vec::with_capacity(broken.len());
    for row in broken {
        let keys = table_foreign_keys(conn, cache, &row.table)?;
        let Some((_, fk)) = keys.iter().find(|(id, _)| *id == row.fkid) else {
            continue;
        };
        let values = match row.rowid {
            Some(rowid) => row_values(conn, &fk.table, &fk.columns, rowid)?,
            None => None,
        };
        orphans.push(Orphan {
            fk: fk.clone(),
            rowid: row.rowid,
            values,
        });
    }
    Ok(orphans)
}

/// What the replay found out.
enum Replay {
    /// It ran to the end; these rows were left without their parent.
    Seen(Vec<Orphan>),
    /// It did not run to the end, or could not be undone: why, for the note.
    Failed(String),
}

/// Replays `work` with every constraint deferred in a savepoint that is
/// always rolled back, and lists the rows it left without their parent.
/// Errors are the catalog's (reading the orphans); the replay's own
/// failures are a [`Replay::Failed`].
fn replay<C, T, F>(conn: &mut C, cache: &CatalogCache, work: &mut F) -> QueryResult<Replay>
where
    C: LoadConnection<Backend = Sqlite>,
    F: FnMut(&mut C) -> Result<T, Error>,
{
    let not_run = |error: &dyn std::fmt::Display| {
        Replay::Failed(format!(
            "The work could not be replayed to find the broken key: {error}"
        ))
    };
    let deferred_before = match read_flag(conn, "defer_foreign_keys") {
        Ok(deferred) => deferred,
        Err(error) => return Ok(not_run(&error)),
    };
    if let Err(error) = conn.batch_execute(&format!(
        "SAVEPOINT {REPLAY}; PRAGMA defer_foreign_keys = ON"
    )) {
        // A savepoint left open is undone with the work's own.
        return Ok(not_run(&error));
    }
    let seen = match work(conn) {
        Ok(_) => orphans(conn, cache).map(Replay::Seen),
        // Deferred, the keys are checked at COMMIT only, which the replay
        // never reaches; a foreign-key failure means the work checks keys
        // at once anyway, and stopped where the first run did.
        Err(Error::ForeignKey(again)) => Ok(Replay::Failed(format!(
            "Replaying the work with the constraints deferred failed on a foreign key again \
             ({}), so it stopped where the work did and what it left does not show which key \
             broke (does the work turn PRAGMA defer_foreign_keys off?)",
            again
                .diesel_error()
                .map_or_else(|| again.to_string(), |error| error.to_string())
        ))),
        Err(error) => Ok(Replay::Failed(format!(
            "Replaying the work to find the broken key failed: {error}"
        ))),
    };
    // ROLLBACK TO and RELEASE leave `defer_foreign_keys` as it is (only
    // COMMIT and ROLLBACK reset it), so it is set back by hand.
    let undone = conn.batch_execute(&format!("ROLLBACK TO {REPLAY}; RELEASE {REPLAY}"));
    let restored = if deferred_before {
        Ok(())
    } else {
        conn.batch_execute("PRAGMA defer_foreign_keys = OFF")
    };
    if let Err(error) = undone {
        return Ok(Replay::Failed(format!(
            "The replay of the work could not be undone before telling the failing side: {error}"
        )));
    }
    if let Err(error) = restored {
        return Ok(Replay::Failed(format!(
            "PRAGMA defer_foreign_keys could not be set back after the replay: {error}"
        )));
    }
    seen
}

/// A statement of the work failed on a foreign key: back to the state before
/// the work, replay it deferred, and conclude from what it left.
fn explain_failed_statement<C, T, F>(
    conn: &mut C,
    cache: &CatalogCache,
    work: &mut F,
    violation: &mut FkViolation,
) where
    C: LoadConnection<Backend = Sqlite>,
    F: FnMut(&mut C) -> Result<T, Error>,
{
    if let Err(error) = conn.batch_execute(&format!("ROLLBACK TO {WORK}")) {
        violation.set_note(format!(
            "The work could not be replayed to find the broken key: going back to the state \
             before it failed: {error}"
        ));
        return;
    }
    let orphans = match replay(conn, cache, work) {
        Ok(Replay::Seen(orphans)) => orphans,
        Ok(Replay::Failed(why)) => {
            violation.set_note(why);
            return;
        }
        Err(error) => {
            violation.set_catalog_error(Some(error.to_string()));
            return;
        }
    };
    let nothing_left = "Replaying the work on the same data with the constraints deferred left no \
                        row without its parent: a later statement of the same work supplied what \
                        the failing one lacked (a child written before its parent?). Write parents \
                        first, or let insert_graph order the rows";
    if let Err(error) = conclude(conn, cache, orphans, violation, nothing_left) {
        violation.set_catalog_error(Some(error.to_string()));
    }
}

/// `COMMIT` failed on a deferred key: the work's rows are still there.
fn explain_failed_commit<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
    violation: &mut FkViolation,
) {
    let orphans = match orphans(conn, cache) {
        Ok(orphans) => orphans,
        Err(error) => {
            violation.set_catalog_error(Some(error.to_string()));
            return;
        }
    };
    if let Err(error) = conn.batch_execute(&format!("ROLLBACK TO {WORK}")) {
        violation.set_note(format!(
            "The state before the work could not be restored to tell the failing side: {error}"
        ));
        return;
    }
    let nothing_left = "COMMIT failed on a deferred foreign key, but PRAGMA foreign_key_check \
                        found no row without its parent";
    if let Err(error) = conclude(conn, cache, orphans, violation, nothing_left) {
        violation.set_catalog_error(Some(error.to_string()));
    }
}

/// Decides, in the state before the work, which side an orphan broke:
/// the same row with the same key existed and its parent did too, so the
/// parent went away (still referenced); the row is new or was re-pointed
/// (missing parent); or it was an orphan already (`None`: not ours).
fn side_of<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    orphan: &Orphan,
) -> QueryResult<Option<ViolationKind>> {
    let (Some(rowid), Some(values)) = (orphan.rowid, &orphan.values) else {
        return Ok(Some(ViolationKind::Undetermined));
    };
    let before = row_values(conn, &orphan.fk.table, &orphan.fk.columns, rowid)?;
    if before.as_ref() != Some(values) {
        return Ok(Some(ViolationKind::MissingParent));
    }
    if parent_exists(conn, &orphan.fk, rowid)? {
        Ok(Some(ViolationKind::StillReferenced))
    } else {
        Ok(None)
    }
}

/// Completes `violation` from the orphans the work left, in the state
/// before the work; `nothing_left` is the note when none is the work's.
fn conclude<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
    orphans: Vec<Orphan>,
    violation: &mut FkViolation,
    nothing_left: &str,
) -> QueryResult<()> {
    let mut broken: Vec<(ViolationKind, Orphan)> = Vec::new();
    for orphan in orphans {
        if let Some(kind) = side_of(conn, &orphan)? {
            broken.push((kind, orphan));
        }
    }
    let mut keys: Vec<&ForeignKey> = Vec::new();
    for (_, orphan) in &broken {
        if !keys.contains(&&orphan.fk) {
            keys.push(&orphan.fk);
        }
    }
    match keys.as_slice() {
        [] if violation.kind() == ViolationKind::StillReferenced => {
            explain_restrict(conn, cache, violation);
        }
        [] => violation.set_note(nothing_left.to_string()),
        [fk] => {
            let fk = (*fk).clone();
            let kinds: Vec<ViolationKind> = broken.iter().map(|(kind, _)| *kind).collect();
            let values: Vec<&Option<Vec<Option<String>>>> =
                broken.iter().map(|(_, orphan)| &orphan.values).collect();
            violation.set_kind(if kinds.iter().all(|k| *k == kinds[0]) {
                kinds[0]
            } else {
                ViolationKind::Undetermined
            });
            // Several rows broke the key: their values are named only when
            // they agree, since SQLite does not say which row failed first.
            violation.set_key_values(if values.iter().all(|v| *v == values[0]) {
                values[0].clone()
            } else {
                None
            });
            violation.declare(Declaration::from(&fk));
        }
        several => {
            let names: Vec<String> = several
                .iter()
                .map(|fk| format!("{}.({})", fk.table, fk.columns.join(", ")))
                .collect();
            violation.set_note(format!(
                "The work left rows breaking {} foreign keys ({}); SQLite does not say which \
                 statement failed first, so none is named",
                several.len(),
                names.join(", ")
            ));
        }
    }
    Ok(())
}
