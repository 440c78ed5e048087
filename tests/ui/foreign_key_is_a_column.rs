// Diesel's `foreign_key` names a column: the field's name is refused when
// the field is written to another column, with the column to write instead.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }

#[derive(Identifiable)]
#[diesel(table_name = authors)]
struct Author { id: i64 }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = writer))]
struct NewPost {
    #[diesel(column_name = author_id)]
    writer: i64,
    title: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[fk(relation(parent = authors, foreign_key = writer))]
struct NewPostByTable {
    #[diesel(column_name = author_id)]
    writer: i64,
    title: String,
}

fn main() {}
