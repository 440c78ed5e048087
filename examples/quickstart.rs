//! fk-safe in two minutes: write rows the right way, make the two classic
//! foreign-key mistakes, and see what fk-safe makes of them.
//!
//!     cargo run --example quickstart                                   # bundled SQLite
//!     DATABASE_URL=postgres://127.0.0.1/test cargo run --example quickstart
//!     DATABASE_URL=sqlite:///tmp/new.db cargo run --example quickstart  # a new SQLite file
//!
//! On PostgreSQL it works in its own schema, `fk_safe_quickstart`, which it
//! drops and recreates on every run. Without `DATABASE_URL` it uses a SQLite
//! file in the temp directory, made afresh on every run; a SQLite path or
//! `sqlite://` URL must name a file that does not exist yet. Any other URL
//! (`mysql://..`) is an error, and so is a backend this build lacks.

use std::process::ExitCode;

use diesel::prelude::*;
use fk_safe::{Error, FkCatalog, FkConnection, FkViolation, ViolationKind};
use fk_safe_suite::schema::{customers, orders};
use fk_safe_suite::Database;

/// The writes of the tour, in plain Diesel.
trait Shop: FkConnection {
    fn add_customer(&mut self, email: &str, name: &str) -> Result<i64, Error>;
    fn add_order(&mut self, customer_id: i64, total_cents: i64) -> Result<i64, Error>;
    fn delete_customer(&mut self, id: i64) -> Result<usize, Error>;
}

// Diesel statements are generic over the backend only through long trait
// bounds; the same code is compiled for each connection type instead.
macro_rules! shop_for {
    ($connection:ty) => {
        impl Shop for $connection {
            fn add_customer(&mut self, email: &str, name: &str) -> Result<i64, Error> {
                Ok(diesel::insert_into(customers::table)
                    .values((customers::email.eq(email), customers::name.eq(name)))
                    .returning(customers::id)
                    .get_result(self)?)
            }

            fn add_order(&mut self, customer_id: i64, total_cents: i64) -> Result<i64, Error> {
                Ok(diesel::insert_into(orders::table)
                    .values((
                        orders::customer_id.eq(customer_id),
                        orders::total_cents.eq(total_cents),
                    ))
                    .returning(orders::id)
                    .get_result(self)?)
            }

            fn delete_customer(&mut self, id: i64) -> Result<usize, Error> {
                Ok(diesel::delete(customers::table.find(id)).execute(self)?)
            }
        }
    };
}

#[cfg(feature = "postgres")]
shop_for!(diesel::PgConnection);
#[cfg(feature = "sqlite")]
shop_for!(diesel::SqliteConnection);

fn tour<C: Shop>(conn: &mut C) -> Result<(), Error> {
    // One catalog per database: it explains failures and caches what it read.
    let catalog = FkCatalog::new();

    println!("1. A customer and her order, parent first, in one transaction:");
    let (alice, order) = catalog.transaction(conn, |conn| {
        let alice = conn.add_customer("alice@example.com", "Alice")?;
        let order = conn.add_order(alice, 4_200)?;
        Ok((alice, order))
    })?;
    println!(
        "   customers.id = {alice} (alice@example.com), orders.id = {order} -> customer {alice}\n"
    );

    println!("2. The classic mistake: an order for customer 999, who does not exist.");
    let mistake = catalog.transaction(conn, |conn| conn.add_order(999, 1_000));
    report(mistake)?;

    println!("3. Deleting Alice while her order still points at her.");
    let mistake = catalog.transaction(conn, |conn| conn.delete_customer(alice));
    report(mistake)?;
    Ok(())
}

/// What an API handler would do: match on the violation, answer the client.
fn report<T>(result: Result<T, Error>) -> Result<(), Error> {
    let violation = match result {
        Err(Error::ForeignKey(violation)) => violation,
        Err(other) => return Err(other),
        Ok(_) => {
            println!("   (unexpectedly, the database accepted it)\n");
            return Ok(());
        }
    };
    println!("   error: {violation}");
    print_fields(&violation);
    let answer = match violation.kind() {
        ViolationKind::MissingParent => format!(
            "422 Unprocessable Entity: no {} with {}",
            violation.parent_table().unwrap_or("parent"),
            key_text(&violation),
        ),
        ViolationKind::StillReferenced => format!(
            "409 Conflict: still used by {}",
            violation.child_table().unwrap_or("other rows")
        ),
        _ => "500: foreign key failed".to_string(),
    };
    println!("   a handler answers: {answer}\n");
    Ok(())
}

fn key_text(violation: &FkViolation) -> String {
    let values: Vec<&str> = violation
        .key_values()
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_deref().unwrap_or("NULL"))
        .collect();
    format!(
        "{} = {}",
        violation.child_columns().join(", "),
        values.join(", ")
    )
}

fn print_fields(v: &FkViolation) {
    let or_dash = |s: Option<&str>| s.unwrap_or("-").to_string();
    println!("   kind:        {:?}", v.kind());
    println!("   constraint:  {}", or_dash(v.constraint()));
    let qualified = |schema: Option<&str>, table: Option<&str>| match schema {
        Some(schema) => format!("{schema}.{}", or_dash(table)),
        None => or_dash(table),
    };
    println!(
        "   child:       {} ({})",
        qualified(v.schema(), v.child_table()),
        v.child_columns().join(", ")
    );
    println!(
        "   parent:      {} ({})",
        qualified(v.parent_schema(), v.parent_table()),
        v.parent_columns().join(", ")
    );
    let values: Vec<&str> = v
        .key_values()
        .unwrap_or_default()
        .iter()
        .map(|value| value.as_deref().unwrap_or("NULL"))
        .collect();
    println!("   key values:  ({})", values.join(", "));
    println!(
        "   on delete:   {}   on update: {}",
        v.on_delete().map(|a| a.as_sql()).unwrap_or("-"),
        v.on_update().map(|a| a.as_sql()).unwrap_or("-")
    );
}

#[cfg(feature = "postgres")]
fn run_postgres(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = diesel::PgConnection::establish(url)?;
    diesel::sql_query("DROP SCHEMA IF EXISTS fk_safe_quickstart CASCADE").execute(&mut conn)?;
    diesel::sql_query("CREATE SCHEMA fk_safe_quickstart").execute(&mut conn)?;
    diesel::sql_query("SET search_path TO fk_safe_quickstart").execute(&mut conn)?;
    fk_safe_suite::migrate(&mut conn, fk_safe_suite::POSTGRES_MIGRATIONS)?;
    println!("fk-safe quickstart on PostgreSQL ({url}, schema fk_safe_quickstart)\n");
    Ok(tour(&mut conn)?)
}

/// On its own file in the temp directory, made afresh on every run; or on
/// the database `DATABASE_URL` names, which must not exist yet, so that the
/// tour never writes into a database of yours.
#[cfg(feature = "sqlite")]
fn run_sqlite(path: Option<&str>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = fk_safe_suite::new_sqlite_file(path, "fk-safe-quickstart.sqlite3")?;
    let mut conn = diesel::SqliteConnection::establish(&path)?;
    conn.enforce_foreign_keys()?;
    fk_safe_suite::migrate(&mut conn, fk_safe_suite::SQLITE_MIGRATIONS)?;
    println!("fk-safe quickstart on SQLite ({path})\n");
    Ok(tour(&mut conn)?)
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
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}
