use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { stock (id) { id -> BigInt, tenant_id -> BigInt, code -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = stock)]
#[fk(relation(name = warehouse, foreign_key(tenant_id, code)))]
struct NewStock { tenant_id: i64, code: String }

fn main() {}
