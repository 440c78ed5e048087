// natural_key lists fields (its value is a tuple of theirs): a column name
// is refused with the field to write instead.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, email -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
#[fk(natural_key(email))]
struct NewAuthor {
    #[diesel(column_name = email)]
    address: String,
}

fn main() {}
