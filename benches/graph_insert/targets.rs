//! Backends: a database in its initial state, on demand.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fk_safe::FkConnection;

use crate::baselines::BenchConn;
use crate::data::{
    email, item_product, item_quantity, name, order_total, ITEMS_PER_ORDER, ORDERS_PER_CUSTOMER,
    PRODUCTS,
};
use crate::instrumentation::schedstat;
use crate::variants::Variant;
use crate::{Context, Res};

pub trait Target {
    type Conn: BenchConn;

    fn conn(&mut self) -> &mut Self::Conn;
    /// Products filled, every other table empty; returns the first product id.
    fn reset(&mut self) -> Res<i64>;
    /// CPU time of the server process (PostgreSQL's backend), if known.
    fn server_cpu(&self) -> Option<Duration>;
    /// The `server_limit` variant.
    fn server_limit(&mut self, n: usize, first_product: i64) -> Res<()>;
    fn version(&mut self) -> String;
    /// Where a child process finds the database.
    fn location(&self) -> String;
    fn default_per_row_max_rows(&self) -> Option<usize>;
    /// Whether this backend runs `variant`.
    fn supports(&self, variant: Variant) -> bool;
    /// The `probe_pg_unnest` variant.
    fn unnest_probe(&mut self, n: usize, first_product: i64) -> Res<()>;
}

pub fn pg_base_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into())
}

/// The benchmark's own PostgreSQL schema, dropped when the run ends.
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    pub fn create() -> Res<Self> {
        let name = format!("fk_safe_bench_{}", std::process::id());
        let mut admin = PgConnection::establish(&pg_base_url()).map_err(|e| {
            format!(
                "PostgreSQL is not reachable at {}: {e} (set DATABASE_URL, or \
                 FK_SAFE_BENCH_BACKENDS=sqlite)",
                pg_base_url()
            )
        })?;
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .ctx("create the benchmark schema")?;
        Ok(PgSchema { name })
    }

    pub fn url(&self) -> String {
        let base = pg_base_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}options=-c%20search_path%3D{}", self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&pg_base_url()) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

pub struct PgTarget {
    pub conn: PgConnection,
    pub url: String,
    pub backend_pid: i64,
}

impl PgTarget {
    pub fn connect(url: &str, migrate: bool) -> Res<Self> {
        let mut conn = PgConnection::establish(url).ctx("connect to PostgreSQL")?;
        if migrate {
            fk_safe_suite::migrate(&mut conn, fk_safe_suite::POSTGRES_MIGRATIONS)
                .map_err(|e| format!("migrate the benchmark schema: {e}"))?;
            // No autovacuum or autoanalyze of the benchmark's tables in the
            // middle of a later variant.
            conn.batch_execute(
                "ALTER TABLE customers SET (autovacuum_enabled = false); \
                 ALTER TABLE orders SET (autovacuum_enabled = false); \
                 ALTER TABLE order_items SET (autovacuum_enabled = false); \
                 ALTER TABLE products SET (autovacuum_enabled = false)",
            )
            .ctx("turn autovacuum off for the benchmark tables")?;
        }
        let backend_pid = conn.scalar("SELECT CAST(pg_backend_pid() AS BIGINT) AS n")?;
        Ok(PgTarget {
            conn,
            url: url.to_string(),
            backend_pid,
        })
    }
}

impl Target for PgTarget {
    type Conn = PgConnection;

    fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    fn reset(&mut self) -> Res<i64> {
        self.conn
            .batch_execute(
                "TRUNCATE order_items, orders, customers, products RESTART IDENTITY CASCADE",
            )
            .ctx("truncate the tables")?;
        let first = self.conn.seed_products()?;
        // Write out what earlier variants left dirty, so that no variant pays
        // for another's checkpoint (needs superuser or pg_checkpoint; skipped
        // when not allowed).
        let _ = self.conn.batch_execute("CHECKPOINT");
        Ok(first)
    }

    fn server_cpu(&self) -> Option<Duration> {
        schedstat(&format!("/proc/{}/schedstat", self.backend_pid))
    }

    fn server_limit(&mut self, n: usize, first_product: i64) -> Res<()> {
        let statements = [
            format!(
                "INSERT INTO customers (email, name) \
                 SELECT 'customer' || g || '@bench.example', 'Customer ' || g \
                 FROM generate_series(0, {last}) AS g",
                last = n as i64 - 1
            ),
            format!(
                "INSERT INTO orders (customer_id, total_cents) \
                 SELECT c.id, CAST(SUBSTR(c.name, 10) AS BIGINT) * {ORDERS_PER_CUSTOMER} + o \
                 FROM customers c CROSS JOIN generate_series(0, {last}) AS o",
                last = ORDERS_PER_CUSTOMER - 1
            ),
            format!(
                "INSERT INTO order_items (order_id, product_id, quantity) \
                 SELECT o.id, {first_product} + (o.total_cents * {ITEMS_PER_ORDER} + i) % {PRODUCTS}, \
                 CAST(o.total_cents * {ITEMS_PER_ORDER} + i AS INTEGER) \
                 FROM orders o CROSS JOIN generate_series(0, {last}) AS i",
                last = ITEMS_PER_ORDER - 1
            ),
        ];
        self.conn
            .transaction(|conn| {
                for sql in &statements {
                    diesel::sql_query(sql).execute(conn)?;
                }
                QueryResult::Ok(())
            })
            .ctx("server_limit")
    }

    fn version(&mut self) -> String {
        #[derive(QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        diesel::sql_query("SELECT version() AS v")
            .load::<Version>(&mut self.conn)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(|| "PostgreSQL (version unknown)".into(), |v| v.v)
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    fn default_per_row_max_rows(&self) -> Option<usize> {
        Some(260_000)
    }

    fn supports(&self, _variant: Variant) -> bool {
        true
    }

    fn unnest_probe(&mut self, n: usize, first_product: i64) -> Res<()> {
        unnest_probe(&mut self.conn, n, first_product).ctx("probe_pg_unnest")
    }
}

#[derive(QueryableByName)]
pub struct Id {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
}

/// What `insert_graph` would do on PostgreSQL with one array per column
/// instead of one bind parameter per value: `INSERT .. SELECT .. FROM
/// unnest($1, $2) WITH ORDINALITY .. ORDER BY ord RETURNING id`, one
/// statement per table whatever the size (no bind-parameter limit), the
/// same statement text every time (so it can be a cached prepared
/// statement), the same id matching (keys generated in input order, sorted
/// before pairing). Hand-written for this graph's shape; a probe of the
/// statement shape, not one of the four variants compared.
pub fn unnest_probe(conn: &mut PgConnection, n: usize, first_product: i64) -> QueryResult<()> {
    use diesel::sql_types::{Array, Integer, Text};
    fn sorted(rows: Vec<Id>, expected: usize) -> QueryResult<Vec<i64>> {
        let mut ids: Vec<i64> = rows.into_iter().map(|r| r.id).collect();
        if ids.len() != expected {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("{} ids returned for {expected} rows", ids.len()).into(),
            ));
        }
        ids.sort_unstable();
        Ok(ids)
    }
    let orders_n = n * ORDERS_PER_CUSTOMER;
    let items_n = orders_n * ITEMS_PER_ORDER;
    let emails: Vec<String> = (0..n).map(email).collect();
    let names: Vec<String> = (0..n).map(name).collect();
    conn.transaction(|conn| {
        let customer_ids = sorted(
            diesel::sql_query(
                "INSERT INTO customers (email, name) SELECT v.email, v.name \
                 FROM unnest($1, $2) WITH ORDINALITY AS v (email, name, ord) \
                 ORDER BY v.ord RETURNING id",
            )
            .bind::<Array<Text>, _>(&emails)
            .bind::<Array<Text>, _>(&names)
            .load::<Id>(conn)?,
            n,
        )?;
        let order_customers: Vec<i64> = (0..orders_n)
            .map(|g| customer_ids[g / ORDERS_PER_CUSTOMER])
            .collect();
        let totals: Vec<i64> = (0..orders_n).map(order_total).collect();
        let order_ids = sorted(
            diesel::sql_query(
                "INSERT INTO orders (customer_id, total_cents) SELECT v.customer_id, v.total_cents \
                 FROM unnest($1, $2) WITH ORDINALITY AS v (customer_id, total_cents, ord) \
                 ORDER BY v.ord RETURNING id",
            )
            .bind::<Array<BigInt>, _>(&order_customers)
            .bind::<Array<BigInt>, _>(&totals)
            .load::<Id>(conn)?,
            orders_n,
        )?;
        let item_orders: Vec<i64> = (0..items_n)
            .map(|h| order_ids[h / ITEMS_PER_ORDER])
            .collect();
        let item_products: Vec<i64> = (0..items_n)
            .map(|h| item_product(first_product, h))
            .collect();
        let quantities: Vec<i32> = (0..items_n).map(item_quantity).collect();
        sorted(
            diesel::sql_query(
                "INSERT INTO order_items (order_id, product_id, quantity) \
                 SELECT v.order_id, v.product_id, v.quantity \
                 FROM unnest($1, $2, $3) WITH ORDINALITY AS v (order_id, product_id, quantity, ord) \
                 ORDER BY v.ord RETURNING id",
            )
            .bind::<Array<BigInt>, _>(&item_orders)
            .bind::<Array<BigInt>, _>(&item_products)
            .bind::<Array<Integer>, _>(&quantities)
            .load::<Id>(conn)?,
            items_n,
        )?;
        Ok(())
    })
}

pub struct SqliteTarget {
    pub conn: SqliteConnection,
    pub path: PathBuf,
}

impl SqliteTarget {
    pub fn open(path: PathBuf) -> Res<Self> {
        let conn = SqliteConnection::establish(":memory:").ctx("open SQLite")?;
        let mut target = SqliteTarget { conn, path };
        target.reset()?;
        Ok(target)
    }

    pub fn remove_files(&self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for SqliteTarget {
    fn drop(&mut self) {
        self.remove_files();
    }
}

impl Target for SqliteTarget {
    type Conn = SqliteConnection;

    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    /// A new file, migrated: every variant starts from the same bytes.
    fn reset(&mut self) -> Res<i64> {
        self.conn = SqliteConnection::establish(":memory:").ctx("open SQLite")?;
        self.remove_files();
        let path = self.path.to_string_lossy().into_owned();
        self.conn = SqliteConnection::establish(&path).ctx(format!("open {path}"))?;
        self.conn
            .enforce_foreign_keys()
            .ctx("PRAGMA foreign_keys = ON")?;
        fk_safe_suite::migrate(&mut self.conn, fk_safe_suite::SQLITE_MIGRATIONS)
            .map_err(|e| format!("migrate {path}: {e}"))?;
        self.conn.seed_products()
    }

    fn server_cpu(&self) -> Option<Duration> {
        None
    }

    fn server_limit(&mut self, n: usize, first_product: i64) -> Res<()> {
        self.conn
            .prepared_loop(n, first_product)
            .ctx("server_limit (prepared loop)")
    }

    fn version(&mut self) -> String {
        #[derive(QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        diesel::sql_query("SELECT sqlite_version() AS v")
            .load::<Version>(&mut self.conn)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(
                || "SQLite (version unknown)".into(),
                |v| format!("SQLite {} (bundled)", v.v),
            )
    }

    fn location(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    fn default_per_row_max_rows(&self) -> Option<usize> {
        None
    }

    fn supports(&self, variant: Variant) -> bool {
        variant != Variant::UnnestProbe
    }

    fn unnest_probe(&mut self, _n: usize, _first_product: i64) -> Res<()> {
        Err("probe_pg_unnest is a PostgreSQL probe".into())
    }
}
