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

// Diesel's keys that fk-safe reads, likewise, on the struct and on a field.
#[derive(FkOrdered)]
#[diesel(table_name = customers, primary_key = id)]
struct OtherCustomer {
    #[diesel(treat_none_as_default_value = maybe)]
    email: Option<String>,
}

fn main() {}
