//! Finding existing rows: look-ups by natural key, get-or-insert, and the
//! check of parents referenced by id. The database decides what matches
//! (collations, `COLLATE NOCASE`), at any number of rows, and the answer is
//! paired by position, never by comparing text in Rust.

mod common;

use common::{count_rows, Count};
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::Text;
use fk_safe::graph::{insert_graph, Graph, WriteNaturalKey, WriteRow};
use fk_safe::{Error, FkConnection, FkOrdered, GraphError};

diesel::table! {
    people (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
    }
}

diesel::table! {
    notes (id) {
        id -> BigInt,
        person_id -> BigInt,
        body -> Text,
    }
}

diesel::table! {
    pairs (id) {
        id -> BigInt,
        a -> Text,
        b -> Text,
    }
}

diesel::table! {
    codes (code) {
        code -> Text,
    }
}

diesel::table! {
    code_uses (id) {
        id -> BigInt,
        code -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(people, notes);

#[derive(Identifiable)]
#[diesel(table_name = people)]
struct Person {
    id: i64,
}

#[derive(Insertable, FkOrdered, Clone)]
#[diesel(table_name = people)]
#[fk(natural_key(email))]
struct NewPerson {
    email: String,
    name: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = notes)]
#[diesel(belongs_to(Person, foreign_key = person_id))]
struct NewNote {
    person_id: i64,
    body: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = pairs)]
#[fk(natural_key(a, b))]
struct NewPair {
    a: String,
    b: String,
}

#[derive(Identifiable)]
#[diesel(table_name = codes, primary_key(code))]
struct Code {
    code: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = code_uses)]
#[diesel(belongs_to(Code, foreign_key = code))]
struct NewCodeUse {
    code: String,
}

#[derive(QueryableByName)]
struct NoteOwner {
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Text)]
    email: String,
}

fn email(i: usize) -> String {
    format!("person{i}@example.com")
}

/// Thousands of look-ups and get-or-inserts in one graph: each is answered
/// by position, in statements cut at the bind limit.
fn many_rows<C>(conn: &mut C, ddl: &str, n: usize)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewPerson: WriteNaturalKey<C::Backend>,
    NewNote: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count> + LoadQuery<'a, C, NoteOwner>,
{
    conn.batch_execute(ddl).unwrap();
    let people: Vec<NewPerson> = (0..n)
        .map(|i| NewPerson {
            email: email(i),
            name: format!("Person {i}"),
        })
        .collect();

    // Half of them exist already; get_or_insert must find those and add the rest.
    let mut graph = Graph::new();
    for person in people.iter().step_by(2) {
        graph.add(person.clone());
    }
    let first = insert_graph(conn, &graph).unwrap();
    let mut graph = Graph::new();
    let handles: Vec<_> = people
        .iter()
        .map(|p| graph.get_or_insert(p.clone()).handle())
        .collect();
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(count_rows(conn, "people"), n as i64);
    // The rows that existed kept their ids.
    assert_eq!(ids[handles[0]], first.all::<NewPerson>()[0]);
    assert_eq!(
        ids[handles[n - 2]],
        *first.all::<NewPerson>().last().unwrap()
    );

    // Every person looked up by email, in reverse order, one note each.
    let mut graph = Graph::new();
    for i in (0..n).rev() {
        let person = graph.lookup::<NewPerson>(email(i));
        graph
            .add(NewNote {
                person_id: 0,
                body: format!("note for {}", email(i)),
            })
            .parent(person);
    }
    insert_graph(conn, &graph).unwrap();
    let owners: Vec<NoteOwner> = diesel::sql_query(
        "SELECT n.body, p.email FROM notes n JOIN people p ON p.id = n.person_id",
    )
    .load(conn)
    .unwrap();
    assert_eq!(owners.len(), n);
    for owner in owners {
        assert_eq!(owner.body, format!("note for {}", owner.email));
    }

    // The same number of notes referencing people by id: all exist.
    let mut graph = Graph::new();
    for id in ids.all::<NewPerson>() {
        graph.add(NewNote {
            person_id: *id,
            body: "by id".into(),
        });
    }
    insert_graph(conn, &graph).unwrap();
    assert_eq!(count_rows(conn, "notes"), 2 * n as i64);
}

/// A case-insensitive column: the look-up, get-or-insert and the check of
/// parents by id all compare as the column's unique constraint does.
fn compares_like_the_database<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewPerson: WriteNaturalKey<C::Backend>,
    NewNote: WriteRow<C::Backend>,
    NewCodeUse: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let alice = graph
        .add(NewPerson {
            email: "alice@example.com".into(),
            name: "Alice".into(),
        })
        .handle();
    let alice_id = insert_graph(conn, &graph).unwrap()[alice];

    let mut graph = Graph::new();
    let found = graph.lookup::<NewPerson>("ALICE@Example.com".to_string());
    let again = graph
        .get_or_insert(NewPerson {
            email: "Alice@EXAMPLE.com".into(),
            name: "Alice again".into(),
        })
        .handle();
    graph
        .add(NewNote {
            person_id: 0,
            body: "hi".into(),
        })
        .parent(found);
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[found], alice_id);
    assert_eq!(ids[again], alice_id);
    assert_eq!(count_rows(conn, "people"), 1);

    // A parent referenced by id in another case exists for the database.
    let mut graph = Graph::new();
    graph.add(NewCodeUse {
        code: "ALPHA".into(),
    });
    insert_graph(conn, &graph).unwrap();
    assert_eq!(count_rows(conn, "code_uses"), 1);
}

/// Composite natural keys whose parts, joined as text, read the same:
/// ("x\u{1f}y", "z") and ("x", "y\u{1f}z").
fn separator_inside_keys<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewPair: WriteNaturalKey<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(ddl).unwrap();
    let pair = |a: &str, b: &str| NewPair {
        a: a.into(),
        b: b.into(),
    };
    let mut graph = Graph::new();
    let first = graph.add(pair("x\u{1f}y", "z")).handle();
    let first_id = insert_graph(conn, &graph).unwrap()[first];

    let mut graph = Graph::new();
    let other = graph.get_or_insert(pair("x", "y\u{1f}z")).handle();
    let same = graph.get_or_insert(pair("x\u{1f}y", "z")).handle();
    let looked_up = graph.lookup::<NewPair>(("x\u{1f}y".to_string(), "z".to_string()));
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[same], first_id);
    assert_eq!(ids[looked_up], first_id);
    assert_ne!(ids[other], first_id);
    assert_eq!(count_rows(conn, "pairs"), 2);
}

/// A look-up on columns that are not unique finds two rows: refused, before
/// anything is written, rather than picking one.
fn ambiguous_lookup<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewPerson: WriteNaturalKey<C::Backend>,
    NewNote: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let bob = graph.lookup::<NewPerson>("bob@example.com".to_string());
    graph
        .add(NewNote {
            person_id: 0,
            body: "for which Bob?".into(),
        })
        .parent(bob);
    let error = insert_graph(conn, &graph).unwrap_err();
    match &error {
        Error::Graph(GraphError::NaturalKeyAmbiguous { model, keys }) => {
            assert_eq!(*model, "NewPerson");
            assert_eq!(keys.len(), 2);
        }
        other => panic!("expected NaturalKeyAmbiguous, got {other:?}"),
    }
    assert!(error.to_string().contains("UNIQUE"), "{error}");
    assert_eq!(count_rows(conn, "notes"), 0);
}

common::on_both_backends! {
    thousands_of_lookups = many_rows => {
        postgres: ("CREATE TABLE people (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL); \
         CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, person_id BIGINT NOT NULL REFERENCES people (id), body TEXT NOT NULL);",
        70_000),
        // Beyond SQLite's expression depth of 1,000 and its 32,766 bind limit.
        sqlite: ("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL); \
         CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people (id), body TEXT NOT NULL);",
        40_000),
    },
    compares_like_the_database => {
        // PostgreSQL 18 refuses a foreign key whose column's collation differs
        // from a nondeterministic referenced column's ("cannot be implemented").
        postgres: ("CREATE COLLATION case_blind (provider = icu, locale = 'und-u-ks-level2', deterministic = false); \
         CREATE TABLE people (id BIGSERIAL PRIMARY KEY, email TEXT COLLATE case_blind NOT NULL UNIQUE, name TEXT NOT NULL); \
         CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, person_id BIGINT NOT NULL REFERENCES people (id), body TEXT NOT NULL); \
         CREATE TABLE codes (code TEXT COLLATE case_blind PRIMARY KEY); \
         INSERT INTO codes VALUES ('alpha'); \
         CREATE TABLE code_uses (id BIGSERIAL PRIMARY KEY, code TEXT COLLATE case_blind NOT NULL REFERENCES codes (code));"),
        sqlite: ("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL COLLATE NOCASE UNIQUE, name TEXT NOT NULL); \
         CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people (id), body TEXT NOT NULL); \
         CREATE TABLE codes (code TEXT COLLATE NOCASE PRIMARY KEY); \
         INSERT INTO codes VALUES ('alpha'); \
         CREATE TABLE code_uses (id INTEGER PRIMARY KEY, code TEXT NOT NULL REFERENCES codes (code));"),
    },
    separator_inside_keys => {
        postgres: ("CREATE TABLE pairs (id BIGSERIAL PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, UNIQUE (a, b));"),
        sqlite: ("CREATE TABLE pairs (id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, UNIQUE (a, b));"),
    },
    ambiguous_lookup => {
        postgres: ("CREATE TABLE people (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL); \
         INSERT INTO people (email, name) VALUES ('bob@example.com', 'Bob'), ('bob@example.com', 'Robert'); \
         CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, person_id BIGINT NOT NULL REFERENCES people (id), body TEXT NOT NULL);"),
        sqlite: ("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL); \
         INSERT INTO people (email, name) VALUES ('bob@example.com', 'Bob'), ('bob@example.com', 'Robert'); \
         CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people (id), body TEXT NOT NULL);"),
    },
}
