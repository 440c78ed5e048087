use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { transfers (id) { id -> BigInt, from_id -> BigInt, to_id -> BigInt } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = transfers)]
#[diesel(belongs_to(Customer, foreign_key = from_id))]
#[diesel(belongs_to(Customer, foreign_key = to_id))]
#[fk(relation(name = party, foreign_key = from_id))]
#[fk(relation(name = party, foreign_key = to_id))]
struct NewTransfer { from_id: i64, to_id: i64 }

fn main() {}
