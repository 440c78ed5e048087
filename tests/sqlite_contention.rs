//! SQLite under write contention: fk-safe's transactions take the write lock
//! when they begin (`BEGIN IMMEDIATE`), so work that reads before it writes
//! waits for other writers instead of failing. A deferred transaction that
//! has read cannot upgrade to a write once another connection committed, and
//! SQLite fails that at once, without the busy handler.
#![cfg(feature = "sqlite")]

mod common;

use std::sync::Barrier;

use common::sqlite::SqliteDb;
use diesel::prelude::*;
use fk_safe::graph::{insert_graph, Graph};
use fk_safe::{Error, FkCatalog};
use fk_safe_suite::models::{NewCustomer, NewOrder, NewOrderItem};
use fk_safe_suite::schema::*;

const THREADS: usize = 4;
const GRAPHS_PER_THREAD: usize = 40;
const PRODUCTS: i64 = 20;

fn sql(conn: &mut SqliteConnection, statement: &str) {
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Puts the fresh database in WAL mode (kept in the file) and gives it
/// products.
fn wal_with_products(db: &SqliteDb) {
    let mut conn = db.conn();
    sql(&mut conn, "PRAGMA journal_mode = WAL");
    for id in 1..=PRODUCTS {
        sql(
            &mut conn,
            &format!("INSERT INTO products (id, sku, name, price_cents) VALUES ({id}, 'P{id}', 'Pen', 100)"),
        );
    }
}

fn connect(db: &SqliteDb, busy_timeout_ms: u32) -> SqliteConnection {
    let mut conn = db.conn();
    sql(
        &mut conn,
        &format!("PRAGMA busy_timeout = {busy_timeout_ms}"),
    );
    conn
}

/// A customer with an order whose items reference existing products, so
/// that `insert_graph` reads (the existence check) before it writes.
fn graph_on_existing_rows(thread: usize, n: usize) -> Graph<diesel::sqlite::Sqlite> {
    let mut graph = Graph::new();
    let customer = graph
        .add(NewCustomer {
            email: format!("t{thread}-{n}@example.com"),
            name: format!("Customer {thread}-{n}"),
        })
        .handle();
    let order = graph
        .add(NewOrder {
            customer_id: 0,
            total_cents: 100,
        })
        .parent(customer)
        .handle();
    for i in 0..3 {
        graph
            .add(NewOrderItem {
                order_id: 0,
                product_id: (n as i64 + i) % PRODUCTS + 1,
                quantity: 1,
            })
            .parent(order);
    }
    graph
}

fn concurrent_graphs_on_existing_rows_wait_for_the_write_lock(db: &SqliteDb) {
    wal_with_products(db);
    let start = Barrier::new(THREADS);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let start = &start;
                scope.spawn(move || {
                    // Generous: the point is waiting instead of failing, not speed.
                    let mut conn = connect(db, 60_000);
                    start.wait();
                    (0..GRAPHS_PER_THREAD)
                        .filter_map(|n| {
                            insert_graph(&mut conn, &graph_on_existing_rows(thread, n))
                                .err()
                                .map(|e| e.to_string())
                        })
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a writer thread panicked"))
            .collect()
    });
    let locked = failures
        .iter()
        .filter(|e| e.contains("database is locked"))
        .count();
    assert!(
        failures.is_empty(),
        "{} of {} graphs failed ({locked} with \"database is locked\"); first: {:?}",
        failures.len(),
        THREADS * GRAPHS_PER_THREAD,
        failures.first()
    );
    let mut conn = db.conn();
    let customers: i64 = customers::table.count().get_result(&mut conn).unwrap();
    let items: i64 = order_items::table.count().get_result(&mut conn).unwrap();
    assert_eq!(customers, (THREADS * GRAPHS_PER_THREAD) as i64);
    assert_eq!(items, (THREADS * GRAPHS_PER_THREAD * 3) as i64);
}

fn work_that_reads_first_holds_the_write_lock_from_the_start(db: &SqliteDb) {
    wal_with_products(db);
    let mut conn = connect(db, 0);
    // Does not wait: either it gets the lock at once or it fails.
    let mut other = connect(db, 0);
    let result = FkCatalog::new().transaction(&mut conn, |c| {
        let before: i64 = customers::table.count().get_result(c)?;
        let intruder = diesel::sql_query(
            "INSERT INTO customers (email, name) VALUES ('other@example.com', 'Other')",
        )
        .execute(&mut other)
        .map_err(|e| e.to_string());
        diesel::insert_into(customers::table)
            .values((
                customers::email.eq("mine@example.com"),
                customers::name.eq("Mine"),
            ))
            .execute(c)?;
        Ok((before, intruder))
    });
    let (before, intruder) = match result {
        Ok(seen) => seen,
        Err(Error::Database(error)) => {
            panic!("the transaction lost its write to another writer: {error}")
        }
        Err(other) => panic!("{other:?}"),
    };
    assert_eq!(before, 0);
    let refused = intruder.expect_err("no other writer gets in while the transaction runs");
    assert!(refused.contains("database is locked"), "{refused}");
    let emails: Vec<String> = customers::table
        .select(customers::email)
        .load(&mut conn)
        .unwrap();
    assert_eq!(emails, ["mine@example.com"]);
}

fn a_busy_database_is_a_plain_error_before_the_work_runs(db: &SqliteDb) {
    wal_with_products(db);
    let mut holder = connect(db, 0);
    sql(&mut holder, "BEGIN IMMEDIATE");
    let mut conn = connect(db, 0);
    let mut runs = 0;
    let result = FkCatalog::new().transaction(&mut conn, |_| {
        runs += 1;
        Ok(())
    });
    let Err(Error::Database(error)) = result else {
        panic!("{result:?}");
    };
    assert!(error.to_string().contains("database is locked"), "{error}");
    assert_eq!(runs, 0);
    sql(&mut holder, "ROLLBACK");
    // Nothing was left open: the connection begins a transaction of its own.
    conn.immediate_transaction(|_| Ok::<_, diesel::result::Error>(()))
        .unwrap();
    FkCatalog::new().transaction(&mut conn, |_| Ok(())).unwrap();
}

common::on_sqlite! {
    concurrent_graphs_on_existing_rows_wait_for_the_write_lock with db,
    work_that_reads_first_holds_the_write_lock_from_the_start with db,
    a_busy_database_is_a_plain_error_before_the_work_runs with db,
}
