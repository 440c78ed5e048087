//! The data: N customers, 5 orders each, 4 items per order, 200 products.

pub const ORDERS_PER_CUSTOMER: usize = 5;
pub const ITEMS_PER_ORDER: usize = 4;
pub const ROWS_PER_CUSTOMER: usize = 1 + ORDERS_PER_CUSTOMER * (1 + ITEMS_PER_ORDER);
pub const PRODUCTS: usize = 200;
pub const DEFAULT_SIZES: &[usize] = &[100, 1_000, 10_000, 38_462];
pub const SMOKE_SIZE: usize = 20;

/// Every value is a function of the row's position, so that each variant
/// writes exactly the same rows and the check can tell a row hanging from
/// the wrong parent: order `g = c * 5 + o` has `total_cents = g`, item
/// `h = g * 4 + i` has `quantity = h` and product `first + h % 200`, and
/// customer `c` is named `Customer c`.
pub fn email(c: usize) -> String {
    format!("customer{c}@bench.example")
}

pub fn name(c: usize) -> String {
    format!("Customer {c}")
}

pub fn order_total(g: usize) -> i64 {
    g as i64
}

pub fn item_quantity(h: usize) -> i32 {
    h as i32
}

pub fn item_product(first_product: i64, h: usize) -> i64 {
    first_product + (h % PRODUCTS) as i64
}

pub fn rows_of(n: usize) -> usize {
    n * ROWS_PER_CUSTOMER
}
