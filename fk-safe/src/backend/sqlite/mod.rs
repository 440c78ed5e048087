//! SQLite: every failure reads `FOREIGN KEY constraint failed`, naming
//! nothing. The catalog is `PRAGMA foreign_key_list`; which rows broke which
//! key is `PRAGMA foreign_key_check`, which only sees violations that still
//! exist, so a failed write is replayed with the constraints deferred inside
//! a savepoint that is always rolled back (see [`replay`]).

mod audit;
mod bulk_load;
mod catalog;
mod defer;
mod explain;
mod insert;
mod inspect;
mod integrity;
mod key_order;
mod replay;

use diesel::sqlite::Sqlite;

use super::FkBackend;
use crate::fk::Database;

/// The only schema fk-safe reads on SQLite (attached databases are not).
const SCHEMA: &str = "main";

/// Names `main` as the violation's schema when nothing more precise is
/// known.
fn declare_main_schema(violation: &mut crate::fk::FkViolation) {
    if violation.schema().is_none() {
        violation.declare(crate::fk::Declaration {
            schema: Some(SCHEMA.to_string()),
            ..crate::fk::Declaration::default()
        });
    }
}

/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite (3.32 and later).
const BIND_LIMIT: usize = 32_766;

impl FkBackend for Sqlite {
    const DATABASE: Database = Database::Sqlite;

    fn rows_per_statement(columns: usize) -> usize {
        // Without columns, `DEFAULT VALUES` inserts one row per statement.
        BIND_LIMIT
            .checked_div(columns)
            .map_or(1, |rows| rows.max(1))
    }

    /// SQLite 3.50 slows down a thousandfold once a `VALUES` list holds
    /// about 65,000 values (measured: 32,000 rows of a key and a position
    /// in 0.2 s, 32,766 such rows in 117 s), so a list holds at most the
    /// bind limit's 32,766 values, bound or not.
    fn rows_per_values_list(values: usize) -> usize {
        Self::rows_per_statement(values)
    }
}
