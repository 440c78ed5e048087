//! What a new user found on a blog schema (issue 8, section 2), on both
//! backends: composite client-chosen keys found by look-up and
//! get-or-insert, the input row behind a violation of a relation the model
//! does not declare, links the graph cannot honour, user tables named like
//! fk-safe's own SQL, and the input rows read back after `insert_graph`.

mod common;

use common::{count_rows, Count};
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{Nullable, Text};
use fk_safe::graph::{insert_graph, Graph, Relation, WriteNaturalKey, WriteRow};
use fk_safe::{Error, FkBackend, FkConnection, FkOrdered, GraphError, RowOrigin};

diesel::table! {
    authors (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
    }
}

diesel::table! {
    posts (id) {
        id -> BigInt,
        author_id -> BigInt,
        slug -> Text,
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
        label -> Text,
    }
}

diesel::table! {
    taggings (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        tag_slug -> Text,
        note -> Text,
    }
}

diesel::table! {
    /// Named like the list of values fk-safe's look-ups join, with a key
    /// column named like one of that list's columns once was.
    #[sql_name = "fk_safe input"]
    shadow_inputs (c0) {
        c0 -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    shadow_uses (id) {
        id -> BigInt,
        input_c0 -> BigInt,
        note -> Text,
    }
}

diesel::table! {
    /// Named like the list of links fk-safe's link update joins.
    #[sql_name = "fk_safe links"]
    shadow_links (id) {
        id -> BigInt,
        name -> Text,
        boss_id -> Nullable<BigInt>,
    }
}

#[derive(Identifiable)]
#[diesel(table_name = authors)]
struct Author {
    id: i64,
}

#[derive(Identifiable)]
#[diesel(table_name = posts)]
struct Post {
    id: i64,
}

#[derive(Identifiable)]
#[diesel(table_name = tags, primary_key(tenant_id, slug))]
struct Tag {
    tenant_id: i64,
    slug: String,
}

#[derive(Identifiable)]
#[diesel(table_name = shadow_inputs, primary_key(c0))]
struct ShadowInput {
    c0: i64,
}

#[derive(Identifiable)]
#[diesel(table_name = shadow_links)]
struct ShadowLink {
    id: i64,
}

#[derive(Insertable, FkOrdered, Clone)]
#[diesel(table_name = authors)]
#[fk(natural_key(email))]
struct NewAuthor {
    email: String,
    name: String,
}

#[derive(Insertable, FkOrdered, Clone, Debug)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = author_id))]
#[fk(natural_key(slug))]
struct NewPost {
    author_id: i64,
    slug: String,
    title: String,
}

/// A comment whose model declares only its post: `reply_to_id` references
/// `comments` in the schema, but not in the model.
#[derive(Insertable, FkOrdered, Debug)]
#[diesel(table_name = comments)]
#[diesel(belongs_to(Post, foreign_key = post_id))]
struct NewBareComment {
    post_id: i64,
    reply_to_id: Option<i64>,
    body: String,
}

#[derive(Insertable, FkOrdered, Clone, Debug, PartialEq)]
#[diesel(table_name = tags, primary_key(tenant_id, slug))]
#[fk(natural_key(tenant_id, slug))]
struct NewTag {
    tenant_id: i64,
    slug: String,
    label: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = taggings)]
#[fk(relation(name = tag, parent = Tag, foreign_key(tenant_id, tag_slug)))]
struct NewTagging {
    tenant_id: i64,
    tag_slug: String,
    note: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = shadow_inputs)]
#[fk(natural_key(name))]
struct NewShadowInput {
    name: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = shadow_uses)]
#[diesel(belongs_to(ShadowInput, foreign_key = input_c0))]
struct NewShadowUse {
    input_c0: i64,
    note: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = shadow_links)]
#[diesel(belongs_to(ShadowLink, foreign_key = boss_id))]
struct NewShadowLink {
    name: String,
    boss_id: Option<i64>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Pair {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Nullable<Text>)]
    b: Option<String>,
}

fn pairs<C>(conn: &mut C, sql: &str) -> Vec<(String, Option<String>)>
where
    C: Connection,
    for<'a> SqlQuery: LoadQuery<'a, C, Pair>,
{
    diesel::sql_query(sql)
        .load::<Pair>(conn)
        .unwrap()
        .into_iter()
        .map(|p| (p.a, p.b))
        .collect()
}

#[cfg(feature = "sqlite")]
const SQLITE: &str = r#"
    CREATE TABLE authors (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
    CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id),
        slug TEXT NOT NULL UNIQUE, title TEXT NOT NULL);
    CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id),
        reply_to_id BIGINT REFERENCES comments (id), body TEXT NOT NULL);
    CREATE TABLE tags (tenant_id BIGINT NOT NULL, slug TEXT NOT NULL, label TEXT NOT NULL,
        PRIMARY KEY (tenant_id, slug));
    CREATE TABLE taggings (id INTEGER PRIMARY KEY, tenant_id BIGINT NOT NULL, tag_slug TEXT NOT NULL,
        note TEXT NOT NULL, FOREIGN KEY (tenant_id, tag_slug) REFERENCES tags (tenant_id, slug));
    CREATE TABLE "fk_safe input" (c0 INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE shadow_uses (id INTEGER PRIMARY KEY, input_c0 BIGINT NOT NULL REFERENCES "fk_safe input" (c0),
        note TEXT NOT NULL);
    CREATE TABLE "fk_safe links" (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
        boss_id BIGINT REFERENCES "fk_safe links" (id));
"#;

#[cfg(feature = "postgres")]
const POSTGRES: &str = r#"
    CREATE TABLE authors (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
    CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id),
        slug TEXT NOT NULL UNIQUE, title TEXT NOT NULL);
    CREATE TABLE comments (id BIGSERIAL PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id),
        reply_to_id BIGINT REFERENCES comments (id), body TEXT NOT NULL);
    CREATE TABLE tags (tenant_id BIGINT NOT NULL, slug TEXT NOT NULL, label TEXT NOT NULL,
        PRIMARY KEY (tenant_id, slug));
    CREATE TABLE taggings (id BIGSERIAL PRIMARY KEY, tenant_id BIGINT NOT NULL, tag_slug TEXT NOT NULL,
        note TEXT NOT NULL, FOREIGN KEY (tenant_id, tag_slug) REFERENCES tags (tenant_id, slug));
    CREATE TABLE "fk_safe input" (c0 BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE shadow_uses (id BIGSERIAL PRIMARY KEY, input_c0 BIGINT NOT NULL REFERENCES "fk_safe input" (c0),
        note TEXT NOT NULL);
    CREATE TABLE "fk_safe links" (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL,
        boss_id BIGINT REFERENCES "fk_safe links" (id));
"#;

fn tag(tenant_id: i64, slug: &str, label: &str) -> NewTag {
    NewTag {
        tenant_id,
        slug: slug.into(),
        label: label.into(),
    }
}

/// A composite key the client chooses, found by get-or-insert (new, then
/// existing) and by look-up: the ids are the tuple, and children of either
/// are written with both parts.
fn composite_keys_found<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewTag: WriteNaturalKey<C::Backend>,
    NewTagging: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count> + LoadQuery<'a, C, Pair>,
{
    conn.batch_execute(ddl).unwrap();
    // Another tenant's tag of the same slug, and a slug holding the
    // separator fk-safe joins natural keys with and the colon its key text
    // uses: neither may be taken for another key.
    conn.batch_execute(
        "INSERT INTO tags (tenant_id, slug, label) VALUES (2, 'rust', 'Rust (2)'), (1, '3:a\u{1f}b', 'odd')",
    )
    .unwrap();

    let mut graph = Graph::new();
    let new = graph.get_or_insert(tag(1, "rust", "Rust")).handle();
    graph
        .add(NewTagging {
            tenant_id: 0,
            tag_slug: String::new(),
            note: "on the new tag".into(),
        })
        .parent(new);
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[new], (1, "rust".to_string()));
    assert_eq!(ids.existed(new), Some(false));

    // The same graph again: the tag exists now and keeps its label.
    let mut again = Graph::new();
    let existing = again
        .get_or_insert(tag(1, "rust", "Rust, relabelled"))
        .handle();
    let odd = again
        .get_or_insert(tag(1, "3:a\u{1f}b", "odd again"))
        .handle();
    let looked_up = again.lookup::<NewTag>((2, "rust".into()));
    again
        .add(NewTagging {
            tenant_id: 0,
            tag_slug: String::new(),
            note: "on the tag of tenant 2".into(),
        })
        .parent(looked_up);
    let ids = insert_graph(conn, &again).unwrap();
    assert_eq!(ids[existing], (1, "rust".to_string()));
    assert_eq!(ids.existed(existing), Some(true));
    assert_eq!(ids[odd], (1, "3:a\u{1f}b".to_string()));
    assert_eq!(ids.existed(odd), Some(true));
    assert_eq!(ids[looked_up], (2, "rust".to_string()));
    assert_eq!(ids.existed(looked_up), Some(true));
    assert_eq!(count_rows(conn, "tags"), 3);
    assert_eq!(
        pairs(
            conn,
            "SELECT t.note AS a, g.label AS b FROM taggings t \
             JOIN tags g ON g.tenant_id = t.tenant_id AND g.slug = t.tag_slug ORDER BY t.note"
        ),
        [
            ("on the new tag".to_string(), Some("Rust".to_string())),
            (
                "on the tag of tenant 2".to_string(),
                Some("Rust (2)".to_string())
            ),
        ]
    );

    // A look-up of a composite key that does not exist is a missing parent.
    let mut missing = Graph::new();
    let nowhere = missing.lookup::<NewTag>((3, "rust".into()));
    missing
        .add(NewTagging {
            tenant_id: 0,
            tag_slug: String::new(),
            note: "lost".into(),
        })
        .parent(nowhere);
    match insert_graph(conn, &missing) {
        Err(Error::MissingParents(all)) => assert_eq!(all.len(), 1),
        other => panic!("expected MissingParents, got {other:?}"),
    }
}

/// A violation of a foreign key the model does not declare still names the
/// input row it came from, found by the table, columns and values the
/// database named; and that row can be read back from the graph.
fn undeclared_relation_is_located<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewAuthor: WriteRow<C::Backend>,
    NewPost: WriteRow<C::Backend>,
    NewBareComment: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(ddl).unwrap();
    conn.batch_execute(
        "INSERT INTO authors (id, email, name) VALUES (100, 'ada@example.com', 'Ada'); \
         INSERT INTO posts (id, author_id, slug, title) VALUES (100, 100, 'first', 'First'); \
         INSERT INTO comments (id, post_id, reply_to_id, body) VALUES (500, 100, NULL, 'root');",
    )
    .unwrap();
    let mut graph = Graph::new();
    let author = graph
        .add(NewAuthor {
            email: "grace@example.com".into(),
            name: "Grace".into(),
        })
        .handle();
    let post = graph
        .add(NewPost {
            author_id: 0,
            slug: "hello".into(),
            title: "Hello".into(),
        })
        .parent(author)
        .handle();
    // Three replies in one statement; the middle one answers a comment that
    // does not exist.
    for (reply_to, body) in [(500, "fine"), (987654, "dangling"), (500, "fine too")] {
        graph
            .add(NewBareComment {
                post_id: 0,
                reply_to_id: Some(reply_to),
                body: body.into(),
            })
            .parent(post);
    }
    let error = insert_graph(conn, &graph).unwrap_err();
    let Error::ForeignKey(violation) = &error else {
        panic!("expected a foreign-key violation, got {error:?}");
    };
    assert_eq!(violation.child_table(), Some("comments"), "{violation:?}");
    assert_eq!(violation.child_columns(), ["reply_to_id"], "{violation:?}");
    assert_eq!(
        violation.origin(),
        Some(&RowOrigin {
            model: "NewBareComment",
            relation: None,
            row: Some(1),
        }),
        "{violation:?}"
    );
    let row = graph
        .row::<NewBareComment>(violation.origin().unwrap())
        .unwrap();
    assert_eq!(row.body, "dangling");
    assert_eq!(count_rows(conn, "comments"), 1);
}

/// A parent referenced by id that does not exist: the handler reads the
/// offending post back from the graph it still has, title and all.
fn missing_parent_row_is_read_back<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewPost: WriteRow<C::Backend>,
    NewAuthor: WriteRow<C::Backend>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let ada = graph
        .add(NewAuthor {
            email: "ada@example.com".into(),
            name: "Ada".into(),
        })
        .handle();
    let fine = graph
        .add(NewPost {
            author_id: 0,
            slug: "fine".into(),
            title: "Fine".into(),
        })
        .parent(ada)
        .handle();
    let orphan = graph
        .add(NewPost {
            author_id: 999,
            slug: "hello".into(),
            title: "Hello, world".into(),
        })
        .handle();
    let Err(Error::MissingParents(missing)) = insert_graph(conn, &graph) else {
        panic!("expected MissingParents");
    };
    assert_eq!(missing.len(), 1);
    let origin = missing[0].origin().unwrap();
    assert_eq!(origin.row, Some(orphan.row()));
    let post = graph.row::<NewPost>(origin).unwrap();
    assert_eq!(post.title, "Hello, world");
    // An origin of another model is not read as a post.
    assert!(graph.row::<NewAuthor>(origin).is_none());
    assert_eq!(graph.get(fine).map(|p| p.title.as_str()), Some("Fine"));
    assert_eq!(graph.get(ada).map(|a| a.name.as_str()), Some("Ada"));
    assert_eq!(graph.rows::<NewPost>().len(), 2);
    // Another graph's handle reads nothing here.
    let mut other = Graph::<C::Backend>::new();
    let stranger = other
        .add(NewAuthor {
            email: "x@example.com".into(),
            name: "X".into(),
        })
        .handle();
    assert!(graph.get(stranger).is_none());
}

/// Links the graph cannot honour are refused before any SQL, never dropped.
fn links_that_cannot_be_made_are_refused<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewPost: WriteRow<C::Backend>,
    NewAuthor: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(ddl).unwrap();
    let author = |graph: &mut Graph<C::Backend>, email: &str| {
        graph
            .add(NewAuthor {
                email: email.into(),
                name: email.into(),
            })
            .handle()
    };
    let post = |slug: &str| NewPost {
        author_id: 0,
        slug: slug.into(),
        title: slug.into(),
    };

    // One foreign key linked to two parents: which one is meant?
    let mut graph = Graph::new();
    let (a, b) = (author(&mut graph, "a@x"), author(&mut graph, "b@x"));
    graph
        .add(post("twice"))
        .parent(a)
        .parent_via(NewPost::AUTHOR_ID, b);
    match insert_graph(conn, &graph) {
        Err(Error::Graph(GraphError::LinkedTwice {
            model,
            relation,
            row,
        })) => assert_eq!((model, relation, row), ("NewPost", "author_id", 0)),
        other => panic!("expected LinkedTwice, got {other:?}"),
    }

    // The same link made again is the same request: accepted.
    let mut graph = Graph::new();
    let a = author(&mut graph, "a@x");
    let p = graph.add(post("again")).parent(a).handle();
    graph.link(p, NewPost::AUTHOR_ID, a);
    insert_graph(conn, &graph).unwrap();
    assert_eq!(count_rows(conn, "posts"), 1);

    // A relation the model does not have.
    let mut graph = Graph::new();
    let a = author(&mut graph, "c@x");
    let p = graph.add(post("nowhere")).handle();
    graph.link(p, Relation::<NewPost, authors::table>::new(7), a);
    match insert_graph(conn, &graph) {
        Err(Error::Graph(GraphError::UnknownRelation { model, relation })) => {
            assert_eq!((model, relation), ("NewPost", 7))
        }
        other => panic!("expected UnknownRelation, got {other:?}"),
    }

    // A child of another graph.
    let mut other = Graph::<C::Backend>::new();
    let stranger = other.add(post("stranger")).handle();
    let mut graph = Graph::new();
    let a = author(&mut graph, "d@x");
    graph.link(stranger, NewPost::AUTHOR_ID, a);
    match insert_graph(conn, &graph) {
        Err(Error::Graph(GraphError::ForeignHandle { model })) => assert_eq!(model, "NewPost"),
        other => panic!("expected ForeignHandle, got {other:?}"),
    }
    assert_eq!(count_rows(conn, "authors"), 1);
    assert_eq!(count_rows(conn, "posts"), 1);
}

/// User tables named like the list fk-safe's look-ups join: the look-up,
/// the check of parents referenced by id and get-or-insert all reach the
/// user's table.
fn tables_named_like_internal_sql<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewShadowInput: WriteNaturalKey<C::Backend>,
    NewShadowUse: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count> + LoadQuery<'a, C, Pair>,
{
    conn.batch_execute(ddl).unwrap();
    conn.batch_execute(
        r#"INSERT INTO "fk_safe input" (c0, name) VALUES (101, 'one'), (103, 'three')"#,
    )
    .unwrap();

    // By id: an existing parent is found, a missing one reported.
    let mut graph = Graph::new();
    graph.add(NewShadowUse {
        input_c0: 101,
        note: "by id".into(),
    });
    insert_graph(conn, &graph).unwrap();
    let mut graph = Graph::new();
    graph.add(NewShadowUse {
        input_c0: 102,
        note: "missing".into(),
    });
    match insert_graph(conn, &graph) {
        Err(Error::MissingParents(all)) => {
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].key_values(), Some(&[Some("102".to_string())][..]));
        }
        other => panic!("expected MissingParents, got {other:?}"),
    }

    // By natural key, and get-or-insert.
    let mut graph = Graph::new();
    let three = graph.lookup::<NewShadowInput>("three".into());
    let four = graph
        .get_or_insert(NewShadowInput {
            name: "four".into(),
        })
        .handle();
    graph
        .add(NewShadowUse {
            input_c0: 0,
            note: "by name".into(),
        })
        .parent(three);
    graph
        .add(NewShadowUse {
            input_c0: 0,
            note: "new".into(),
        })
        .parent(four);
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[three], 103);
    assert_eq!(ids.existed(four), Some(false));
    assert_eq!(
        pairs(
            conn,
            r#"SELECT u.note AS a, i.name AS b FROM shadow_uses u JOIN "fk_safe input" i ON i.c0 = u.input_c0 ORDER BY u.id"#
        ),
        [
            ("by id".to_string(), Some("one".to_string())),
            ("by name".to_string(), Some("three".to_string())),
            ("new".to_string(), Some("four".to_string())),
        ]
    );
}

/// A cycle closed by the link update, on a table named like the list of
/// links the update joins.
fn link_update_reaches_table_named_like_its_list<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewShadowLink: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Pair>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let boss = graph
        .add(NewShadowLink {
            name: "boss".into(),
            boss_id: None,
        })
        .handle();
    let clerk = graph
        .add(NewShadowLink {
            name: "clerk".into(),
            boss_id: None,
        })
        .handle();
    graph.link(boss, NewShadowLink::BOSS_ID, boss);
    graph.link(clerk, NewShadowLink::BOSS_ID, boss);
    insert_graph(conn, &graph).unwrap();
    assert_eq!(
        pairs(
            conn,
            r#"SELECT l.name AS a, b.name AS b FROM "fk_safe links" l LEFT JOIN "fk_safe links" b ON b.id = l.boss_id ORDER BY l.name"#
        ),
        [
            ("boss".to_string(), Some("boss".to_string())),
            ("clerk".to_string(), Some("boss".to_string())),
        ]
    );
}

common::on_both_backends! {
    composite_keys_found => { postgres: (POSTGRES), sqlite: (SQLITE) },
    undeclared_relation_is_located => { postgres: (POSTGRES), sqlite: (SQLITE) },
    missing_parent_row_is_read_back => { postgres: (POSTGRES), sqlite: (SQLITE) },
    links_that_cannot_be_made_are_refused => { postgres: (POSTGRES), sqlite: (SQLITE) },
    tables_named_like_internal_sql => { postgres: (POSTGRES), sqlite: (SQLITE) },
    link_update_reaches_table_named_like_its_list => { postgres: (POSTGRES), sqlite: (SQLITE) },
}
