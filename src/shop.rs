//! The shop graph: customers, each with orders, each with items that
//! reference products which already exist. It is what the `graph_insert`
//! benchmark writes, and its parameters also give the smaller shapes the
//! integration tests write.
//!
//! Every value is a function of the row's position, so that anyone who
//! writes the same [`Shop`] (with fk-safe or by hand) writes the same rows,
//! and a check can tell a row hanging from the wrong parent. Positions count
//! from 0 across the whole shop: customer `c`, order `g` (customer
//! `g / orders_per_customer`) and item `h` (order `h / items_per_order`).
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use fk_safe_suite::shop::{ProductPick, Shop};
//!
//! // 2 customers with 3 orders of 4 items each, over products 7 and 8.
//! let shop = Shop::new(2, 3, 4).cents_per_order(10).product_pick(ProductPick::Staggered);
//! let graph = shop.graph::<diesel::sqlite::Sqlite>(&[7, 8]).unwrap();
//! assert_eq!(graph.len(), shop.row_count());
//! assert_eq!(shop.row_count(), 2 + 6 + 24);
//!
//! // Item 4 is item 0 of order 1, which belongs to customer 0.
//! let items = shop.items(&[7, 8]).unwrap();
//! assert_eq!(items[4].email, "customer0@example.com");
//! assert_eq!(items[4].total_cents, 10);
//! assert_eq!(items[4].quantity, 4);
//! assert_eq!(items[4].product_id, 8); // (customer 0 + order 1 + item 0) % 2
//! # }
//! ```

use std::num::NonZeroUsize;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::QueryableByName;
use fk_safe::graph::{Graph, WriteRow};

use crate::models::{NewCustomer, NewOrder, NewOrderItem};

/// The key a child holds until `insert_graph` fills it from its parent: an
/// id no sequence hands out, so that a child left unlinked by mistake fails
/// on its foreign key instead of hanging from some existing row.
const UNLINKED: i64 = -1;

/// Which existing product an item references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductPick {
    /// Item `h` references product `h % products`: the products in turn,
    /// item after item.
    Cycle,
    /// Item `i` of order `o` of customer `c` (each counted within its
    /// parent) references product `(c + o + i) % products`.
    Staggered,
}

/// The shape and the values of a shop graph. [`Shop::new`] gives the
/// defaults; the other constructors change one parameter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shop {
    customers: usize,
    orders_per_customer: usize,
    items_per_order: usize,
    email_domain: &'static str,
    cents_per_order: i64,
    first_quantity: i32,
    product_pick: ProductPick,
}

/// A [`Shop`] with items asked to reference products from an empty list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoProducts;

impl std::fmt::Display for NoProducts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the shop's order items need at least one existing product")
    }
}

impl std::error::Error for NoProducts {}

/// One order item with the natural keys of everything it hangs from, as
/// [`Shop::items`] expects it and as [`SHOP_ITEMS_SQL`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
pub struct ShopItem {
    /// The email of the order's customer.
    #[diesel(sql_type = Text)]
    pub email: String,
    /// The order's `total_cents`.
    #[diesel(sql_type = BigInt)]
    pub total_cents: i64,
    /// The item's `quantity`.
    #[diesel(sql_type = Integer)]
    pub quantity: i32,
    /// The product the item references.
    #[diesel(sql_type = BigInt)]
    pub product_id: i64,
}

/// Every order item of the database as [`ShopItem`]s, ordered by quantity
/// (item order, as in [`Shop::items`]: quantities ascend item after item).
pub const SHOP_ITEMS_SQL: &str = "SELECT c.email, o.total_cents, i.quantity, i.product_id \
     FROM order_items i JOIN orders o ON o.id = i.order_id \
     JOIN customers c ON c.id = o.customer_id ORDER BY i.quantity";

impl Shop {
    /// `customers` customers, each with `orders_per_customer` orders of
    /// `items_per_order` items. Customer `c` is `Customer c` with the email
    /// `customer{c}@example.com`, order `g` has `total_cents = g`, item `h`
    /// has `quantity = h` and references the products in turn
    /// ([`ProductPick::Cycle`]).
    pub const fn new(customers: usize, orders_per_customer: usize, items_per_order: usize) -> Shop {
        Shop {
            customers,
            orders_per_customer,
            items_per_order,
            email_domain: "example.com",
            cents_per_order: 1,
            first_quantity: 0,
            product_pick: ProductPick::Cycle,
        }
    }

    /// The same shop with `customers` customers.
    pub const fn with_customers(mut self, customers: usize) -> Shop {
        self.customers = customers;
        self
    }

    /// Emails `customer{c}@{domain}`.
    pub const fn email_domain(mut self, domain: &'static str) -> Shop {
        self.email_domain = domain;
        self
    }

    /// Order `g` has `total_cents = g * cents`.
    pub const fn cents_per_order(mut self, cents: i64) -> Shop {
        self.cents_per_order = cents;
        self
    }

    /// Item `h` has `quantity = first + h`.
    pub const fn first_quantity(mut self, first: i32) -> Shop {
        self.first_quantity = first;
        self
    }

    /// Which product each item references.
    pub const fn product_pick(mut self, pick: ProductPick) -> Shop {
        self.product_pick = pick;
        self
    }

    /// The number of customers.
    pub const fn customers(&self) -> usize {
        self.customers
    }

    /// The number of orders of each customer.
    pub const fn orders_per_customer(&self) -> usize {
        self.orders_per_customer
    }

    /// The number of items of each order.
    pub const fn items_per_order(&self) -> usize {
        self.items_per_order
    }

    /// The number of orders in the shop.
    pub const fn order_count(&self) -> usize {
        self.customers.saturating_mul(self.orders_per_customer)
    }

    /// The number of order items in the shop.
    pub const fn item_count(&self) -> usize {
        self.order_count().saturating_mul(self.items_per_order)
    }

    /// The number of rows the shop writes: customers, orders and items.
    pub const fn row_count(&self) -> usize {
        self.customers
            .saturating_add(self.order_count())
            .saturating_add(self.item_count())
    }

    /// The email of customer `c`, its natural key.
    pub fn email(&self, c: usize) -> String {
        format!("customer{c}@{}", self.email_domain)
    }

    /// The name of customer `c`.
    pub fn name(&self, c: usize) -> String {
        format!("Customer {c}")
    }

    /// The `total_cents` of order `g`.
    pub fn total_cents(&self, g: usize) -> i64 {
        // Wrapping: no graph that fits in memory comes near the limit, and a
        // value past it is still a value.
        (g as i64).wrapping_mul(self.cents_per_order)
    }

    /// The `quantity` of item `h`.
    pub fn quantity(&self, h: usize) -> i32 {
        // Wrapping, as in `total_cents`: 2^31 items do not fit in memory.
        self.first_quantity.wrapping_add(h as i32)
    }

    /// Which of `products` existing products item `h` references: an index
    /// into the list of their ids.
    pub fn product_index(&self, h: usize, products: NonZeroUsize) -> usize {
        let position = match (
            self.product_pick,
            NonZeroUsize::new(self.orders_per_customer),
            NonZeroUsize::new(self.items_per_order),
        ) {
            (ProductPick::Staggered, Some(orders), Some(items)) => {
                let g = h / items;
                let (c, o, i) = (g / orders, g % orders, h % items);
                c.wrapping_add(o).wrapping_add(i)
            }
            // A shop without orders or items has no item `h`: any product
            // will do.
            (ProductPick::Staggered, _, _) | (ProductPick::Cycle, _, _) => h,
        };
        position % products
    }

    /// The ids of the products the shop's items reference, in item order.
    fn product_ids<'p>(
        &self,
        products: &'p [i64],
    ) -> Result<impl Iterator<Item = i64> + 'p, NoProducts> {
        let count = match NonZeroUsize::new(products.len()) {
            Some(count) => count,
            None if self.item_count() == 0 => NonZeroUsize::MIN,
            None => return Err(NoProducts),
        };
        let shop = *self;
        Ok((0..self.item_count()).map(move |h| products[shop.product_index(h, count)]))
    }

    /// The shop as a [`Graph`], built as a user would: row by row, each
    /// order `.parent(customer)`, each item `.parent(order)`, the items
    /// referencing `products` (existing ids) by value.
    pub fn graph<DB>(&self, products: &[i64]) -> Result<Graph<DB>, NoProducts>
    where
        DB: fk_safe::FkBackend + 'static,
        NewCustomer: WriteRow<DB>,
        NewOrder: WriteRow<DB>,
        NewOrderItem: WriteRow<DB>,
    {
        let mut product_ids = self.product_ids(products)?;
        let mut graph = Graph::new();
        let (mut g, mut h) = (0, 0);
        for c in 0..self.customers {
            let customer = graph
                .add(NewCustomer {
                    email: self.email(c),
                    name: self.name(c),
                })
                .handle();
            for _ in 0..self.orders_per_customer {
                let order = graph
                    .add(NewOrder {
                        customer_id: UNLINKED,
                        total_cents: self.total_cents(g),
                    })
                    .parent(customer)
                    .handle();
                for _ in 0..self.items_per_order {
                    // `product_ids` yields exactly one id per item.
                    let Some(product_id) = product_ids.next() else {
                        return Err(NoProducts);
                    };
                    graph
                        .add(NewOrderItem {
                            order_id: UNLINKED,
                            product_id,
                            quantity: self.quantity(h),
                        })
                        .parent(order);
                    h += 1;
                }
                g += 1;
            }
        }
        Ok(graph)
    }

    /// What every item must hang from once [`Shop::graph`] of the same
    /// `products` is written, in item order.
    pub fn items(&self, products: &[i64]) -> Result<Vec<ShopItem>, NoProducts> {
        // Only items are enumerated, so neither count per parent is 0.
        Ok(self
            .product_ids(products)?
            .enumerate()
            .map(|(h, product_id)| {
                let g = h / self.items_per_order;
                ShopItem {
                    email: self.email(g / self.orders_per_customer),
                    total_cents: self.total_cents(g),
                    quantity: self.quantity(h),
                    product_id,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop of `shop_graph` in tests/graph_insert.rs, copied as the
    /// oracle: the shop must build the shape those tests write.
    fn tests_loop(
        customers: usize,
        orders: usize,
        items: usize,
        products: &[i64],
    ) -> Vec<ShopItem> {
        let mut expected = Vec::new();
        let mut quantity = 0;
        for c in 0..customers {
            for o in 0..orders {
                for i in 0..items {
                    quantity += 1;
                    expected.push(ShopItem {
                        email: format!("customer{c}@example.com"),
                        total_cents: (c * orders + o) as i64 * 10,
                        quantity,
                        product_id: products[(c + o + i) % products.len()],
                    });
                }
            }
        }
        expected
    }

    fn tests_shape(customers: usize, orders: usize, items: usize) -> Shop {
        Shop::new(customers, orders, items)
            .cents_per_order(10)
            .first_quantity(1)
            .product_pick(ProductPick::Staggered)
    }

    #[test]
    fn builds_the_integration_tests_shape() {
        let products = [11, 12, 13, 14, 15];
        for (customers, orders, items) in [(20, 3, 4), (1, 2, 7), (3, 1, 1), (2, 0, 5), (0, 3, 4)] {
            let shop = tests_shape(customers, orders, items);
            assert_eq!(
                shop.items(&products).unwrap(),
                tests_loop(customers, orders, items, &products),
                "{customers} customers, {orders} orders, {items} items"
            );
            assert_eq!(shop.row_count(), customers * (1 + orders * (1 + items)));
        }
    }

    #[test]
    fn builds_the_benchmark_shape() {
        let shop = Shop::new(10, 5, 4).email_domain("bench.example");
        let products = NonZeroUsize::new(200).unwrap();
        assert_eq!(shop.email(3), "customer3@bench.example");
        assert_eq!(shop.name(3), "Customer 3");
        for h in [0, 1, 199, 200, 201, 399] {
            assert_eq!(shop.product_index(h, products), h % 200);
            assert_eq!(shop.quantity(h), h as i32);
            assert_eq!(shop.total_cents(h), h as i64);
        }
        assert_eq!(shop.row_count(), 10 * 26);
    }

    #[test]
    fn items_need_a_product() {
        assert_eq!(Shop::new(2, 1, 1).items(&[]), Err(NoProducts));
        assert_eq!(Shop::new(2, 1, 0).items(&[]), Ok(Vec::new()));
        assert_eq!(Shop::new(2, 0, 3).items(&[]), Ok(Vec::new()));
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn written_items_hang_from_what_items_says() {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        use fk_safe::FkConnection;

        use crate::models::NewProduct;
        use crate::schema::products;

        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.enforce_foreign_keys().unwrap();
        crate::migrate(&mut conn, crate::SQLITE_MIGRATIONS).unwrap();
        let rows: Vec<NewProduct> = (0..3)
            .map(|p| NewProduct {
                sku: format!("SKU-{p}"),
                name: format!("Product {p}"),
                price_cents: 100,
            })
            .collect();
        diesel::insert_into(products::table)
            .values(&rows)
            .execute(&mut conn)
            .unwrap();
        let product_ids: Vec<i64> = products::table
            .select(products::id)
            .order(products::id)
            .load(&mut conn)
            .unwrap();

        for shop in [tests_shape(4, 3, 2), Shop::new(3, 2, 5)] {
            conn.batch_execute(
                "DELETE FROM order_items; DELETE FROM orders; DELETE FROM customers",
            )
            .unwrap();
            let graph = shop.graph::<diesel::sqlite::Sqlite>(&product_ids).unwrap();
            assert_eq!(graph.len(), shop.row_count());
            fk_safe::graph::insert_graph(&mut conn, &graph).unwrap();
            let written: Vec<ShopItem> = diesel::sql_query(SHOP_ITEMS_SQL).load(&mut conn).unwrap();
            assert_eq!(written, shop.items(&product_ids).unwrap(), "{shop:?}");
        }
    }
}
