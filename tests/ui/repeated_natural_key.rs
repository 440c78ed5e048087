// A second natural_key would silently replace the first: refused at its span.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, email -> Text, handle -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
#[fk(natural_key(email))]
#[fk(natural_key(handle))]
struct NewAuthor {
    email: String,
    handle: String,
}

fn main() {}
