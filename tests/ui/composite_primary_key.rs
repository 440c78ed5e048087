use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { lines (order_id, line) { order_id -> BigInt, line -> Integer, text -> Text } }

// The database cannot generate a composite key: its columns must be fields.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = lines)]
#[diesel(primary_key(order_id, line))]
struct NewLine { order_id: i64, text: String }

fn main() {}
