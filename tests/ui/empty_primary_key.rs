use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors, primary_key())]
struct NewAuthor { name: String }

fn main() {}
