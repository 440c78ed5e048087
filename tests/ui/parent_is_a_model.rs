// An FkOrdered model cannot name a parent (it is not Diesel's HasTable);
// the error says to name the table.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
struct NewAuthor { name: String }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[fk(relation(parent = NewAuthor, foreign_key = author_id))]
struct NewPost { author_id: i64, title: String }

fn main() {}
