//! The graph-insert benchmark (issue 4): how fast `insert_graph()` writes a
//! graph of customers -> orders -> order items, side by side with what the
//! database can do on its own and with the hand-written alternatives.
//!
//! One run: for each backend and each size N, the same data (N customers,
//! each with 5 orders of 4 items, the items referencing 200 existing
//! products: 26 rows per customer) is written by every variant, each in one
//! transaction, each starting from the same state (products filled, every
//! other table empty):
//!
//! - `insert_graph`: build a `Graph` and call `fk_safe::insert_graph`;
//! - `server_limit`: PostgreSQL writes the rows itself (`INSERT .. SELECT`
//!   from `generate_series`); on SQLite, which has no server, the fastest
//!   hand-written Diesel loop (one prepared `INSERT` per row, `RETURNING id`
//!   only for parents);
//! - `per_row_returning`: one `INSERT .. RETURNING id` per row, parents first
//!   (the fix most guides recommend);
//! - `raw_batched_known_ids`: Diesel multi-row inserts with ids chosen by the
//!   client, chunked under the bind-parameter limit (the client-side ceiling).
//!
//! Then a look-up section: N customers exist (N = 20,000 by default), and
//! three variants find all N ids by email, each in one transaction:
//!
//! - `lookup_insert_graph`: N `graph.lookup::<NewCustomer>(email)` handles,
//!   each the parent of one new order, written by `insert_graph`;
//! - `get_or_insert_existing`: N `graph.get_or_insert(NewCustomer { .. })`
//!   of customers that all exist already (no row may be added);
//! - `select_loop_by_email`: the hand-written alternative, a cached prepared
//!   `SELECT id FROM customers WHERE email = $1` per key, then the same N
//!   orders as Diesel multi-row inserts.
//!
//! Every variant is verified afterwards (row counts, every order and item
//! hanging from the right parent, every id found equal to the existing one);
//! a wrong result aborts the run. Times are reported, never asserted.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/bench-target cargo bench --bench graph_insert      # full series
//! FK_SAFE_BENCH_SMOKE=1 cargo bench --bench graph_insert                    # CI smoke run
//! FK_SAFE_BENCH_ONLY=lookups cargo bench --bench graph_insert               # look-ups only
//! ```
//!
//! Environment:
//! - `FK_SAFE_BENCH_SIZES`: comma-separated customer counts N (default
//!   `100,1000,10000,38462`, i.e. 2,600 to 1,000,012 rows);
//! - `FK_SAFE_BENCH_BACKENDS`: `postgres,sqlite` (default both);
//! - `FK_SAFE_BENCH_SMOKE=1`: N = 20 (look-ups too), one run, few error-path
//!   iterations
//!   (also the default when the binary is run without `--bench`, e.g. by
//!   `cargo test --benches`);
//! - `FK_SAFE_BENCH_REPS`: runs per size (default 5 up to 26,000 rows, 3
//!   above; the median is reported);
//! - `FK_SAFE_BENCH_VARIANTS`: a subset of the variants, comma-separated;
//! - `FK_SAFE_BENCH_PER_ROW_MAX_ROWS`: skip `per_row_returning` above this
//!   many rows (default 260,000 on PostgreSQL, no limit on SQLite);
//! - `FK_SAFE_BENCH_RSS=0`: skip the peak-memory child processes;
//! - `FK_SAFE_BENCH_LOOKUP_SIZES`: comma-separated customer counts N of the
//!   look-up section (default `20000`; 20 in the smoke run);
//! - `FK_SAFE_BENCH_LOOKUPS=0`: skip the look-up section;
//! - `FK_SAFE_BENCH_ONLY`: `graph_insert` (the series and the error path) or
//!   `lookups` (only the look-up section);
//! - `DATABASE_URL`: the PostgreSQL server (default
//!   `postgres://127.0.0.1:5432/test`); the run works in its own schema
//!   `fk_safe_bench_<pid>`, dropped at the end.
//!
//! Results are printed as tables and appended, one JSON object per
//! measurement, to `target/bench/graph_insert.jsonl` in the workspace root.

use std::fmt::{self, Display};
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fk_safe::graph::{insert_graph, Graph, WriteRow};
use fk_safe::{FkCatalog, FkConnection};
use fk_safe_suite::models::{NewCustomer, NewOrder, NewOrderItem, NewProduct};
use fk_safe_suite::schema::{customers, order_items, orders, products};

// ---------------------------------------------------------------------------
// The data: N customers, 5 orders each, 4 items per order, 200 products.
// ---------------------------------------------------------------------------

const ORDERS_PER_CUSTOMER: usize = 5;
const ITEMS_PER_ORDER: usize = 4;
const ROWS_PER_CUSTOMER: usize = 1 + ORDERS_PER_CUSTOMER * (1 + ITEMS_PER_ORDER);
const PRODUCTS: usize = 200;
const DEFAULT_SIZES: &[usize] = &[100, 1_000, 10_000, 38_462];
const SMOKE_SIZE: usize = 20;

/// Every value is a function of the row's position, so that each variant
/// writes exactly the same rows and the check can tell a row hanging from
/// the wrong parent: order `g = c * 5 + o` has `total_cents = g`, item
/// `h = g * 4 + i` has `quantity = h` and product `first + h % 200`, and
/// customer `c` is named `Customer c`.
fn email(c: usize) -> String {
    format!("customer{c}@bench.example")
}

fn name(c: usize) -> String {
    format!("Customer {c}")
}

fn order_total(g: usize) -> i64 {
    g as i64
}

fn item_quantity(h: usize) -> i32 {
    h as i32
}

fn item_product(first_product: i64, h: usize) -> i64 {
    first_product + (h % PRODUCTS) as i64
}

fn rows_of(n: usize) -> usize {
    n * ROWS_PER_CUSTOMER
}

// ---------------------------------------------------------------------------
// Errors: any failure (a wrong row count above all) aborts with a message.
// ---------------------------------------------------------------------------

type Res<T> = Result<T, String>;

trait Context<T> {
    fn ctx(self, what: impl Display) -> Res<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: impl Display) -> Res<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

// ---------------------------------------------------------------------------
// Instrumentation: statements sent, and time spent inside them.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct CounterState {
    statements: AtomicUsize,
    in_statements_ns: AtomicU64,
    started: Mutex<Option<Instant>>,
}

/// Counts `StartQuery` events (every statement Diesel sends, `BEGIN` and
/// `COMMIT` included) and the time between each start and its finish.
#[derive(Clone, Default)]
struct Counter(Arc<CounterState>);

impl Counter {
    fn statements(&self) -> usize {
        self.0.statements.load(Ordering::SeqCst)
    }

    fn in_statements(&self) -> Duration {
        Duration::from_nanos(self.0.in_statements_ns.load(Ordering::SeqCst))
    }

    fn add(&self, elapsed: Duration) {
        self.0
            .in_statements_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let now = Instant::now();
        let mut started = self.0.started.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.0.statements.fetch_add(1, Ordering::SeqCst);
                if let Some(previous) = started.replace(now) {
                    self.add(now - previous);
                }
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some(start) = started.take() {
                    self.add(now - start);
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Process statistics from /proc (Linux): CPU time and resident memory.
// ---------------------------------------------------------------------------

/// On-CPU time of a task, from `schedstat` (nanoseconds).
fn schedstat(path: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time of the calling thread (the benchmark is single-threaded).
fn thread_cpu() -> Option<Duration> {
    schedstat("/proc/thread-self/schedstat")
}

/// A `VmXXX:` line of `/proc/self/status`, in bytes.
fn vm_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Resets `VmHWM` to the current RSS (Linux 4.0+), so that the peak covers
/// only what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn duration_sub(after: Option<Duration>, before: Option<Duration>) -> Option<Duration> {
    Some(after?.saturating_sub(before?))
}

// ---------------------------------------------------------------------------
// Checks: the rows every variant must leave behind.
// ---------------------------------------------------------------------------

#[derive(QueryableByName)]
struct Num {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `sum(0..count)`.
fn triangle(count: usize) -> i64 {
    let count = count as i64;
    count * (count - 1) / 2
}

fn verify<C: BenchConn>(conn: &mut C, variant: &str, n: usize, first_product: i64) -> Res<()> {
    let orders_n = n * ORDERS_PER_CUSTOMER;
    let items_n = orders_n * ITEMS_PER_ORDER;
    let checks: [(&str, String, i64); 9] = [
        (
            "customers",
            "SELECT COUNT(*) AS n FROM customers".into(),
            n as i64,
        ),
        (
            "orders",
            "SELECT COUNT(*) AS n FROM orders".into(),
            orders_n as i64,
        ),
        (
            "order_items",
            "SELECT COUNT(*) AS n FROM order_items".into(),
            items_n as i64,
        ),
        (
            "products",
            "SELECT COUNT(*) AS n FROM products".into(),
            PRODUCTS as i64,
        ),
        (
            "distinct customer emails",
            "SELECT COUNT(DISTINCT email) AS n FROM customers".into(),
            n as i64,
        ),
        (
            "sum of orders.total_cents",
            "SELECT CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) AS n FROM orders".into(),
            triangle(orders_n),
        ),
        (
            "sum of order_items.quantity",
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS n FROM order_items".into(),
            triangle(items_n),
        ),
        (
            "orders under the wrong customer",
            format!(
                "SELECT COUNT(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id \
                 WHERE o.total_cents / {ORDERS_PER_CUSTOMER} <> CAST(SUBSTR(c.name, 10) AS BIGINT)"
            ),
            0,
        ),
        (
            "items under the wrong order or product",
            format!(
                "SELECT COUNT(*) AS n FROM order_items i JOIN orders o ON o.id = i.order_id \
                 WHERE i.quantity / {ITEMS_PER_ORDER} <> o.total_cents \
                 OR i.product_id <> {first_product} + i.quantity % {PRODUCTS}"
            ),
            0,
        ),
    ];
    for (what, sql, expected) in checks {
        let found = conn.scalar(&sql)?;
        if found != expected {
            return Err(format!(
                "{} {variant} (N = {n}) wrote a wrong result: {what} is {found}, expected {expected}",
                C::BACKEND
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The variants that are written the same way on both backends.
// ---------------------------------------------------------------------------

/// Builds the graph as a user would, row by row with handles.
fn build_graph<DB>(n: usize, first_product: i64) -> Graph<DB>
where
    DB: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<DB>,
    NewOrder: WriteRow<DB>,
    NewOrderItem: WriteRow<DB>,
{
    let mut graph = Graph::new();
    for c in 0..n {
        let customer = graph
            .add(NewCustomer {
                email: email(c),
                name: name(c),
            })
            .handle();
        for o in 0..ORDERS_PER_CUSTOMER {
            let g = c * ORDERS_PER_CUSTOMER + o;
            let order = graph
                .add(NewOrder {
                    customer_id: 0,
                    total_cents: order_total(g),
                })
                .parent(customer)
                .handle();
            for i in 0..ITEMS_PER_ORDER {
                let h = g * ITEMS_PER_ORDER + i;
                graph
                    .add(NewOrderItem {
                        order_id: 0,
                        product_id: item_product(first_product, h),
                        quantity: item_quantity(h),
                    })
                    .parent(order);
            }
        }
    }
    graph
}

/// The RSS right after the graph was built, recorded only in the
/// peak-memory child: `u64::MAX` (the default) records nothing, `0` asks for
/// the next build to be recorded.
static GRAPH_RSS: AtomicU64 = AtomicU64::new(u64::MAX);

/// `insert_graph`: build, then insert. Returns the time spent building.
fn insert_graph_variant<C>(conn: &mut C, n: usize, first_product: i64) -> Res<Duration>
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
{
    let start = Instant::now();
    let graph = build_graph::<C::Backend>(n, first_product);
    let built = start.elapsed();
    if GRAPH_RSS.load(Ordering::Relaxed) == 0 {
        // In the peak-memory child: what the built graph holds.
        GRAPH_RSS.store(vm_status("VmRSS:").unwrap_or(1), Ordering::Relaxed);
    }
    if graph.len() != rows_of(n) {
        return Err(format!(
            "the graph holds {} rows, expected {}",
            graph.len(),
            rows_of(n)
        ));
    }
    let ids = insert_graph(conn, &graph).ctx("insert_graph")?;
    let returned = [
        ids.all::<NewCustomer>().len(),
        ids.all::<NewOrder>().len(),
        ids.all::<NewOrderItem>().len(),
    ];
    let expected = [
        n,
        n * ORDERS_PER_CUSTOMER,
        n * ORDERS_PER_CUSTOMER * ITEMS_PER_ORDER,
    ];
    if returned != expected {
        return Err(format!(
            "insert_graph returned {returned:?} keys (customers, orders, items), expected {expected:?}"
        ));
    }
    Ok(built)
}

// Rows with ids chosen by the client, for `raw_batched_known_ids`. Without
// `treat_none_as_default_value = false`, Diesel wraps every field in a
// "value or DEFAULT" and SQLite (which has no DEFAULT in VALUES) then runs a
// batch as one INSERT per row.

#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
struct CustomerRow {
    id: i64,
    email: String,
    name: String,
}

#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct OrderRow {
    id: i64,
    customer_id: i64,
    total_cents: i64,
}

#[derive(Insertable)]
#[diesel(table_name = order_items, treat_none_as_default_value = false)]
struct ItemRow {
    id: i64,
    order_id: i64,
    product_id: i64,
    quantity: i32,
}

/// An order of `select_loop_by_email` (see [`CustomerRow`] for why not
/// `NewOrder`: SQLite would get one statement per row).
#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct LookupOrderRow {
    customer_id: i64,
    total_cents: i64,
}

/// What the benchmark needs of a connection. The Diesel DSL parts are the
/// same code on both backends ([`hand_written!`]), but spelling their trait
/// bounds generically would be longer than the code itself.
trait BenchConn: FkConnection {
    const BACKEND: &'static str;
    /// The backend's bind-parameter limit per statement.
    const BIND_LIMIT: usize;

    fn scalar(&mut self, sql: &str) -> Res<i64>;
    fn seed_products(&mut self) -> Res<i64>;
    /// Build the graph and insert it; returns the build time.
    fn insert_graph_variant(&mut self, n: usize, first_product: i64) -> Res<Duration>;
    /// `INSERT .. RETURNING id` for every row, parents first.
    fn per_row_returning(&mut self, n: usize, first_product: i64) -> QueryResult<()>;
    /// The fastest per-row loop: prepared (cached) single-row inserts, a
    /// `RETURNING id` only where a child needs the key.
    fn prepared_loop(&mut self, n: usize, first_product: i64) -> QueryResult<()>;
    /// Multi-row inserts with ids chosen by the client.
    fn raw_batched_known_ids(&mut self, n: usize, first_product: i64) -> QueryResult<()>;
    /// An insert that fails on a foreign key (an order of customer -1).
    fn failing_insert(&mut self) -> QueryResult<usize>;
    /// `SELECT 1`, a prepared statement: one round trip, for reference.
    fn round_trip(&mut self) -> QueryResult<i32>;
    /// Look-ups: N customers `customer{c}@bench.example`, batched; returns
    /// the id of customer `c` at index `c`.
    fn seed_customers(&mut self, n: usize) -> Res<Vec<i64>>;
    /// Look-ups: `lookup_insert_graph`, `get_or_insert_existing` or
    /// `select_loop_by_email` (see [`LookupVariant`]); returns the id found
    /// for customer `c` at index `c`.
    fn lookup_variant(&mut self, variant: LookupVariant, n: usize) -> Res<Vec<i64>>;
}

/// After inserting explicit ids, make the sequences hand out the next ones.
fn advance_pg_sequences(conn: &mut PgConnection, n: usize) -> QueryResult<()> {
    let orders_n = n * ORDERS_PER_CUSTOMER;
    let items_n = orders_n * ITEMS_PER_ORDER;
    for (table, last) in [
        ("customers", n),
        ("orders", orders_n),
        ("order_items", items_n),
    ] {
        if last > 0 {
            diesel::sql_query(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})"
            ))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// SQLite hands out `max(rowid) + 1`: nothing to advance.
fn advance_nothing(_conn: &mut SqliteConnection, _n: usize) -> QueryResult<()> {
    Ok(())
}

macro_rules! hand_written {
    ($conn:ty, $backend:literal, $bind_limit:expr, $advance:path) => {
        impl BenchConn for $conn {
            const BACKEND: &'static str = $backend;
            const BIND_LIMIT: usize = $bind_limit;

            fn scalar(&mut self, sql: &str) -> Res<i64> {
                let rows: Vec<Num> = diesel::sql_query(sql).load(self).ctx(sql)?;
                rows.first()
                    .map(|row| row.n)
                    .ok_or_else(|| format!("no row from {sql}"))
            }

            fn seed_products(&mut self) -> Res<i64> {
                let rows: Vec<NewProduct> = (0..PRODUCTS)
                    .map(|p| NewProduct {
                        sku: format!("SKU-{p}"),
                        name: format!("Product {p}"),
                        price_cents: 100 + p as i64,
                    })
                    .collect();
                diesel::insert_into(products::table)
                    .values(&rows)
                    .execute(self)
                    .ctx("seed the products")?;
                let first = self.scalar("SELECT MIN(id) AS n FROM products")?;
                let last = self.scalar("SELECT MAX(id) AS n FROM products")?;
                if last - first + 1 != PRODUCTS as i64 {
                    return Err(format!(
                        "product ids {first}..={last} are not {PRODUCTS} consecutive ids"
                    ));
                }
                Ok(first)
            }

            fn insert_graph_variant(&mut self, n: usize, first_product: i64) -> Res<Duration> {
                insert_graph_variant(self, n, first_product)
            }

            fn per_row_returning(&mut self, n: usize, first_product: i64) -> QueryResult<()> {
                self.transaction(|conn| {
                    for c in 0..n {
                        let customer_id: i64 = diesel::insert_into(customers::table)
                            .values(&NewCustomer {
                                email: email(c),
                                name: name(c),
                            })
                            .returning(customers::id)
                            .get_result(conn)?;
                        for o in 0..ORDERS_PER_CUSTOMER {
                            let g = c * ORDERS_PER_CUSTOMER + o;
                            let order_id: i64 = diesel::insert_into(orders::table)
                                .values(&NewOrder {
                                    customer_id,
                                    total_cents: order_total(g),
                                })
                                .returning(orders::id)
                                .get_result(conn)?;
                            for i in 0..ITEMS_PER_ORDER {
                                let h = g * ITEMS_PER_ORDER + i;
                                let _item_id: i64 = diesel::insert_into(order_items::table)
                                    .values(&NewOrderItem {
                                        order_id,
                                        product_id: item_product(first_product, h),
                                        quantity: item_quantity(h),
                                    })
                                    .returning(order_items::id)
                                    .get_result(conn)?;
                            }
                        }
                    }
                    Ok(())
                })
            }

            fn prepared_loop(&mut self, n: usize, first_product: i64) -> QueryResult<()> {
                self.transaction(|conn| {
                    for c in 0..n {
                        let (email, name) = (email(c), name(c));
                        let customer_id: i64 = diesel::insert_into(customers::table)
                            .values((customers::email.eq(&email), customers::name.eq(&name)))
                            .returning(customers::id)
                            .get_result(conn)?;
                        for o in 0..ORDERS_PER_CUSTOMER {
                            let g = c * ORDERS_PER_CUSTOMER + o;
                            let order_id: i64 = diesel::insert_into(orders::table)
                                .values((
                                    orders::customer_id.eq(customer_id),
                                    orders::total_cents.eq(order_total(g)),
                                ))
                                .returning(orders::id)
                                .get_result(conn)?;
                            for i in 0..ITEMS_PER_ORDER {
                                let h = g * ITEMS_PER_ORDER + i;
                                diesel::insert_into(order_items::table)
                                    .values((
                                        order_items::order_id.eq(order_id),
                                        order_items::product_id.eq(item_product(first_product, h)),
                                        order_items::quantity.eq(item_quantity(h)),
                                    ))
                                    .execute(conn)?;
                            }
                        }
                    }
                    Ok(())
                })
            }

            fn raw_batched_known_ids(&mut self, n: usize, first_product: i64) -> QueryResult<()> {
                // The tables are empty: ids 1.. are free.
                let customers: Vec<CustomerRow> = (0..n)
                    .map(|c| CustomerRow {
                        id: c as i64 + 1,
                        email: email(c),
                        name: name(c),
                    })
                    .collect();
                let orders: Vec<OrderRow> = (0..n * ORDERS_PER_CUSTOMER)
                    .map(|g| OrderRow {
                        id: g as i64 + 1,
                        customer_id: (g / ORDERS_PER_CUSTOMER) as i64 + 1,
                        total_cents: order_total(g),
                    })
                    .collect();
                let items: Vec<ItemRow> = (0..n * ORDERS_PER_CUSTOMER * ITEMS_PER_ORDER)
                    .map(|h| ItemRow {
                        id: h as i64 + 1,
                        order_id: (h / ITEMS_PER_ORDER) as i64 + 1,
                        product_id: item_product(first_product, h),
                        quantity: item_quantity(h),
                    })
                    .collect();
                self.transaction(|conn| {
                    for chunk in customers.chunks(Self::BIND_LIMIT / 3) {
                        diesel::insert_into(customers::table)
                            .values(chunk)
                            .execute(conn)?;
                    }
                    for chunk in orders.chunks(Self::BIND_LIMIT / 3) {
                        diesel::insert_into(orders::table)
                            .values(chunk)
                            .execute(conn)?;
                    }
                    for chunk in items.chunks(Self::BIND_LIMIT / 4) {
                        diesel::insert_into(order_items::table)
                            .values(chunk)
                            .execute(conn)?;
                    }
                    $advance(conn, n)
                })
            }

            fn round_trip(&mut self) -> QueryResult<i32> {
                diesel::select(1_i32.into_sql::<diesel::sql_types::Integer>()).get_result(self)
            }

            fn seed_customers(&mut self, n: usize) -> Res<Vec<i64>> {
                let rows: Vec<NewCustomer> = (0..n)
                    .map(|c| NewCustomer {
                        email: email(c),
                        name: name(c),
                    })
                    .collect();
                // One transaction: SQLite runs this batch one row per statement.
                self.transaction(|conn| {
                    for chunk in rows.chunks(Self::BIND_LIMIT / 2) {
                        diesel::insert_into(customers::table)
                            .values(chunk)
                            .execute(conn)?;
                    }
                    QueryResult::Ok(())
                })
                .ctx("seed the customers")?;
                let by_email: std::collections::HashMap<String, i64> = customers::table
                    .select((customers::email, customers::id))
                    .load::<(String, i64)>(self)
                    .ctx("read the customers' ids")?
                    .into_iter()
                    .collect();
                (0..n)
                    .map(|c| {
                        by_email
                            .get(&email(c))
                            .copied()
                            .ok_or_else(|| format!("customer {c} was not seeded"))
                    })
                    .collect()
            }

            fn lookup_variant(&mut self, variant: LookupVariant, n: usize) -> Res<Vec<i64>> {
                match variant {
                    LookupVariant::GraphLookup => {
                        let mut graph = Graph::new();
                        let mut handles = Vec::with_capacity(n);
                        for c in 0..n {
                            let customer = graph.lookup::<NewCustomer>(email(c));
                            graph
                                .add(NewOrder {
                                    customer_id: 0,
                                    total_cents: c as i64,
                                })
                                .parent(customer);
                            handles.push(customer);
                        }
                        let ids = insert_graph(self, &graph).ctx("insert_graph (look-ups)")?;
                        if ids.all::<NewOrder>().len() != n {
                            return Err(format!(
                                "insert_graph returned {} order keys, expected {n}",
                                ids.all::<NewOrder>().len()
                            ));
                        }
                        handles
                            .into_iter()
                            .map(|h| {
                                ids.get(h)
                                    .copied()
                                    .ok_or_else(|| format!("no key for {h:?}"))
                            })
                            .collect()
                    }
                    LookupVariant::GetOrInsert => {
                        let mut graph = Graph::new();
                        let handles: Vec<_> = (0..n)
                            .map(|c| {
                                graph
                                    .get_or_insert(NewCustomer {
                                        email: email(c),
                                        name: name(c),
                                    })
                                    .handle()
                            })
                            .collect();
                        let ids = insert_graph(self, &graph).ctx("insert_graph (get_or_insert)")?;
                        handles
                            .into_iter()
                            .map(|h| {
                                ids.get(h)
                                    .copied()
                                    .ok_or_else(|| format!("no key for {h:?}"))
                            })
                            .collect()
                    }
                    LookupVariant::SelectLoop => self
                        .transaction(|conn| {
                            let mut ids = Vec::with_capacity(n);
                            for c in 0..n {
                                let id: i64 = customers::table
                                    .filter(customers::email.eq(email(c)))
                                    .select(customers::id)
                                    .first(conn)?;
                                ids.push(id);
                            }
                            let orders: Vec<LookupOrderRow> = (0..n)
                                .map(|c| LookupOrderRow {
                                    customer_id: ids[c],
                                    total_cents: c as i64,
                                })
                                .collect();
                            for chunk in orders.chunks(Self::BIND_LIMIT / 2) {
                                diesel::insert_into(orders::table)
                                    .values(chunk)
                                    .execute(conn)?;
                            }
                            QueryResult::Ok(ids)
                        })
                        .ctx("select_loop_by_email"),
                }
            }

            fn failing_insert(&mut self) -> QueryResult<usize> {
                diesel::insert_into(orders::table)
                    .values((
                        orders::customer_id.eq(-1_i64),
                        orders::total_cents.eq(0_i64),
                    ))
                    .execute(self)
            }
        }
    };
}

hand_written!(PgConnection, "postgres", 65_535, advance_pg_sequences);
hand_written!(SqliteConnection, "sqlite", 32_766, advance_nothing);

// ---------------------------------------------------------------------------
// Backends: a database in its initial state, on demand.
// ---------------------------------------------------------------------------

trait Target {
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

fn pg_base_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into())
}

/// The benchmark's own PostgreSQL schema, dropped when the run ends.
struct PgSchema {
    name: String,
}

impl PgSchema {
    fn create() -> Res<Self> {
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

    fn url(&self) -> String {
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

struct PgTarget {
    conn: PgConnection,
    url: String,
    backend_pid: i64,
}

impl PgTarget {
    fn connect(url: &str, migrate: bool) -> Res<Self> {
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
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// What `insert_graph` would do on PostgreSQL with one array per column
/// instead of one bind parameter per value: `INSERT .. SELECT .. FROM
/// unnest($1, $2) WITH ORDINALITY .. ORDER BY ord RETURNING id`, one
/// statement per table whatever the size (no bind-parameter limit), the
/// same statement text every time (so it can be a cached prepared
/// statement), the same id matching (keys generated in input order, sorted
/// before pairing). Hand-written for this graph's shape; a probe of the
/// statement shape, not a variant of the issue.
fn unnest_probe(conn: &mut PgConnection, n: usize, first_product: i64) -> QueryResult<()> {
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

struct SqliteTarget {
    conn: SqliteConnection,
    path: PathBuf,
}

impl SqliteTarget {
    fn open(path: PathBuf) -> Res<Self> {
        let conn = SqliteConnection::establish(":memory:").ctx("open SQLite")?;
        let mut target = SqliteTarget { conn, path };
        target.reset()?;
        Ok(target)
    }

    fn remove_files(&self) {
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

// ---------------------------------------------------------------------------
// Measuring.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    InsertGraph,
    ServerLimit,
    PerRowReturning,
    RawBatchedKnownIds,
    /// PostgreSQL only: not one of the four variants of the issue, but a
    /// probe of another statement shape for `insert_graph` (see
    /// [`unnest_probe`]).
    UnnestProbe,
}

const VARIANTS: [Variant; 5] = [
    Variant::InsertGraph,
    Variant::ServerLimit,
    Variant::PerRowReturning,
    Variant::RawBatchedKnownIds,
    Variant::UnnestProbe,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::InsertGraph => "insert_graph",
            Variant::ServerLimit => "server_limit",
            Variant::PerRowReturning => "per_row_returning",
            Variant::RawBatchedKnownIds => "raw_batched_known_ids",
            Variant::UnnestProbe => "probe_pg_unnest",
        }
    }

    fn parse(name: &str) -> Option<Variant> {
        VARIANTS.into_iter().find(|v| v.name() == name.trim())
    }
}

/// One timed run of one variant.
#[derive(Debug, Clone)]
struct Sample {
    wall: Duration,
    build: Option<Duration>,
    statements: usize,
    in_statements: Duration,
    client_cpu: Option<Duration>,
    server_cpu: Option<Duration>,
}

/// Runs `variant` once from the initial state, timed, then checks the rows.
fn run_once<T: Target>(target: &mut T, variant: Variant, n: usize) -> Res<Sample> {
    let first_product = target.reset()?;
    let counter = Counter::default();
    target.conn().set_instrumentation(counter.clone());
    let server_before = target.server_cpu();
    let cpu_before = thread_cpu();
    let start = Instant::now();
    let build = match variant {
        Variant::InsertGraph => Some(target.conn().insert_graph_variant(n, first_product)?),
        Variant::ServerLimit => {
            target.server_limit(n, first_product)?;
            None
        }
        Variant::PerRowReturning => {
            target
                .conn()
                .per_row_returning(n, first_product)
                .ctx("per_row_returning")?;
            None
        }
        Variant::RawBatchedKnownIds => {
            target
                .conn()
                .raw_batched_known_ids(n, first_product)
                .ctx("raw_batched_known_ids")?;
            None
        }
        Variant::UnnestProbe => {
            target.unnest_probe(n, first_product)?;
            None
        }
    };
    let wall = start.elapsed();
    let client_cpu = duration_sub(thread_cpu(), cpu_before);
    let server_cpu = duration_sub(target.server_cpu(), server_before);
    let sample = Sample {
        wall,
        build,
        statements: counter.statements(),
        in_statements: counter.in_statements(),
        client_cpu,
        server_cpu,
    };
    target.conn().set_instrumentation(Counter::default());
    verify(target.conn(), variant.name(), n, first_product)?;
    Ok(sample)
}

/// The figures of one variant at one size.
struct Measurement {
    backend: &'static str,
    variant: Variant,
    n: usize,
    /// The median run, and all run times.
    median: Option<Sample>,
    walls: Vec<Duration>,
    skipped: Option<String>,
    peak_rss: Option<ChildReport>,
}

impl Measurement {
    fn rows(&self) -> usize {
        rows_of(self.n)
    }

    fn rows_per_s(&self) -> Option<f64> {
        let wall = self.median.as_ref()?.wall.as_secs_f64();
        (wall > 0.0).then(|| self.rows() as f64 / wall)
    }

    fn statements_per_1000_rows(&self) -> Option<f64> {
        Some(self.median.as_ref()?.statements as f64 * 1000.0 / self.rows() as f64)
    }
}

fn median_sample(mut samples: Vec<Sample>) -> (Option<Sample>, Vec<Duration>) {
    let walls = samples.iter().map(|s| s.wall).collect();
    samples.sort_by_key(|s| s.wall);
    let middle = samples.len().saturating_sub(1) / 2;
    (samples.into_iter().nth(middle), walls)
}

// ---------------------------------------------------------------------------
// Peak memory: the variant again, alone, in a child process.
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "FK_SAFE_BENCH_CHILD";
const CHILD_MARK: &str = "fk-safe-bench-child-result";

#[derive(Debug, Clone)]
struct ChildReport {
    peak_rss: u64,
    baseline_rss: u64,
    wall: Duration,
    /// `insert_graph` only: the RSS once the graph was built.
    graph_rss: Option<u64>,
}

/// Re-runs `variant` in a fresh process and reads its `VmHWM` (the
/// parent's memory does not count).
fn measure_in_child<T: Target>(target: &T, variant: Variant, n: usize) -> Res<ChildReport> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    let location = match backend {
        // A file of its own: the parent's connection stays on its file.
        "sqlite" => format!("{}.child", target.location()),
        _ => target.location(),
    };
    let exe = std::env::current_exe().ctx("find the benchmark executable")?;
    let output = Command::new(exe)
        .env(
            CHILD_ENV,
            format!("{backend}\t{}\t{n}\t{location}", variant.name()),
        )
        .output()
        .ctx("run the peak-memory child")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the peak-memory child ({backend} {} N = {n}) failed: {}\n{}{}",
            variant.name(),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_MARK))
        .ok_or_else(|| format!("the peak-memory child printed no result: {stdout}"))?;
    let mut fields = line.split_whitespace().map(|f| f.parse::<u64>());
    let mut next = |what: &str| -> Res<u64> {
        fields
            .next()
            .ok_or_else(|| format!("child result lacks {what}"))?
            .ctx(what)
    };
    Ok(ChildReport {
        peak_rss: next("peak RSS")?,
        baseline_rss: next("baseline RSS")?,
        wall: Duration::from_nanos(next("time")?),
        graph_rss: Some(next("graph RSS")?).filter(|&rss| rss != 0),
    })
}

fn child_run<T: Target>(mut target: T, variant: Variant, n: usize) -> Res<()> {
    let first_product = target.reset()?;
    let baseline = vm_status("VmRSS:").ok_or("no VmRSS in /proc/self/status")?;
    GRAPH_RSS.store(0, Ordering::Relaxed);
    reset_peak_rss();
    let start = Instant::now();
    match variant {
        Variant::InsertGraph => {
            target.conn().insert_graph_variant(n, first_product)?;
        }
        Variant::RawBatchedKnownIds => target
            .conn()
            .raw_batched_known_ids(n, first_product)
            .ctx("raw_batched_known_ids")?,
        Variant::ServerLimit => target.server_limit(n, first_product)?,
        Variant::PerRowReturning => target
            .conn()
            .per_row_returning(n, first_product)
            .ctx("per_row_returning")?,
        Variant::UnnestProbe => target.unnest_probe(n, first_product)?,
    }
    let wall = start.elapsed();
    let peak = vm_status("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
    verify(target.conn(), variant.name(), n, first_product)?;
    let graph_rss = match GRAPH_RSS.load(Ordering::Relaxed) {
        u64::MAX => 0,
        rss => rss,
    };
    println!(
        "{CHILD_MARK} {peak} {baseline} {} {graph_rss}",
        wall.as_nanos().min(u128::from(u64::MAX))
    );
    Ok(())
}

fn child_main(spec: &str) -> Res<()> {
    let parts: Vec<&str> = spec.splitn(4, '\t').collect();
    let [backend, variant, n, location] = parts[..] else {
        return Err(format!("bad {CHILD_ENV}: {spec:?}"));
    };
    let variant = Variant::parse(variant).ok_or_else(|| format!("unknown variant {variant}"))?;
    let n: usize = n.parse().ctx("child size")?;
    match backend {
        "postgres" => child_run(PgTarget::connect(location, false)?, variant, n),
        "sqlite" => child_run(SqliteTarget::open(PathBuf::from(location))?, variant, n),
        other => Err(format!("unknown backend {other}")),
    }
}

// ---------------------------------------------------------------------------
// The error path.
// ---------------------------------------------------------------------------

struct ErrorPath {
    iterations: usize,
    classify: Duration,
    explain_cold_statements: usize,
    explain_warm: Duration,
    explain_warm_statements: usize,
    transactions: usize,
    transaction_warm: Duration,
    transaction_warm_statements: usize,
    round_trip: Duration,
}

fn error_path<T: Target>(target: &mut T, iterations: usize, transactions: usize) -> Res<ErrorPath> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    target.reset()?;
    let conn = target.conn();

    // (a) Classification without I/O: real errors, each converted once.
    let mut errors = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        match conn.failing_insert() {
            Err(error) => errors.push(error),
            Ok(_) => return Err(format!("{backend}: an order of customer -1 was accepted")),
        }
    }
    let start = Instant::now();
    let classified: Vec<fk_safe::Error> = errors
        .into_iter()
        .map(|error| black_box(fk_safe::Error::from(black_box(error))))
        .collect();
    let classify = start.elapsed();
    if let Some(other) = classified
        .iter()
        .find(|e| !matches!(e, fk_safe::Error::ForeignKey(_)))
    {
        return Err(format!(
            "{backend}: a foreign-key error was classified as {other:?}"
        ));
    }

    // (b) FkCatalog::explain: once cold, then with the warm cache.
    let catalog = FkCatalog::new();
    let mut classified = classified.into_iter();
    let first = classified.next().ok_or("no error to explain")?;
    let cold = Counter::default();
    conn.set_instrumentation(cold.clone());
    let explained = catalog.explain(conn, first);
    let explain_cold_statements = cold.statements();
    let expect_parent = backend == "postgres";
    let check = |error: &fk_safe::Error, what: &str| -> Res<()> {
        match error {
            fk_safe::Error::ForeignKey(v)
                if !expect_parent || v.parent_table() == Some("customers") =>
            {
                Ok(())
            }
            other => Err(format!("{backend}: {what} gave {other:?}")),
        }
    };
    check(&explained, "explain (cold)")?;
    let warm = Counter::default();
    conn.set_instrumentation(warm.clone());
    let start = Instant::now();
    let all: Vec<fk_safe::Error> = classified
        .map(|error| black_box(catalog.explain(conn, error)))
        .collect();
    let explain_warm = start.elapsed();
    let explain_warm_statements = warm.statements();
    if explain_warm_statements != 0 {
        return Err(format!(
            "{backend}: FkCatalog::explain with a warm cache sent {explain_warm_statements} statements, expected 0"
        ));
    }
    for error in &all {
        check(error, "explain (warm)")?;
    }
    drop(all);

    // (c) The whole error path of a handler: FkCatalog::transaction around a
    // failing insert (on SQLite this includes the deferred replay).
    let run = |conn: &mut T::Conn| {
        catalog.transaction(conn, |conn| {
            conn.failing_insert()?;
            Ok(())
        })
    };
    match run(conn) {
        Err(error) => check(&error, "FkCatalog::transaction (cold)")?,
        Ok(()) => return Err(format!("{backend}: the failing transaction succeeded")),
    }
    let warm = Counter::default();
    conn.set_instrumentation(warm.clone());
    let start = Instant::now();
    let mut results = Vec::with_capacity(transactions);
    for _ in 0..transactions {
        results.push(black_box(run(conn)));
    }
    let transaction_warm = start.elapsed();
    let transaction_warm_statements = warm.statements();
    conn.set_instrumentation(Counter::default());
    conn.round_trip().ctx("SELECT 1")?;
    let start = Instant::now();
    for _ in 0..transactions {
        black_box(conn.round_trip().ctx("SELECT 1")?);
    }
    let round_trip = start.elapsed();
    for result in &results {
        match result {
            Err(error) => check(error, "FkCatalog::transaction (warm)")?,
            Ok(()) => return Err(format!("{backend}: the failing transaction succeeded")),
        }
    }
    Ok(ErrorPath {
        iterations: iterations - 1,
        classify,
        explain_cold_statements,
        explain_warm,
        explain_warm_statements,
        transactions,
        transaction_warm,
        transaction_warm_statements,
        round_trip,
    })
}

// ---------------------------------------------------------------------------
// Look-ups: existing rows found by their natural key.
// ---------------------------------------------------------------------------

/// N existing customers (default of `FK_SAFE_BENCH_LOOKUP_SIZES`).
const DEFAULT_LOOKUP_SIZES: &[usize] = &[20_000];

/// The look-up section: N customers exist (seeded, not timed); each variant
/// finds all N ids by email in one transaction. `lookup_insert_graph` and
/// `select_loop_by_email` also write one order per customer, linked to the
/// id found, so that both leave the same rows and the same check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LookupVariant {
    /// `graph.lookup::<NewCustomer>(email)` N times, one `NewOrder` with
    /// `.parent(handle)` each, then `insert_graph`.
    GraphLookup,
    /// `graph.get_or_insert(NewCustomer { .. })` N times, every one of them
    /// already in the table, then `insert_graph`: no row may be added.
    GetOrInsert,
    /// The hand-written alternative: a cached prepared
    /// `SELECT id FROM customers WHERE email = $1 LIMIT 1` per key, then the
    /// N orders as Diesel multi-row inserts, in one transaction.
    SelectLoop,
}

const LOOKUP_VARIANTS: [LookupVariant; 3] = [
    LookupVariant::GraphLookup,
    LookupVariant::GetOrInsert,
    LookupVariant::SelectLoop,
];

impl LookupVariant {
    fn name(self) -> &'static str {
        match self {
            LookupVariant::GraphLookup => "lookup_insert_graph",
            LookupVariant::GetOrInsert => "get_or_insert_existing",
            LookupVariant::SelectLoop => "select_loop_by_email",
        }
    }

    /// Whether the variant writes one order per customer.
    fn writes_orders(self) -> bool {
        self != LookupVariant::GetOrInsert
    }
}

/// Runs a look-up variant once against N freshly seeded customers, timed,
/// then checks the ids it found and the rows it left.
fn run_lookup_once<T: Target>(target: &mut T, variant: LookupVariant, n: usize) -> Res<Sample> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    target.reset()?;
    let existing = target.conn().seed_customers(n)?;
    let counter = Counter::default();
    target.conn().set_instrumentation(counter.clone());
    let server_before = target.server_cpu();
    let cpu_before = thread_cpu();
    let start = Instant::now();
    let found = target.conn().lookup_variant(variant, n)?;
    let wall = start.elapsed();
    let client_cpu = duration_sub(thread_cpu(), cpu_before);
    let server_cpu = duration_sub(target.server_cpu(), server_before);
    let sample = Sample {
        wall,
        build: None,
        statements: counter.statements(),
        in_statements: counter.in_statements(),
        client_cpu,
        server_cpu,
    };
    target.conn().set_instrumentation(Counter::default());

    let wrong = |what: String| {
        format!(
            "{backend} {} (N = {n}) gave a wrong result: {what}",
            variant.name()
        )
    };
    if found.len() != n {
        return Err(wrong(format!("{} ids for {n} keys", found.len())));
    }
    if let Some(c) = (0..n).find(|&c| found[c] != existing[c]) {
        return Err(wrong(format!(
            "{} has id {}, found {}",
            email(c),
            existing[c],
            found[c]
        )));
    }
    let orders_n = if variant.writes_orders() { n } else { 0 };
    let checks: [(&str, &str, i64); 5] = [
        ("customers", "SELECT COUNT(*) AS n FROM customers", n as i64),
        (
            "distinct customer emails",
            "SELECT COUNT(DISTINCT email) AS n FROM customers",
            n as i64,
        ),
        (
            "orders",
            "SELECT COUNT(*) AS n FROM orders",
            orders_n as i64,
        ),
        (
            "sum of orders.total_cents",
            "SELECT CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) AS n FROM orders",
            triangle(orders_n),
        ),
        (
            "orders under a customer of another email",
            "SELECT COUNT(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE c.email <> 'customer' || o.total_cents || '@bench.example'",
            0,
        ),
    ];
    for (what, sql, expected) in checks {
        let got = target.conn().scalar(sql)?;
        if got != expected {
            return Err(wrong(format!("{what} is {got}, expected {expected}")));
        }
    }
    Ok(sample)
}

/// The figures of one look-up variant at one size.
struct LookupMeasurement {
    variant: LookupVariant,
    n: usize,
    median: Option<Sample>,
    walls: Vec<Duration>,
}

fn run_lookups<T: Target>(
    target: &mut T,
    config: &Config,
    info: &RunInfo,
    jsonl: &Path,
) -> Res<()> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    let version = target.version();
    eprintln!("[{backend}] {version}: look-ups");
    // Warm-up: every variant once at the smoke size, not recorded.
    for variant in LOOKUP_VARIANTS {
        run_lookup_once(target, variant, SMOKE_SIZE)?;
    }
    let mut measurements = Vec::new();
    for &n in &config.lookup_sizes {
        let reps = config.reps(n).max(1);
        let mut samples: Vec<(LookupVariant, Vec<Sample>)> =
            LOOKUP_VARIANTS.iter().map(|&v| (v, Vec::new())).collect();
        for rep in 0..reps {
            for (variant, runs) in &mut samples {
                let sample = run_lookup_once(target, *variant, n)?;
                eprintln!(
                    "[{backend}] {:>9} keys  {:<22} run {}/{reps}: {:.3} s, {} statements",
                    grouped(n as u64),
                    variant.name(),
                    rep + 1,
                    sample.wall.as_secs_f64(),
                    sample.statements
                );
                runs.push(sample);
            }
        }
        for (variant, runs) in samples {
            let (median, walls) = median_sample(runs);
            let m = LookupMeasurement {
                variant,
                n,
                median,
                walls,
            };
            append_jsonl(jsonl, &[lookup_json(info, backend, &version, &m)])?;
            measurements.push(m);
        }
    }
    print_lookups(backend, &measurements);
    Ok(())
}

fn lookup_json(info: &RunInfo, backend: &str, version: &str, m: &LookupMeasurement) -> String {
    let mut fields = info.fields();
    let sample = m.median.as_ref();
    fields.extend([
        ("backend", backend.into()),
        ("server_version", version.into()),
        ("section", "lookups".into()),
        ("variant", m.variant.name().into()),
        ("keys", m.n.into()),
        ("rows", J::Null),
        ("rows_per_s", J::Null),
        ("runs", m.walls.len().into()),
        ("seconds", secs(sample.map(|s| s.wall))),
        (
            "seconds_all",
            J::S(
                m.walls
                    .iter()
                    .map(|w| format!("{:.6}", w.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        ("statements", sample.map(|s| s.statements).into()),
        (
            "in_statements_seconds",
            secs(sample.map(|s| s.in_statements)),
        ),
        (
            "client_cpu_seconds",
            secs(sample.and_then(|s| s.client_cpu)),
        ),
        (
            "server_cpu_seconds",
            secs(sample.and_then(|s| s.server_cpu)),
        ),
    ]);
    json_object(fields)
}

fn print_lookups(backend: &str, measurements: &[LookupMeasurement]) {
    let mut table = Table::new(
        2,
        &[
            "keys",
            "variant",
            "runs",
            "median s",
            "µs/key",
            "statements",
            "client CPU s",
            "server CPU s",
            "select loop ÷ this",
        ],
    );
    for m in measurements {
        let s = m.median.as_ref();
        let select_loop = measurements
            .iter()
            .find(|o| o.n == m.n && o.variant == LookupVariant::SelectLoop)
            .and_then(|o| o.median.as_ref());
        table.row(vec![
            grouped(m.n as u64),
            m.variant.name().into(),
            m.walls.len().to_string(),
            opt(s, |s| format!("{:.3}", s.wall.as_secs_f64())),
            opt(s, |s| {
                format!("{:.2}", s.wall.as_secs_f64() * 1e6 / m.n as f64)
            }),
            opt(s, |s| grouped(s.statements as u64)),
            opt(s.and_then(|s| s.client_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(s.and_then(|s| s.server_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(s.zip(select_loop), |(s, l)| {
                format!("{:.1}x", l.wall.as_secs_f64() / s.wall.as_secs_f64())
            }),
        ]);
    }
    println!("{backend} look-ups (N existing customers, found by email):\n\n{table}");
}

// ---------------------------------------------------------------------------
// Output: tables on stdout, JSON lines in target/bench/graph_insert.jsonl.
// ---------------------------------------------------------------------------

enum J {
    S(String),
    U(u64),
    F(f64),
    B(bool),
    Null,
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::S(s.to_string())
    }
}

impl From<String> for J {
    fn from(s: String) -> J {
        J::S(s)
    }
}

impl From<usize> for J {
    fn from(n: usize) -> J {
        J::U(n as u64)
    }
}

impl From<u64> for J {
    fn from(n: u64) -> J {
        J::U(n)
    }
}

impl From<f64> for J {
    fn from(x: f64) -> J {
        J::F(x)
    }
}

impl From<bool> for J {
    fn from(b: bool) -> J {
        J::B(b)
    }
}

impl<T: Into<J>> From<Option<T>> for J {
    fn from(o: Option<T>) -> J {
        o.map_or(J::Null, Into::into)
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_object(fields: Vec<(&str, J)>) -> String {
    let body: Vec<String> = fields
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                J::S(s) => json_string(&s),
                J::U(n) => n.to_string(),
                J::F(x) if x.is_finite() => format!("{x}"),
                J::F(_) | J::Null => "null".into(),
                J::B(b) => b.to_string(),
            };
            format!("{}:{value}", json_string(key))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

fn secs(d: Option<Duration>) -> J {
    d.map(|d| d.as_secs_f64()).into()
}

/// What every JSON line carries.
struct RunInfo {
    run_id: String,
    timestamp: String,
    unix_time: u64,
    git_commit: Option<String>,
    /// Tracked files modified since the commit, space-separated.
    git_modified: Option<String>,
    smoke: bool,
}

impl RunInfo {
    fn new(root: &Path, smoke: bool) -> Self {
        let unix_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        // For a run from a source snapshot without `.git`.
        let override_commit = std::env::var("FK_SAFE_BENCH_GIT_COMMIT").ok();
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git")
                .arg("-C")
                .arg(root)
                .args(args)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        RunInfo {
            run_id: format!("{unix_time}-{}", std::process::id()),
            timestamp: iso8601(unix_time),
            unix_time,
            git_commit: override_commit
                .clone()
                .or_else(|| git(&["rev-parse", "HEAD"])),
            git_modified: match override_commit {
                Some(_) => None,
                None => git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| {
                    s.lines()
                        .filter_map(|l| l.trim_start().split_once(' '))
                        .map(|(_status, path)| path.trim_start())
                        .collect::<Vec<_>>()
                        .join(" ")
                }),
            },
            smoke,
        }
    }

    fn fields(&self) -> Vec<(&'static str, J)> {
        vec![
            ("bench", "graph_insert".into()),
            ("run_id", self.run_id.clone().into()),
            ("timestamp", self.timestamp.clone().into()),
            ("unix_time", self.unix_time.into()),
            ("git_commit", self.git_commit.clone().into()),
            ("git_modified", self.git_modified.clone().into()),
            ("smoke", self.smoke.into()),
            ("loadavg_1m", loadavg().into()),
        ]
    }
}

/// The 1-minute load average: other work on the machine skews the figures.
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn iso8601(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn measurement_json(info: &RunInfo, version: &str, m: &Measurement) -> String {
    let mut fields = info.fields();
    let sample = m.median.as_ref();
    fields.extend([
        ("backend", m.backend.into()),
        ("server_version", version.into()),
        ("variant", m.variant.name().into()),
        ("customers", m.n.into()),
        ("rows", m.rows().into()),
        ("runs", m.walls.len().into()),
        ("skipped", m.skipped.clone().into()),
        ("seconds", secs(sample.map(|s| s.wall))),
        (
            "seconds_all",
            J::S(
                m.walls
                    .iter()
                    .map(|w| format!("{:.6}", w.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        ("rows_per_s", m.rows_per_s().into()),
        ("statements", sample.map(|s| s.statements).into()),
        (
            "statements_per_1000_rows",
            m.statements_per_1000_rows().into(),
        ),
        ("build_seconds", secs(sample.and_then(|s| s.build))),
        (
            "in_statements_seconds",
            secs(sample.map(|s| s.in_statements)),
        ),
        (
            "client_cpu_seconds",
            secs(sample.and_then(|s| s.client_cpu)),
        ),
        (
            "server_cpu_seconds",
            secs(sample.and_then(|s| s.server_cpu)),
        ),
        (
            "peak_rss_bytes",
            m.peak_rss.as_ref().map(|r| r.peak_rss).into(),
        ),
        (
            "baseline_rss_bytes",
            m.peak_rss.as_ref().map(|r| r.baseline_rss).into(),
        ),
        (
            "graph_built_rss_bytes",
            m.peak_rss.as_ref().and_then(|r| r.graph_rss).into(),
        ),
        (
            "peak_rss_run_seconds",
            secs(m.peak_rss.as_ref().map(|r| r.wall)),
        ),
    ]);
    json_object(fields)
}

fn error_path_json(info: &RunInfo, backend: &str, version: &str, e: &ErrorPath) -> Vec<String> {
    let per_op =
        |total: Duration, ops: usize| (ops > 0).then(|| total.as_nanos() as f64 / ops as f64);
    let line = |variant: &str, ops: usize, total: Duration, statements: Option<usize>| {
        let mut fields = info.fields();
        fields.extend([
            ("backend", backend.into()),
            ("server_version", version.into()),
            ("variant", variant.into()),
            ("rows", J::Null),
            ("rows_per_s", J::Null),
            ("iterations", ops.into()),
            ("seconds", total.as_secs_f64().into()),
            ("ns_per_op", per_op(total, ops).into()),
            ("statements", statements.into()),
            (
                "statements_per_op",
                statements
                    .filter(|_| ops > 0)
                    .map(|s| s as f64 / ops as f64)
                    .into(),
            ),
        ]);
        json_object(fields)
    };
    vec![
        line("classify_fk_error", e.iterations + 1, e.classify, None),
        line(
            "explain_cold_cache",
            1,
            Duration::ZERO,
            Some(e.explain_cold_statements),
        ),
        line(
            "explain_warm_cache",
            e.iterations,
            e.explain_warm,
            Some(e.explain_warm_statements),
        ),
        line(
            "fk_transaction_warm_cache",
            e.transactions,
            e.transaction_warm,
            Some(e.transaction_warm_statements),
        ),
        line(
            "round_trip_select_1",
            e.transactions,
            e.round_trip,
            Some(e.transactions),
        ),
    ]
}

fn append_jsonl(path: &Path, lines: &[String]) -> Res<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx(format!("create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(format!("open {}", path.display()))?;
    for line in lines {
        writeln!(file, "{line}").ctx(format!("write {}", path.display()))?;
    }
    Ok(())
}

/// `1234567` -> `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn opt<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "-".into(), show)
}

struct Table {
    header: Vec<String>,
    /// How many leading columns are text (left-aligned); the rest are numbers.
    text_columns: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(text_columns: usize, header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            text_columns,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// A Markdown table, aligned for reading in a terminal as well.
impl Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            write!(f, "|")?;
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i < self.text_columns {
                    write!(f, " {cell:<w$} |")?;
                } else {
                    write!(f, " {cell:>w$} |")?;
                }
            }
            writeln!(f)
        };
        line(f, &self.header)?;
        write!(f, "|")?;
        for (i, w) in widths.iter().enumerate() {
            if i < self.text_columns {
                write!(f, " {} |", "-".repeat(*w))?;
            } else {
                write!(f, " {}: |", "-".repeat(w.saturating_sub(1)))?;
            }
        }
        writeln!(f)?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

fn print_backend(backend: &str, version: &str, measurements: &[Measurement]) {
    println!("\n## {backend}: {version}\n");
    let mut table = Table::new(
        2,
        &[
            "rows",
            "variant",
            "runs",
            "median s",
            "rows/s",
            "stmts/1k rows",
            "client CPU s",
            "server CPU s",
            "peak RSS",
        ],
    );
    for m in measurements {
        let s = m.median.as_ref();
        if let Some(why) = &m.skipped {
            table.row(vec![
                grouped(m.rows() as u64),
                m.variant.name().into(),
                "0".into(),
                "-".into(),
                format!("skipped ({why})"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            continue;
        }
        let mut variant = m.variant.name().to_string();
        if let Some(build) = s.and_then(|s| s.build) {
            variant = format!("{variant} (build {:.3} s)", build.as_secs_f64());
        }
        table.row(vec![
            grouped(m.rows() as u64),
            variant,
            m.walls.len().to_string(),
            opt(s, |s| format!("{:.3}", s.wall.as_secs_f64())),
            opt(m.rows_per_s(), |r| grouped(r.round() as u64)),
            opt(m.statements_per_1000_rows(), |x| format!("{x:.2}")),
            opt(s.and_then(|s| s.client_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(s.and_then(|s| s.server_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(m.peak_rss.as_ref(), |r| match r.graph_rss {
                Some(graph) => format!(
                    "{} (base {}, graph {})",
                    mib(r.peak_rss),
                    mib(r.baseline_rss),
                    mib(graph)
                ),
                None => format!("{} (base {})", mib(r.peak_rss), mib(r.baseline_rss)),
            }),
        ]);
    }
    println!("{table}");

    let mut ratios = Table::new(
        1,
        &[
            "rows",
            "insert_graph rows/s",
            "µs/row",
            "÷ server_limit",
            "÷ per_row_returning",
            "÷ raw_batched_known_ids",
            "build share",
        ],
    );
    let mut sizes: Vec<usize> = measurements.iter().map(|m| m.n).collect();
    sizes.dedup();
    for n in sizes {
        let find = |v: Variant| {
            measurements
                .iter()
                .find(|m| m.n == n && m.variant == v)
                .and_then(|m| m.rows_per_s())
        };
        let Some(graph) = find(Variant::InsertGraph) else {
            continue;
        };
        let ratio = |v: Variant| opt(find(v), |other| format!("{:.2}x", graph / other));
        let build_share = measurements
            .iter()
            .find(|m| m.n == n && m.variant == Variant::InsertGraph)
            .and_then(|m| m.median.as_ref())
            .and_then(|s| Some(s.build?.as_secs_f64() / s.wall.as_secs_f64()));
        ratios.row(vec![
            grouped(rows_of(n) as u64),
            grouped(graph.round() as u64),
            format!("{:.2}", 1e6 / graph),
            ratio(Variant::ServerLimit),
            ratio(Variant::PerRowReturning),
            ratio(Variant::RawBatchedKnownIds),
            opt(build_share, |b| format!("{:.0} %", b * 100.0)),
        ]);
    }
    println!("{ratios}");
}

fn print_error_path(backend: &str, e: &ErrorPath) {
    let ns = |total: Duration, ops: usize| {
        if ops == 0 {
            "-".to_string()
        } else {
            format!("{:.0} ns", total.as_nanos() as f64 / ops as f64)
        }
    };
    let mut table = Table::new(1, &["error path", "iterations", "per op", "statements"]);
    table.row(vec![
        "fk_safe::Error::from(diesel error) (no I/O)".into(),
        (e.iterations + 1).to_string(),
        ns(e.classify, e.iterations + 1),
        "0".into(),
    ]);
    table.row(vec![
        "FkCatalog::explain, cold cache".into(),
        "1".into(),
        "-".into(),
        e.explain_cold_statements.to_string(),
    ]);
    table.row(vec![
        "FkCatalog::explain, warm cache".into(),
        e.iterations.to_string(),
        ns(e.explain_warm, e.iterations),
        e.explain_warm_statements.to_string(),
    ]);
    table.row(vec![
        "FkCatalog::transaction(failing insert), warm cache".into(),
        e.transactions.to_string(),
        ns(e.transaction_warm, e.transactions),
        format!(
            "{:.1} per op",
            e.transaction_warm_statements as f64 / e.transactions.max(1) as f64
        ),
    ]);
    table.row(vec![
        "reference: one round trip (prepared SELECT 1)".into(),
        e.transactions.to_string(),
        ns(e.round_trip, e.transactions),
        "1 per op".into(),
    ]);
    println!("{backend} error path:\n\n{table}");
}

// ---------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------

struct Config {
    sizes: Vec<usize>,
    backends: Vec<String>,
    variants: Vec<Variant>,
    reps: Option<usize>,
    per_row_max_rows: Option<Option<usize>>,
    rss: bool,
    smoke: bool,
    error_iterations: usize,
    error_transactions: usize,
    /// Whether the graph-insert series (and the error path) runs.
    graph_series: bool,
    /// The look-up section's sizes; empty when it is skipped.
    lookup_sizes: Vec<usize>,
}

fn env_list(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name).ok()?;
    let items: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

fn env_usize(name: &str) -> Res<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .map(Some)
            .ctx(format!("{name}={v}")),
        Err(_) => Ok(None),
    }
}

impl Config {
    fn from_env() -> Res<Self> {
        // `cargo bench` passes `--bench`; anything else (`cargo test
        // --benches`) gets the smoke run unless sizes are given.
        let benching = std::env::args().any(|a| a == "--bench");
        let smoke = std::env::var("FK_SAFE_BENCH_SMOKE").is_ok_and(|v| v != "0")
            || (!benching && std::env::var("FK_SAFE_BENCH_SIZES").is_err());
        let sizes = match env_list("FK_SAFE_BENCH_SIZES") {
            Some(list) => list
                .iter()
                .map(|s| s.replace('_', "").parse::<usize>().ctx(format!("size {s}")))
                .collect::<Res<Vec<_>>>()?,
            None if smoke => vec![SMOKE_SIZE],
            None => DEFAULT_SIZES.to_vec(),
        };
        if sizes.contains(&0) {
            return Err("sizes must be at least 1 customer".into());
        }
        let backends = env_list("FK_SAFE_BENCH_BACKENDS")
            .unwrap_or_else(|| vec!["postgres".into(), "sqlite".into()]);
        for b in &backends {
            if b != "postgres" && b != "sqlite" {
                return Err(format!("unknown backend {b} (postgres, sqlite)"));
            }
        }
        let variants = match env_list("FK_SAFE_BENCH_VARIANTS") {
            Some(list) => list
                .iter()
                .map(|v| Variant::parse(v).ok_or_else(|| format!("unknown variant {v}")))
                .collect::<Res<Vec<_>>>()?,
            None => VARIANTS.to_vec(),
        };
        let per_row_max_rows = env_usize("FK_SAFE_BENCH_PER_ROW_MAX_ROWS")?.map(Some);
        let only = std::env::var("FK_SAFE_BENCH_ONLY").ok();
        let (graph_series, lookups) = match only.as_deref().map(str::trim) {
            None | Some("") => (true, true),
            Some("graph_insert") => (true, false),
            Some("lookups") => (false, true),
            Some(other) => {
                return Err(format!(
                    "FK_SAFE_BENCH_ONLY={other}: expected graph_insert or lookups"
                ))
            }
        };
        let lookups = lookups && std::env::var("FK_SAFE_BENCH_LOOKUPS").map_or(true, |v| v != "0");
        let lookup_sizes = match env_list("FK_SAFE_BENCH_LOOKUP_SIZES") {
            _ if !lookups => Vec::new(),
            Some(list) => list
                .iter()
                .map(|s| s.replace('_', "").parse::<usize>().ctx(format!("size {s}")))
                .collect::<Res<Vec<_>>>()?,
            None if smoke => vec![SMOKE_SIZE],
            None => DEFAULT_LOOKUP_SIZES.to_vec(),
        };
        if lookup_sizes.contains(&0) {
            return Err("look-up sizes must be at least 1 customer".into());
        }
        let small = smoke || sizes.iter().all(|&n| rows_of(n) < 26_000);
        Ok(Config {
            sizes,
            backends,
            variants,
            reps: if smoke {
                Some(1)
            } else {
                env_usize("FK_SAFE_BENCH_REPS")?
            },
            per_row_max_rows,
            rss: std::env::var("FK_SAFE_BENCH_RSS").map_or(true, |v| v != "0"),
            smoke,
            error_iterations: if small { 200 } else { 10_000 },
            error_transactions: if small { 20 } else { 1_000 },
            graph_series,
            lookup_sizes,
        })
    }

    fn reps(&self, rows: usize) -> usize {
        self.reps.unwrap_or(if rows <= 26_000 { 5 } else { 3 })
    }
}

fn run_backend<T: Target>(
    target: &mut T,
    config: &Config,
    info: &RunInfo,
    jsonl: &Path,
) -> Res<()> {
    if config.graph_series {
        run_graph_series(target, config, info, jsonl)?;
    }
    if !config.lookup_sizes.is_empty() {
        run_lookups(target, config, info, jsonl)?;
    }
    Ok(())
}

/// The graph-insert series of every size, then the error path.
fn run_graph_series<T: Target>(
    target: &mut T,
    config: &Config,
    info: &RunInfo,
    jsonl: &Path,
) -> Res<()> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    let version = target.version();
    let per_row_max = config
        .per_row_max_rows
        .unwrap_or_else(|| target.default_per_row_max_rows());
    eprintln!("[{backend}] {version}");

    let variants: Vec<Variant> = config
        .variants
        .iter()
        .copied()
        .filter(|&v| target.supports(v))
        .collect();
    // Warm-up: every variant once at the smoke size, not recorded.
    for &variant in &variants {
        run_once(target, variant, SMOKE_SIZE)?;
    }

    let mut measurements = Vec::new();
    for &n in &config.sizes {
        let rows = rows_of(n);
        let reps = config.reps(rows).max(1);
        let mut samples: Vec<(Variant, Vec<Sample>)> =
            variants.iter().map(|&v| (v, Vec::new())).collect();
        // Interleaved, so that drift on the machine spreads over all variants.
        for rep in 0..reps {
            for (variant, runs) in &mut samples {
                if *variant == Variant::PerRowReturning && per_row_max.is_some_and(|max| rows > max)
                {
                    continue;
                }
                let sample = run_once(target, *variant, n)?;
                eprintln!(
                    "[{backend}] {:>9} rows  {:<22} run {}/{reps}: {:.3} s, {} statements",
                    grouped(rows as u64),
                    variant.name(),
                    rep + 1,
                    sample.wall.as_secs_f64(),
                    sample.statements
                );
                runs.push(sample);
            }
        }
        for (variant, runs) in samples {
            let skipped = (variant == Variant::PerRowReturning)
                .then_some(per_row_max)
                .flatten()
                .filter(|&max| rows > max)
                .map(|max| format!("> {} rows", grouped(max as u64)));
            let peak_rss = if config.rss
                && skipped.is_none()
                && matches!(variant, Variant::InsertGraph | Variant::RawBatchedKnownIds)
            {
                let report = measure_in_child(target, variant, n)?;
                eprintln!(
                    "[{backend}] {:>9} rows  {:<22} peak RSS {} (baseline {}) in a child process",
                    grouped(rows as u64),
                    variant.name(),
                    mib(report.peak_rss),
                    mib(report.baseline_rss)
                );
                Some(report)
            } else {
                None
            };
            let (median, walls) = median_sample(runs);
            let m = Measurement {
                backend,
                variant,
                n,
                median,
                walls,
                skipped,
                peak_rss,
            };
            append_jsonl(jsonl, &[measurement_json(info, &version, &m)])?;
            measurements.push(m);
        }
    }
    print_backend(backend, &version, &measurements);

    let e = error_path(target, config.error_iterations, config.error_transactions)?;
    append_jsonl(jsonl, &error_path_json(info, backend, &version, &e))?;
    print_error_path(backend, &e);
    Ok(())
}

fn run() -> Res<()> {
    let config = Config::from_env()?;
    let root = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    );
    let jsonl = root.join("target").join("bench").join("graph_insert.jsonl");
    let info = RunInfo::new(&root, config.smoke);
    println!(
        "# graph_insert benchmark{}\n\nrun {} at {}, commit {}{}; sizes (customers) {:?}, \
         26 rows each{}; look-up sizes {:?}; backends {:?}; results appended to {}",
        if config.smoke { " (smoke)" } else { "" },
        info.run_id,
        info.timestamp,
        info.git_commit.as_deref().unwrap_or("unknown"),
        match info.git_modified.as_deref() {
            Some(files) if !files.is_empty() => format!(" (modified: {files})"),
            _ => String::new(),
        },
        config.sizes,
        if config.graph_series {
            ""
        } else {
            " (series skipped)"
        },
        config.lookup_sizes,
        config.backends,
        jsonl.display()
    );
    for backend in &config.backends {
        match backend.as_str() {
            "postgres" => {
                let schema = PgSchema::create()?;
                let mut target = PgTarget::connect(&schema.url(), true)?;
                run_backend(&mut target, &config, &info, &jsonl)?;
            }
            _ => {
                let path = std::env::temp_dir()
                    .join(format!("fk_safe_bench_{}.sqlite3", std::process::id()));
                let mut target = SqliteTarget::open(path)?;
                run_backend(&mut target, &config, &info, &jsonl)?;
            }
        }
    }
    Ok(())
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        if let Err(e) = child_main(&spec) {
            eprintln!("graph_insert benchmark child FAILED: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("\ngraph_insert benchmark FAILED: {e}");
        std::process::exit(1);
    }
}
