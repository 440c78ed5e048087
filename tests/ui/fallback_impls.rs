// A model whose attributes have a mistake still gets fk-safe's traits
// (impls that are never run, since the crate does not compile): the only
// errors are the mistakes, not "WriteRow is not implemented" at each use.
use diesel::prelude::*;
use fk_safe::graph::{insert_graph, Graph, WriteRow};
use fk_safe::FkOrdered;

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, editor_id -> Nullable<BigInt>, title -> Text } }
diesel::table! { comments (id) { id -> BigInt, post_id -> BigInt, author_id -> BigInt, body -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
#[fk(natural_key(name), natural_key(name))]
struct NewAuthor { name: String }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[fk(relation(parent = authors, foreign_key = author_id, on_delete = cascade))]
#[fk(relation(name = editor, parent = authors, foreign_key = editor_id))]
struct NewPost { author_id: i64, editor_id: Option<i64>, title: String }

// A foreign key that names no column: the other relation still has its
// constant and `.parent(..)`.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = comments)]
#[fk(relation(parent = posts, foreign_key = post_id))]
#[fk(relation(name = author, parent = authors, foreign_key = writer_id))]
struct NewComment { post_id: i64, author_id: i64, body: String }

fn writable<M: WriteRow<diesel::sqlite::Sqlite>>() {}

fn main() {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    let mut graph = Graph::new();
    let ada = graph.get_or_insert(NewAuthor { name: "Ada".into() }).handle();
    let grace = graph.lookup::<NewAuthor>("Grace".to_string());
    let post = graph
        .add(NewPost { author_id: 0, editor_id: None, title: "Hello".into() })
        .parent_via(NewPost::AUTHOR_ID, ada)
        .handle();
    graph.link(post, NewPost::EDITOR, grace);
    let comment = graph
        .add(NewComment { post_id: 0, author_id: 0, body: "Hi".into() })
        .parent(post)
        .handle();
    graph.link(comment, NewComment::POST_ID, post);
    writable::<NewPost>();
    let ids = insert_graph(&mut conn, &graph).unwrap();
    let _: i64 = ids[post];
}
