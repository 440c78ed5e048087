use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { notes (id) { id -> BigInt, customer_email -> Text } }

// The foreign key is text, the parent key is a BIGINT.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = notes)]
#[diesel(belongs_to(Customer, foreign_key = customer_email))]
struct NewNote { customer_email: String }

fn main() {}
