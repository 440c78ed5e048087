//! Checks: the rows every variant must leave behind.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::baselines::BenchConn;
use crate::data::{ITEMS_PER_ORDER, ORDERS_PER_CUSTOMER, PRODUCTS};
use crate::Res;

#[derive(QueryableByName)]
pub struct Num {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// `sum(0..count)`.
pub fn triangle(count: usize) -> i64 {
    let count = count as i64;
    count * (count - 1) / 2
}

pub fn verify<C: BenchConn>(conn: &mut C, variant: &str, n: usize, first_product: i64) -> Res<()> {
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
