use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

#[derive(FkOrdered)]
#[diesel(table_name = orders)]
struct NewOrder<T> { customer_id: i64, total: T }

fn main() {}
