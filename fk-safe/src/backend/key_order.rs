//! How the keys an INSERT writes are known, one answer per table and
//! transaction, from what the database will really evaluate for the key
//! column in that INSERT. Each backend gives the answer
//! ([`ReadKeyOrder::table_keys`]); shared code only
//! asks it how many rows a statement may carry and how returned keys pair
//! with rows. It never reasons about the database itself.
//!
//! The invariant: a multi-row statement's returned keys are paired with its
//! rows only when the backend proved, from the catalog, that the database
//! generates them in the statement's row order and nothing replaces them.
//! Anything it cannot prove is written one row per statement, where the
//! single returned key is the row's key whatever produced it.

use diesel::connection::LoadConnection;
use diesel::QueryResult;

use crate::fk::KeyValue;

/// How a backend knows the order of the keys its inserts generate.
pub trait ReadKeyOrder: diesel::backend::Backend + Sized {
    /// How the keys of `key_column` of `table` (rendered) follow the rows
    /// of one statement, read from what the database will evaluate for that
    /// column, for `rows` rows still to write. Good for the current
    /// transaction only: a schema change in between would make it stale.
    fn table_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        rows: usize,
    ) -> QueryResult<TableKeys>;

    /// Whether `known`, read before the first multi-row statement on
    /// `table`, still holds now that the statement ran and holds the locks
    /// it takes. On PostgreSQL the table lock does not cover the sequence:
    /// an `ALTER SEQUENCE` committed between the answer and the statement's
    /// first `nextval()` shows here, while later ones wait for this
    /// transaction. Asked once per table and transaction.
    fn key_order_still_holds<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        known: &TableKeys,
    ) -> QueryResult<bool>;
}

/// How the keys a multi-row statement generates follow its rows. Not
/// public API: part of what a backend answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrder {
    /// Drawn from an ascending, non-cycling sequence in the statement's row
    /// order (PostgreSQL: `INSERT .. SELECT .. ORDER BY ord`, where the
    /// default is evaluated after the sort), and nothing replaces them:
    /// sorted, the returned keys are the rows' keys in order.
    Ascending,
    /// Assigned one more than the largest, row after row, under the write
    /// lock (SQLite rowids, with room left below the largest possible
    /// rowid): sorted, they pair with the rows and are consecutive.
    Consecutive,
    /// Nothing proves an order: one row per statement. The reason, for the
    /// docs of a test and for anyone reading a statement log.
    RowByRow(String),
}

/// What a backend found about the keys of one table. Not public API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKeys {
    /// How generated keys follow the rows of a statement.
    pub(crate) generated: KeyOrder,
    /// `None` when a key a row brings is stored as given. Otherwise why it
    /// may not be (a trigger, a rule, a view): such rows go one per
    /// statement, and the stored key must be the given one.
    pub(crate) given_may_change: Option<String>,
    /// The sequence generated keys are drawn from, where the backend needs
    /// to look at it again (PostgreSQL), as the database names it.
    pub(crate) sequence: Option<String>,
}

impl TableKeys {
    /// Keys that are only known row by row, for `why`.
    pub(crate) fn row_by_row(why: impl Into<String>) -> Self {
        let why = why.into();
        TableKeys {
            generated: KeyOrder::RowByRow(why.clone()),
            given_may_change: Some(why),
            sequence: None,
        }
    }
}

impl KeyOrder {
    /// Whether one statement may carry several rows whose keys are generated.
    pub(crate) fn multi_row(&self) -> bool {
        !matches!(self, KeyOrder::RowByRow(_))
    }

    /// The keys of a statement's rows, in row order, from the keys it
    /// returned in any order; `None` when they do not pair (a count that
    /// differs, a duplicate, a gap where keys must be consecutive, several
    /// rows where the order is unknown): the caller aborts then.
    pub(crate) fn pair(&self, mut returned: Vec<KeyValue>, rows: usize) -> Option<Vec<KeyValue>> {
        if returned.len() != rows {
            return None;
        }
        if rows <= 1 {
            return Some(returned);
        }
        returned.sort_unstable();
        let follows = |a: &KeyValue, b: &KeyValue| match self {
            KeyOrder::Ascending => a < b,
            KeyOrder::Consecutive => match (a, b) {
                (KeyValue::Int(a), KeyValue::Int(b)) => a.checked_add(1) == Some(*b),
                _ => false,
            },
            KeyOrder::RowByRow(_) => false,
        };
        returned
            .windows(2)
            .all(|pair| follows(&pair[0], &pair[1]))
            .then_some(returned)
    }
}

#[cfg(test)]
mod tests {
    use super::KeyOrder;
    use crate::fk::KeyValue;

    fn ints(values: &[i64]) -> Vec<KeyValue> {
        values.iter().copied().map(KeyValue::Int).collect()
    }

    #[test]
    fn ascending_keys_pair_sorted() {
        let paired = KeyOrder::Ascending.pair(ints(&[7, 3, 40]), 3);
        assert_eq!(paired, Some(ints(&[3, 7, 40])));
        // A duplicate key cannot belong to two rows.
        assert_eq!(KeyOrder::Ascending.pair(ints(&[3, 3]), 2), None);
        assert_eq!(KeyOrder::Ascending.pair(ints(&[3]), 2), None);
    }

    #[test]
    fn consecutive_keys_have_no_gap() {
        assert_eq!(
            KeyOrder::Consecutive.pair(ints(&[11, 10, 12]), 3),
            Some(ints(&[10, 11, 12]))
        );
        assert_eq!(KeyOrder::Consecutive.pair(ints(&[10, 12]), 2), None);
        assert_eq!(
            KeyOrder::Consecutive.pair(ints(&[i64::MAX - 1, i64::MAX]), 2),
            Some(ints(&[i64::MAX - 1, i64::MAX]))
        );
    }

    #[test]
    fn unknown_order_pairs_one_row_only() {
        let order = KeyOrder::RowByRow("a trigger".into());
        assert_eq!(order.pair(ints(&[5]), 1), Some(ints(&[5])));
        assert_eq!(order.pair(ints(&[5, 6]), 2), None);
        assert!(!order.multi_row());
        assert!(KeyOrder::Ascending.multi_row());
    }
}
