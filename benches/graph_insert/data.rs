//! The data: N customers, 5 orders each, 4 items per order, 200 products,
//! the shop of [`fk_safe_suite::shop`].

use std::num::NonZeroUsize;

use fk_safe_suite::shop::Shop;

pub const ORDERS_PER_CUSTOMER: usize = 5;
pub const ITEMS_PER_ORDER: usize = 4;
pub const ROWS_PER_CUSTOMER: usize = 1 + ORDERS_PER_CUSTOMER * (1 + ITEMS_PER_ORDER);
pub const PRODUCTS: usize = 200;
pub const DEFAULT_SIZES: &[usize] = &[100, 1_000, 10_000, 38_462];
pub const SMOKE_SIZE: usize = 20;

/// The shop at N = 0 (see [`shop`]). Every value is a function of the
/// row's position, so that each variant writes exactly the same rows and the
/// check can tell a row hanging from the wrong parent: order `g = c * 5 + o`
/// has `total_cents = g`, item `h = g * 4 + i` has `quantity = h` and
/// product `first + h % 200`, and customer `c` is named `Customer c`.
const SHOP: Shop = Shop::new(0, ORDERS_PER_CUSTOMER, ITEMS_PER_ORDER).email_domain("bench.example");

const PRODUCT_COUNT: NonZeroUsize = match NonZeroUsize::new(PRODUCTS) {
    Some(count) => count,
    None => panic!("the benchmark needs products"),
};

/// The data of size N, which every variant writes.
pub fn shop(n: usize) -> Shop {
    SHOP.with_customers(n)
}

/// The ids of the products, as [`Shop::graph`] takes them: the products
/// table holds exactly these (see `seed_products`).
pub fn product_ids(first_product: i64) -> Vec<i64> {
    (first_product..first_product + PRODUCTS as i64).collect()
}

pub fn email(c: usize) -> String {
    SHOP.email(c)
}

pub fn name(c: usize) -> String {
    SHOP.name(c)
}

pub fn order_total(g: usize) -> i64 {
    SHOP.total_cents(g)
}

pub fn item_quantity(h: usize) -> i32 {
    SHOP.quantity(h)
}

pub fn item_product(first_product: i64, h: usize) -> i64 {
    first_product + SHOP.product_index(h, PRODUCT_COUNT) as i64
}

pub fn rows_of(n: usize) -> usize {
    n * ROWS_PER_CUSTOMER
}
