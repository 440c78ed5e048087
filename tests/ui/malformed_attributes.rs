// An attribute fk-safe reads that is not of its form is an error at the
// token where the form breaks; the other attributes are still read.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = customers)]
#[fk(key)]
#[fk(natural_key = email)]
#[fk(relation(parent = customers, foreign_key = (email)))]
struct NewCustomer { email: String }

fn main() {}
