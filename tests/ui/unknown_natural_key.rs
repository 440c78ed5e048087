use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = customers)]
#[fk(natural_key(mail))]
struct NewCustomer { email: String }

fn main() {}
