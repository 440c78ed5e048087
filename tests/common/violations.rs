//! Helpers of the foreign-key violation tests (tests/violations.rs and the
//! two backends' own files), written once for both backends.

use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::methods::ExecuteDsl;
use fk_safe::{Error, FkCatalog, FkConnection, FkViolation};

/// Runs `statement`, which must succeed.
pub fn sql<C>(conn: &mut C, statement: &str)
where
    C: Connection,
    SqlQuery: ExecuteDsl<C>,
{
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Runs `work` through the catalog and returns the explained violation.
pub fn violation_of<C: FkConnection, T: std::fmt::Debug>(
    conn: &mut C,
    work: impl FnMut(&mut C) -> Result<T, Error>,
) -> Box<FkViolation> {
    match FkCatalog::new().transaction(conn, work) {
        Err(Error::ForeignKey(v)) => v,
        other => panic!("expected a foreign-key violation, got {other:?}"),
    }
}

/// The violation's key values, as `&str`s to compare with.
pub fn values(v: &FkViolation) -> Option<Vec<Option<&str>>> {
    v.key_values()
        .map(|values| values.iter().map(|v| v.as_deref()).collect())
}

/// A customer named Alice with the key the database picks.
#[cfg(feature = "postgres")]
pub fn new_customer(conn: &mut PgConnection, email: &str) -> i64 {
    use fk_safe_suite::schema::customers;
    diesel::insert_into(customers::table)
        .values((customers::email.eq(email), customers::name.eq("Alice")))
        .returning(customers::id)
        .get_result(conn)
        .unwrap()
}

/// An order of `customer` with the key the database picks.
#[cfg(feature = "postgres")]
pub fn new_order(conn: &mut PgConnection, customer: i64) -> i64 {
    use fk_safe_suite::schema::orders;
    diesel::insert_into(orders::table)
        .values(orders::customer_id.eq(customer))
        .returning(orders::id)
        .get_result(conn)
        .unwrap()
}

/// Customer 1 (Alice) with order 10.
#[cfg(feature = "sqlite")]
pub fn seed_customer_with_order(conn: &mut SqliteConnection) {
    sql(
        conn,
        "INSERT INTO customers (id, email, name) VALUES (1, 'alice@example.com', 'Alice')",
    );
    sql(conn, "INSERT INTO orders (id, customer_id) VALUES (10, 1)");
}
