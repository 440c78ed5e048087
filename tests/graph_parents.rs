//! Naming a relation's parent: Diesel's way (`belongs_to` of an
//! `Identifiable` struct, whose `foreign_key` is a column, so the model also
//! derives Diesel's `Associations`) and fk-safe's short way (the parent's
//! table, `#[fk(relation(parent = authors, foreign_key = author_id))]`, with
//! no struct written only to be named). A blog: authors, posts, comments
//! that answer comments, and tags with a composite key. Both backends.

mod common;

use diesel::associations::BelongsTo;
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{BigInt, Nullable, Text};
use fk_safe::graph::{insert_graph, Graph, WriteRow};
use fk_safe::{FkConnection, FkOrdered};

diesel::table! {
    authors (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    posts (id) {
        id -> BigInt,
        author_id -> BigInt,
        editor_id -> Nullable<BigInt>,
        title -> Text,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        post_id -> BigInt,
        reply_to_id -> Nullable<BigInt>,
        body -> Text,
    }
}

diesel::table! {
    tags (tenant_id, slug) {
        tenant_id -> BigInt,
        slug -> Text,
    }
}

diesel::table! {
    post_tags (id) {
        id -> BigInt,
        post_id -> BigInt,
        tenant_id -> BigInt,
        tag_slug -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(authors, posts, comments, tags, post_tags);

/// Diesel's way needs the parent as an `Identifiable` struct.
#[derive(Identifiable)]
#[diesel(table_name = authors)]
struct Author {
    id: i64,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
struct NewAuthor {
    name: String,
}

/// Diesel's `belongs_to` with a field renamed by `column_name`: the foreign
/// key is the column, for Diesel's `Associations` and fk-safe alike. The
/// editor is named the short way.
#[derive(Insertable, Associations, FkOrdered)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = author_id))]
#[fk(relation(name = editor, parent = authors, foreign_key = editor_id))]
struct NewPost {
    #[diesel(column_name = author_id)]
    writer: i64,
    editor_id: Option<i64>,
    title: String,
}

/// Only the short way: no `Post` or `Comment` struct exists.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = comments)]
#[fk(relation(parent = posts, foreign_key = post_id))]
#[fk(relation(name = reply_to, parent = comments, foreign_key = reply_to_id))]
struct NewComment {
    post_id: i64,
    reply_to_id: Option<i64>,
    body: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = tags, primary_key(tenant_id, slug))]
struct NewTag {
    tenant_id: i64,
    slug: String,
}

/// A composite foreign key to a table, its columns in the order of the
/// parent's key (`tenant_id`, `slug`).
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = post_tags)]
#[fk(relation(parent = posts, foreign_key = post_id))]
#[fk(relation(name = tag, parent = tags, foreign_key(tenant_id, tag_slug)))]
struct NewPostTag {
    post_id: i64,
    tenant_id: i64,
    tag_slug: String,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct CommentRow {
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    author: String,
    #[diesel(sql_type = Nullable<Text>)]
    editor: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reply_to: Option<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct TagRow {
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = BigInt)]
    tenant_id: i64,
    #[diesel(sql_type = Text)]
    slug: String,
}

#[test]
fn diesel_associations_read_the_same_column() {
    let post = NewPost {
        writer: 7,
        editor_id: None,
        title: "t".into(),
    };
    // Diesel's Associations, derived on the same model, finds the renamed
    // field through its column.
    assert_eq!(<NewPost as BelongsTo<Author>>::foreign_key(&post), Some(&7));
    let relation = NewPost::RELATIONS[0];
    assert_eq!(relation.name, "author_id");
    assert_eq!(relation.fields, ["writer"]);
    assert_eq!(relation.columns, ["author_id"]);
    assert_eq!(NewPost::RELATIONS[1].columns, ["editor_id"]);
    assert_eq!(NewComment::RELATIONS[0].name, "post_id");
    assert_eq!(NewComment::RELATIONS[1].name, "reply_to");
    assert_eq!(NewPostTag::RELATIONS[1].columns, ["tenant_id", "tag_slug"]);
}

fn blog<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewAuthor: WriteRow<C::Backend>,
    NewPost: WriteRow<C::Backend>,
    NewComment: WriteRow<C::Backend>,
    NewTag: WriteRow<C::Backend>,
    NewPostTag: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, CommentRow> + LoadQuery<'a, C, TagRow>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let ada = graph.add(NewAuthor { name: "Ada".into() }).handle();
    let alan = graph
        .add(NewAuthor {
            name: "Alan".into(),
        })
        .handle();
    // Two foreign keys to authors: each link names its relation.
    let first = graph
        .add(NewPost {
            writer: 0,
            editor_id: None,
            title: "First".into(),
        })
        .parent_via(NewPost::AUTHOR_ID, alan)
        .parent_via(NewPost::EDITOR, ada)
        .handle();
    let second = graph
        .add(NewPost {
            writer: 0,
            editor_id: None,
            title: "Second".into(),
        })
        .parent_via(NewPost::AUTHOR_ID, ada)
        .handle();
    // `.parent` picks the only relation to the parent's table.
    let question = graph
        .add(NewComment {
            post_id: 0,
            reply_to_id: None,
            body: "question".into(),
        })
        .parent(second)
        .handle();
    graph
        .add(NewComment {
            post_id: 0,
            reply_to_id: None,
            body: "answer".into(),
        })
        .parent(second)
        .parent_via(NewComment::REPLY_TO, question);
    graph
        .add(NewComment {
            post_id: 0,
            reply_to_id: None,
            body: "hello".into(),
        })
        .parent(first);
    let rust = graph
        .add(NewTag {
            tenant_id: 2,
            slug: "rust".into(),
        })
        .handle();
    let sql = graph
        .add(NewTag {
            tenant_id: 1,
            slug: "sql".into(),
        })
        .handle();
    graph
        .add(NewPostTag {
            post_id: 0,
            tenant_id: 0,
            tag_slug: String::new(),
        })
        .parent(first)
        .parent(sql);
    graph
        .add(NewPostTag {
            post_id: 0,
            tenant_id: 0,
            tag_slug: String::new(),
        })
        .parent(second)
        .parent_via(NewPostTag::TAG, rust);
    let ids = insert_graph(conn, &graph).unwrap();

    let rows: Vec<CommentRow> = diesel::sql_query(
        "SELECT c.body, p.title, a.name AS author, e.name AS editor, r.body AS reply_to \
         FROM comments c JOIN posts p ON p.id = c.post_id JOIN authors a ON a.id = p.author_id \
         LEFT JOIN authors e ON e.id = p.editor_id LEFT JOIN comments r ON r.id = c.reply_to_id \
         ORDER BY c.body",
    )
    .load(conn)
    .unwrap();
    let row = |body: &str, title: &str, author: &str, editor: Option<&str>, reply: Option<&str>| {
        CommentRow {
            body: body.into(),
            title: title.into(),
            author: author.into(),
            editor: editor.map(Into::into),
            reply_to: reply.map(Into::into),
        }
    };
    assert_eq!(
        rows,
        [
            row("answer", "Second", "Ada", None, Some("question")),
            row("hello", "First", "Alan", Some("Ada"), None),
            row("question", "Second", "Ada", None, None),
        ]
    );
    let tags: Vec<TagRow> = diesel::sql_query(
        "SELECT p.title, t.tenant_id, t.tag_slug AS slug FROM post_tags t \
         JOIN posts p ON p.id = t.post_id ORDER BY p.title",
    )
    .load(conn)
    .unwrap();
    assert_eq!(
        tags,
        [
            TagRow {
                title: "First".into(),
                tenant_id: 1,
                slug: "sql".into()
            },
            TagRow {
                title: "Second".into(),
                tenant_id: 2,
                slug: "rust".into()
            },
        ]
    );

    // A parent named by its table that already exists is referenced by the
    // field's value, and checked before anything is written.
    let mut graph = Graph::new();
    graph.add(NewComment {
        post_id: ids[first],
        reply_to_id: None,
        body: "existing post".into(),
    });
    graph.add(NewComment {
        post_id: 987_654,
        reply_to_id: None,
        body: "missing post".into(),
    });
    let error = insert_graph(conn, &graph).unwrap_err();
    let fk_safe::Error::MissingParents(missing) = &error else {
        panic!("expected the missing post, got {error:?}");
    };
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].parent_table(), Some("posts"));
    assert_eq!(
        missing[0].key_values(),
        Some(&[Some("987654".to_string())][..])
    );
    let origin = missing[0].origin().expect("the input row");
    assert!(origin.model.ends_with("NewComment"), "{origin:?}");
    assert_eq!((origin.relation, origin.row), (Some("post_id"), Some(1)));
}

#[cfg(feature = "sqlite")]
const BLOG_SQLITE: &str = "\
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL); \
    CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id), \
        editor_id BIGINT REFERENCES authors (id), title TEXT NOT NULL); \
    CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id), \
        reply_to_id BIGINT REFERENCES comments (id), body TEXT NOT NULL); \
    CREATE TABLE tags (tenant_id BIGINT NOT NULL, slug TEXT NOT NULL, PRIMARY KEY (tenant_id, slug)); \
    CREATE TABLE post_tags (id INTEGER PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id), \
        tenant_id BIGINT NOT NULL, tag_slug TEXT NOT NULL, \
        FOREIGN KEY (tenant_id, tag_slug) REFERENCES tags (tenant_id, slug));";

#[cfg(feature = "postgres")]
const BLOG_POSTGRES: &str = "\
    CREATE TABLE authors (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL); \
    CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id), \
        editor_id BIGINT REFERENCES authors (id), title TEXT NOT NULL); \
    CREATE TABLE comments (id BIGSERIAL PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id), \
        reply_to_id BIGINT REFERENCES comments (id), body TEXT NOT NULL); \
    CREATE TABLE tags (tenant_id BIGINT NOT NULL, slug TEXT NOT NULL, PRIMARY KEY (tenant_id, slug)); \
    CREATE TABLE post_tags (id BIGSERIAL PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id), \
        tenant_id BIGINT NOT NULL, tag_slug TEXT NOT NULL, \
        FOREIGN KEY (tenant_id, tag_slug) REFERENCES tags (tenant_id, slug));";

common::on_both_backends! {
    parents_named_both_ways = blog => {
        postgres: (BLOG_POSTGRES),
        sqlite: (BLOG_SQLITE),
    },
}
