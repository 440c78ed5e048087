use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, email -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, slug -> Text } }

#[derive(Identifiable)]
#[diesel(table_name = authors)]
struct Author { id: i64 }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
struct NewAuthor { email: String }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = author_id))]
#[fk(natural_key(slug))]
struct NewPost { author_id: i64, slug: String }

fn link<DB: fk_safe::FkBackend + 'static>(graph: &mut fk_safe::graph::Graph<DB>)
where
    NewAuthor: fk_safe::graph::WriteRow<DB>,
    NewPost: fk_safe::graph::WriteNaturalKey<DB>,
{
    let post = graph.lookup::<NewPost>("hello".to_string());
    let author = graph.add(NewAuthor { email: "a@example.com".into() }).handle();
    // A looked-up post is not written: it cannot be the child of a link.
    graph.link(post, NewPost::AUTHOR_ID, author);
}

fn main() {}
