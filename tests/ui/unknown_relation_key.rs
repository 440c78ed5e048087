// #[fk(relation(..))] knows name, parent and foreign_key.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = orders)]
#[fk(relation(parent = customers, foreign_key = customer_id, on_delete = cascade))]
struct NewOrder { customer_id: i64, total: i64 }

fn main() {}
