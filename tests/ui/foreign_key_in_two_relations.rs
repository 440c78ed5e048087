// A foreign-key column already in a belongs_to cannot be declared again by
// an #[fk(relation(parent = ..))]: it points at one parent.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = orders)]
#[diesel(belongs_to(Customer, foreign_key = customer_id))]
#[fk(relation(name = buyer, parent = customers, foreign_key = customer_id))]
struct NewOrder { customer_id: i64, total: i64 }

fn main() {}
