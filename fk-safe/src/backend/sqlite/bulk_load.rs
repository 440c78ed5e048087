//! SQLite's ways to load rows unchecked. `PRAGMA foreign_keys` cannot
//! change inside a transaction, so a connection that enforces foreign keys
//! defers them all (`PRAGMA defer_foreign_keys = ON`, which COMMIT and
//! ROLLBACK reset, but RELEASE and ROLLBACK TO do not, so a load in a
//! savepoint sets it back by hand); one that does not enforce them has
//! nothing to turn off. Either way every foreign key of the database went
//! unchecked and is checked afterwards.

use diesel::connection::LoadConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

#[derive(QueryableByName)]
struct SchemaRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

use super::catalog::read_flag;
use crate::backend::bulk_load::{Mechanism, SuspendChecks, SuspendFailed, Suspension};
use crate::backend::integrity::ReadRows;
use crate::fk::ForeignKey;

/// Whether `defer_foreign_keys` was on before the load.
pub struct SqliteSuspended {
    deferred_before: bool,
}

impl SuspendChecks for Sqlite {
    type Suspended = SqliteSuspended;

    fn suspend<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        all: &[ForeignKey],
        _chosen: &[ForeignKey],
        wanted: Option<Mechanism>,
        keep_orphans: bool,
    ) -> Result<Suspension<SqliteSuspended>, SuspendFailed> {
        let enforced = read_flag(conn, "foreign_keys")?;
        let deferred_before = read_flag(conn, "defer_foreign_keys")?;
        let mechanism = if enforced {
            Mechanism::DeferredChecks
        } else {
            Mechanism::ForeignKeysOff
        };
        if wanted.is_some_and(|wanted| wanted != mechanism) {
            return Err(SuspendFailed::Unavailable(format!(
                "this connection can only use {mechanism} (PRAGMA foreign_keys is {}; it cannot \
                 change inside a transaction)",
                if enforced { "ON" } else { "OFF" }
            )));
        }
        if enforced && keep_orphans {
            return Err(SuspendFailed::CannotKeep(
                "SQLite cannot commit rows that break a foreign key it enforces: keeping \
                 orphans takes a connection with PRAGMA foreign_keys = OFF"
                    .to_string(),
            ));
        }
        let effects = vec![format!(
            "every foreign key of the database went unchecked, so all of them (as the work left \
             them; {} before it) were checked afterwards",
            all.len()
        )];
        if enforced {
            conn.batch_execute("PRAGMA defer_foreign_keys = ON")?;
        }
        Ok(Suspension {
            mechanism,
            effects,
            state: SqliteSuspended { deferred_before },
        })
    }

    fn transaction_marker<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Option<String>> {
        // SQLite has no transaction id, but tells whether one is open: a
        // `BEGIN` inside a transaction fails and changes nothing, one
        // outside it succeeds (and is rolled back at once). A work that
        // ended the transaction and began another is not seen.
        Ok(Some(match conn.batch_execute("BEGIN") {
            Err(_) => "in a transaction".to_string(),
            Ok(()) => {
                conn.batch_execute("ROLLBACK")?;
                "outside any transaction".to_string()
            }
        }))
    }

    fn to_check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _suspension: &Suspension<SqliteSuspended>,
        all: &[ForeignKey],
    ) -> Result<Vec<(ForeignKey, Vec<String>)>, SuspendFailed> {
        // fk-safe reports on `main`; the foreign keys of the connection's
        // other schemas (TEMP, attached databases) went unchecked as well,
        // and are checked by SQLite's own check, which names no key.
        let schemas: Vec<SchemaRow> =
            diesel::sql_query("SELECT name FROM pragma_database_list WHERE name <> 'main'")
                .load(conn)?;
        for schema in schemas {
            let broken: Vec<CountRow> = diesel::sql_query(
                "SELECT COUNT(*) AS count FROM pragma_foreign_key_check(NULL, ?)",
            )
            .bind::<Text, _>(&schema.name)
            .load(conn)?;
            let rows = broken.first().map_or(0, |row| row.count);
            if rows > 0 {
                return Err(SuspendFailed::Unreported(format!(
                    "{rows} row{} of schema {:?} break{} a foreign key (SQLite's \
                     foreign_key_check); fk-safe reports on main only",
                    if rows == 1 { "" } else { "s" },
                    schema.name,
                    if rows == 1 { "s" } else { "" },
                )));
            }
        }
        all.iter()
            .map(|fk| Ok((fk.clone(), Sqlite::key_matches(conn, fk)?)))
            .collect()
    }

    fn resume<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _suspension: &Suspension<SqliteSuspended>,
        _kept: &[ForeignKey],
    ) -> QueryResult<Vec<String>> {
        // Deferred keys stay deferred until the transaction ends, where
        // SQLite checks them once more.
        Ok(Vec::new())
    }

    fn after_transaction<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<SqliteSuspended>,
    ) -> QueryResult<()> {
        if suspension.mechanism == Mechanism::DeferredChecks && !suspension.state.deferred_before {
            conn.batch_execute("PRAGMA defer_foreign_keys = OFF")?;
        }
        Ok(())
    }
}
