//! PostgreSQL: the catalog is `pg_constraint` ([`catalog`]), a failure is
//! explained from it ([`explain`]), inserts keep keys in input order
//! ([`insert`]) where the catalog proves it ([`key_order`]).

mod audit;
mod bulk_load;
mod catalog;
mod defer;
mod explain;
mod insert;
mod integrity;
mod key_order;

use diesel::pg::Pg;

use super::FkBackend;
use crate::fk::Database;

/// PostgreSQL's wire protocol counts bind parameters in 16 bits.
const BIND_LIMIT: usize = 65_535;

impl FkBackend for Pg {
    const DATABASE: Database = Database::Postgres;

    fn rows_per_statement(columns: usize) -> usize {
        (BIND_LIMIT / columns.max(1)).max(1)
    }

    /// Only the bind limit bounds a list.
    fn rows_per_values_list(values: usize) -> usize {
        Self::rows_per_statement(values)
    }
}
