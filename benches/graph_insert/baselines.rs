//! The hand-written baselines: what a user writes without fk-safe, in
//! Diesel, the same code on both backends.

use std::time::Duration;

use diesel::prelude::*;
use fk_safe::graph::{insert_graph, Graph};
use fk_safe::FkConnection;
use fk_safe_suite::models::{NewCustomer, NewOrder, NewOrderItem, NewProduct};
use fk_safe_suite::schema::{customers, order_items, orders, products};

use crate::checks::Num;
use crate::data::{
    email, item_product, item_quantity, name, order_total, ITEMS_PER_ORDER, ORDERS_PER_CUSTOMER,
    PRODUCTS,
};
use crate::lookups::LookupVariant;
use crate::variants::insert_graph_variant;
use crate::{Context, Res};

// Rows with ids chosen by the client, for `raw_batched_known_ids`. Without
// `treat_none_as_default_value = false`, Diesel wraps every field in a
// "value or DEFAULT" and SQLite (which has no DEFAULT in VALUES) then runs a
// batch as one INSERT per row.

#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
pub struct CustomerRow {
    pub id: i64,
    pub email: String,
    pub name: String,
}

#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct OrderRow {
    pub id: i64,
    pub customer_id: i64,
    pub total_cents: i64,
}

#[derive(Insertable)]
#[diesel(table_name = order_items, treat_none_as_default_value = false)]
pub struct ItemRow {
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub quantity: i32,
}

/// An order of `select_loop_by_email` (see [`CustomerRow`] for why not
/// `NewOrder`: SQLite would get one statement per row).
#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct LookupOrderRow {
    pub customer_id: i64,
    pub total_cents: i64,
}

/// What the benchmark needs of a connection. The Diesel DSL parts are the
/// same code on both backends ([`hand_written!`]), but spelling their trait
/// bounds generically would be longer than the code itself.
pub trait BenchConn: FkConnection {
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
pub fn advance_pg_sequences(conn: &mut PgConnection, n: usize) -> QueryResult<()> {
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
pub fn advance_nothing(_conn: &mut SqliteConnection, _n: usize) -> QueryResult<()> {
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
