//! A bulk load with the foreign-key checks off, as an importer does when its
//! files come in any order: children before their parents, in one
//! transaction, always followed by an orphan check before it commits.
//!
//!     cargo run --example bulk_load                                   # bundled SQLite
//!     DATABASE_URL=postgres://127.0.0.1/test cargo run --example bulk_load
//!     DATABASE_URL=sqlite:///tmp/new.db cargo run --example bulk_load  # a new SQLite file
//!
//! It loads an export whose order lines come first, then their orders, then
//! the customers and products: once with one order line that points at an
//! order the export lacks (rejected, the orphan named, nothing kept), then
//! the same export without it (committed). On PostgreSQL it works in its own
//! schema, `fk_safe_bulk_load`, which it drops and recreates on every run;
//! on SQLite in a new file, in the temp directory unless `DATABASE_URL`
//! names one that does not exist yet.

use std::process::ExitCode;

#[cfg(feature = "postgres")]
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fk_safe::integrity::bulk_load::{load_unchecked, BulkLoadError, BulkLoadOptions};
use fk_safe::integrity::orphans::{orphans, OrphanOptions};
use fk_safe::{FkCatalog, FkConnection};
use fk_safe_suite::Database;

/// The export, in the order its files arrive: children first.
struct Export {
    order_items: Vec<(i64, i64, i64, i32)>,
    orders: Vec<(i64, i64, i64)>,
    customers: Vec<(i64, &'static str, &'static str)>,
    products: Vec<(i64, &'static str, &'static str, i64)>,
}

fn export() -> Export {
    Export {
        // (id, order_id, product_id, quantity)
        order_items: vec![(1, 100, 10, 2), (2, 100, 11, 1), (3, 101, 10, 5)],
        // (id, customer_id, total_cents)
        orders: vec![(100, 7, 4_500), (101, 8, 7_500)],
        customers: vec![
            (7, "ada@example.com", "Ada"),
            (8, "grace@example.com", "Grace"),
        ],
        products: vec![(10, "mug", "Mug", 1_500), (11, "tea", "Tea", 1_500)],
    }
}

/// `'text'`, quoted for SQL.
fn text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The export as INSERT statements, in the order the files came.
fn statements(export: &Export) -> String {
    let values = |rows: Vec<String>| rows.join(", ");
    format!(
        "INSERT INTO order_items (id, order_id, product_id, quantity) VALUES {};
         INSERT INTO orders (id, customer_id, total_cents) VALUES {};
         INSERT INTO customers (id, email, name) VALUES {};
         INSERT INTO products (id, sku, name, price_cents) VALUES {};",
        values(
            export
                .order_items
                .iter()
                .map(|(id, order, product, quantity)| format!(
                    "({id}, {order}, {product}, {quantity})"
                ))
                .collect()
        ),
        values(
            export
                .orders
                .iter()
                .map(|(id, customer, total)| format!("({id}, {customer}, {total})"))
                .collect()
        ),
        values(
            export
                .customers
                .iter()
                .map(|(id, email, name)| format!("({id}, {}, {})", text(email), text(name)))
                .collect()
        ),
        values(
            export
                .products
                .iter()
                .map(|(id, sku, name, price)| format!(
                    "({id}, {}, {}, {price})",
                    text(sku),
                    text(name)
                ))
                .collect()
        ),
    )
}

/// Both loads, in `schema` (the example's own).
fn load<C: FkConnection>(
    conn: &mut C,
    schema: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let catalog = FkCatalog::new();
    let options = BulkLoadOptions::new();

    // 1. An order line whose order is not in the export.
    let mut broken = export();
    broken.order_items.push((4, 999, 11, 1));
    println!("1. Loading an export with one order line for order 999, which it lacks:");
    match load_unchecked(conn, &catalog, &options, |conn| {
        conn.batch_execute(&statements(&broken))
    }) {
        Err(BulkLoadError::Orphans { report, mechanism }) => {
            println!("   checks off by {mechanism}; rejected and rolled back:");
            for line in report.to_string().lines() {
                println!("   {line}");
            }
            let orphan = report
                .broken()
                .flat_map(|constraint| &constraint.sample)
                .next()
                .ok_or("the report names no orphan")?;
            println!(
                "   the orphan: order_items.order_id = {}, but no orders.id = {}",
                orphan.child_key[0].as_deref().unwrap_or("NULL"),
                orphan.missing_parent_key[0].1.as_deref().unwrap_or("NULL"),
            );
        }
        Err(other) => return Err(format!("the load failed otherwise: {other}").into()),
        Ok(_) => return Err("the load with an orphan was committed".into()),
    }
    let now = orphans(conn, &catalog, &OrphanOptions::new().schema(schema))?;
    println!("   the schema afterwards: {now}\n");

    // 2. The same export without it.
    println!("2. Loading the export without that line:");
    let loaded = load_unchecked(conn, &catalog, &options, |conn| {
        conn.batch_execute(&statements(&export()))
    })?;
    println!("   committed, checks off by {}", loaded.mechanism);
    for effect in &loaded.effects {
        println!("   - {effect}");
    }
    println!("   orphan check: {}", loaded.report);
    Ok(())
}

#[cfg(feature = "postgres")]
fn run_postgres(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = diesel::PgConnection::establish(url)?;
    conn.batch_execute(
        "DROP SCHEMA IF EXISTS fk_safe_bulk_load CASCADE; CREATE SCHEMA fk_safe_bulk_load;
         SET search_path TO fk_safe_bulk_load",
    )?;
    fk_safe_suite::migrate(&mut conn, fk_safe_suite::POSTGRES_MIGRATIONS)?;
    println!("fk-safe bulk load on PostgreSQL ({url}, schema fk_safe_bulk_load)\n");
    load(&mut conn, "fk_safe_bulk_load")
}

#[cfg(feature = "sqlite")]
fn run_sqlite(path: Option<&str>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = fk_safe_suite::new_sqlite_file(path, "fk-safe-bulk-load.sqlite3")?;
    let mut conn = diesel::SqliteConnection::establish(&path)?;
    conn.enforce_foreign_keys()?;
    fk_safe_suite::migrate(&mut conn, fk_safe_suite::SQLITE_MIGRATIONS)?;
    println!("fk-safe bulk load on SQLite ({path})\n");
    load(&mut conn, "main")
}

fn main() -> ExitCode {
    let outcome = match fk_safe_suite::database_from_env() {
        Err(error) => Err(error.into()),
        #[cfg(feature = "postgres")]
        Ok(Database::Postgres(url)) => run_postgres(&url),
        #[cfg(feature = "sqlite")]
        Ok(Database::DefaultSqlite) => run_sqlite(None),
        #[cfg(feature = "sqlite")]
        Ok(Database::Sqlite(path)) => run_sqlite(Some(&path)),
        #[allow(unreachable_patterns)]
        Ok(other) => Err(format!("this build cannot open {other:?}").into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bulk_load failed: {error}");
            ExitCode::FAILURE
        }
    }
}
