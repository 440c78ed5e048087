// A parent table that does not exist is the compiler's error at its name.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[fk(relation(parent = autors, foreign_key = author_id))]
struct NewPost { author_id: i64, title: String }

fn main() {}
