// A natural key finds a row before the graph is written; a foreign key's
// value is known only once its parent is.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, reference -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = orders)]
#[fk(relation(parent = customers, foreign_key = customer_id))]
#[fk(natural_key(customer_id, reference))]
struct NewOrder { customer_id: i64, reference: String }

fn main() {}
