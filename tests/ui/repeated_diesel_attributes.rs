// Diesel's keys fk-safe reads: one value each. (Diesel's Insertable takes
// two table_name as two tables and the last primary_key or foreign_key;
// fk-safe would write one of them without a word.)
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, editor_id -> BigInt, title -> Nullable<Text> } }

#[derive(Identifiable)]
#[diesel(table_name = authors)]
struct Author { id: i64 }

#[derive(FkOrdered)]
#[diesel(table_name = posts, table_name = authors)]
#[diesel(primary_key(id), primary_key(author_id))]
#[diesel(treat_none_as_default_value = false, treat_none_as_default_value = true)]
#[diesel(belongs_to(Author, foreign_key = author_id, foreign_key = editor_id))]
struct NewPost {
    author_id: i64,
    #[diesel(column_name = editor_id, column_name = author_id)]
    editor: i64,
    #[diesel(treat_none_as_default_value = true)]
    #[diesel(treat_none_as_default_value = false)]
    title: Option<String>,
}

fn main() {}
