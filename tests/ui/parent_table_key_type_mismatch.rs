// The foreign key's SQL type is checked against the parent table's key,
// whichever way the parent is named.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> Integer, title -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[fk(relation(parent = authors, foreign_key = author_id))]
struct NewPost { author_id: i32, title: String }

fn main() {}
