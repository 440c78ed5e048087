//! A seed script: a realistic shop written as one graph, parents first, in
//! one transaction, with every foreign key filled from its parent's
//! generated id. Rows are found again by their natural keys, so running it
//! twice writes nothing new.
//!
//!     cargo run --example seed                                     # bundled SQLite
//!     DATABASE_URL=postgres://127.0.0.1/test cargo run --example seed
//!     DATABASE_URL=sqlite://shop.db cargo run --example seed        # a SQLite file of yours
//!
//! The SQLite database (in the system's temp directory, or the path or
//! `sqlite://` URL in `DATABASE_URL`) and the PostgreSQL schema
//! `fk_safe_seed` are kept between runs; delete them to start over. Any
//! other URL (`mysql://..`) is an error, and so is a backend this build
//! lacks.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use fk_safe::graph::{insert_graph, Graph, WriteRow};
use fk_safe::{FkConnection, FkOrdered};
use fk_safe_suite::models::{NewCustomer, NewProduct, Order, Product};
use fk_safe_suite::schema::{order_items, orders};
use fk_safe_suite::Database;

/// An imported order, found again by its reference.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = orders)]
#[diesel(belongs_to(fk_safe_suite::models::Customer, foreign_key = customer_id))]
#[fk(natural_key(reference))]
struct SeedOrder {
    customer_id: i64,
    total_cents: i64,
    reference: String,
}

/// An order line, found again by its line reference.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = order_items)]
#[diesel(belongs_to(Order, foreign_key = order_id))]
#[diesel(belongs_to(Product, foreign_key = product_id))]
#[fk(natural_key(line_ref))]
struct SeedItem {
    order_id: i64,
    product_id: i64,
    quantity: i32,
    line_ref: String,
}

const PRODUCTS: [(&str, &str, i64); 5] = [
    ("PEN-BLK", "Black pen", 250),
    ("PEN-RED", "Red pen", 250),
    ("NOTE-A5", "A5 notebook", 890),
    ("INK-BLU", "Blue ink", 1_200),
    ("CLIP-50", "Paper clips (50)", 310),
];

const CUSTOMERS: [(&str, &str); 6] = [
    ("ada@example.com", "Ada Lovelace"),
    ("alan@example.com", "Alan Turing"),
    ("grace@example.com", "Grace Hopper"),
    ("edsger@example.com", "Edsger Dijkstra"),
    ("barbara@example.com", "Barbara Liskov"),
    ("donald@example.com", "Donald Knuth"),
];

fn shop<DB>() -> Graph<DB>
where
    DB: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<DB>,
    NewCustomer: WriteRow<DB>,
    SeedOrder: WriteRow<DB>,
    SeedItem: WriteRow<DB>,
{
    let mut graph = Graph::new();
    let products: Vec<_> = PRODUCTS
        .iter()
        .map(|&(sku, name, price_cents)| {
            graph
                .get_or_insert(NewProduct {
                    sku: sku.into(),
                    name: name.into(),
                    price_cents,
                })
                .handle()
        })
        .collect();
    for (c, &(email, name)) in CUSTOMERS.iter().enumerate() {
        let customer = graph
            .get_or_insert(NewCustomer {
                email: email.into(),
                name: name.into(),
            })
            .handle();
        for o in 0..3 {
            let reference = format!("ORD-{}", 1000 + c * 3 + o);
            let lines = 2 + (c + o) % 3;
            let order = graph
                .get_or_insert(SeedOrder {
                    customer_id: 0,
                    total_cents: 0,
                    reference: reference.clone(),
                })
                .parent(customer)
                .handle();
            for line in 0..lines {
                graph
                    .get_or_insert(SeedItem {
                        order_id: 0,
                        product_id: 0,
                        quantity: 1 + line as i32,
                        line_ref: format!("{reference}/{}", line + 1),
                    })
                    .parent(order)
                    .parent(products[(c + o + line) % products.len()]);
            }
        }
    }
    graph
}

#[derive(Clone, Default)]
struct StatementCounter(Arc<AtomicUsize>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// How many rows of model `M` the graph holds, and how many of them were
/// new (the others existed and were found by their natural key).
fn new_of<M: FkOrdered>(ids: &fk_safe::graph::Ids) -> (usize, usize) {
    let existed = ids.all_existed::<M>();
    (existed.len(), existed.iter().filter(|&&e| !e).count())
}

fn run<C>(conn: &mut C) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
    NewCustomer: WriteRow<C::Backend>,
    SeedOrder: WriteRow<C::Backend>,
    SeedItem: WriteRow<C::Backend>,
{
    let graph = shop();
    let rows = graph.len();
    let statements = StatementCounter::default();
    conn.set_instrumentation(statements.clone());
    let ids = insert_graph(conn, &graph)?;
    let sent = statements.0.load(Ordering::SeqCst);
    conn.set_instrumentation(StatementCounter::default());

    println!("graph of {rows} rows: {sent} statements in one transaction");
    for (table, (rows, new)) in [
        ("products", new_of::<NewProduct>(&ids)),
        ("customers", new_of::<NewCustomer>(&ids)),
        ("orders", new_of::<SeedOrder>(&ids)),
        ("order_items", new_of::<SeedItem>(&ids)),
    ] {
        println!("  {table:<12} {rows:>3} rows, {new:>3} new");
    }
    let ada = ids.all::<NewCustomer>()[0];
    println!("ada@example.com is customers.id = {ada}; run again and nothing new is written");
    Ok(())
}

#[cfg(feature = "postgres")]
fn run_postgres(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use diesel::connection::SimpleConnection;

    let mut conn = diesel::PgConnection::establish(url)?;
    conn.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS fk_safe_seed; SET search_path TO fk_safe_seed",
    )?;
    fk_safe_suite::migrate(&mut conn, fk_safe_suite::POSTGRES_MIGRATIONS)?;
    println!("fk-safe seed on PostgreSQL ({url}, schema fk_safe_seed)");
    run(&mut conn)
}

#[cfg(feature = "sqlite")]
fn run_sqlite(path: Option<&str>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = match path {
        Some(path) => path.to_string(),
        None => std::env::temp_dir()
            .join("fk-safe-seed.sqlite3")
            .to_string_lossy()
            .into_owned(),
    };
    let mut conn = diesel::SqliteConnection::establish(&path)?;
    conn.enforce_foreign_keys()?;
    fk_safe_suite::migrate(&mut conn, fk_safe_suite::SQLITE_MIGRATIONS)?;
    println!("fk-safe seed on SQLite ({path})");
    run(&mut conn)
}

fn main() -> ExitCode {
    // A URL the example cannot use is an error naming the ones it can,
    // never a silent run on another database.
    let outcome = match fk_safe_suite::database_from_env() {
        Err(error) => Err(error.into()),
        #[cfg(feature = "postgres")]
        Ok(Database::Postgres(url)) => run_postgres(&url),
        #[cfg(feature = "sqlite")]
        Ok(Database::DefaultSqlite) => run_sqlite(None),
        #[cfg(feature = "sqlite")]
        Ok(Database::Sqlite(path)) => run_sqlite(Some(&path)),
        // `database_from_env` refuses the backends this build lacks.
        #[allow(unreachable_patterns)]
        Ok(other) => Err(format!("this build cannot open {other:?}").into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seed failed: {error}");
            ExitCode::FAILURE
        }
    }
}
