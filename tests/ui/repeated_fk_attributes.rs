// Every fk-safe key given twice is an error at the second one.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, editor_id -> BigInt, reviewer_id -> BigInt, title -> Text } }

#[derive(Identifiable)]
#[diesel(table_name = authors)]
struct Author { id: i64 }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[fk(key = i64, key = i32)]
#[fk(relation(name = author, name = writer, parent = authors, foreign_key = author_id))]
#[fk(relation(name = editor, parent = authors, parent = Author, foreign_key = editor_id))]
#[fk(relation(name = both, parent = authors, foreign_key = reviewer_id, foreign_key = author_id))]
struct NewPost {
    author_id: i64,
    editor_id: i64,
    reviewer_id: i64,
    title: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = author_id))]
#[fk(relation(name = writer, foreign_key = author_id))]
#[fk(relation(name = author, foreign_key = author_id))]
struct NamedTwice {
    author_id: i64,
    editor_id: i64,
    reviewer_id: i64,
    title: String,
}

fn main() {}
