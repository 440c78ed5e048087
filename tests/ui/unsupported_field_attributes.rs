use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { pages (id) { id -> BigInt, body -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = pages)]
struct NewPage {
    #[diesel(embed)]
    body: String,
    #[diesel(serialize_as = String)]
    title: String,
}

fn main() {}
