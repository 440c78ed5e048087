//! One `FkCatalog` kept warm across calls, as `insert_graph_with` invites:
//! what it remembers never answers for another backend, and never for a
//! schema that changed since (the links of a graph are checked against the
//! constraints as they are in the transaction that writes).
#![cfg(feature = "sqlite")]

mod common;

use diesel::prelude::*;
use fk_safe::graph::{insert_graph_with, Graph};
use fk_safe::{Error, FkCatalog, FkConnection, FkOrdered, GraphError};

diesel::table! { teams (id) { id -> BigInt, ext_id -> BigInt, name -> Text } }
diesel::table! { members (id) { id -> BigInt, team_ext_id -> BigInt, name -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = teams)]
struct NewTeam {
    ext_id: i64,
    name: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = members)]
#[fk(relation(parent = teams, foreign_key = team_ext_id))]
struct NewMember {
    team_ext_id: i64,
    name: String,
}

fn sql(conn: &mut SqliteConnection, statement: &str) {
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn team_with_member(team: &str, ext_id: i64) -> Graph<diesel::sqlite::Sqlite> {
    let mut graph = Graph::new();
    let parent = graph
        .add(NewTeam {
            ext_id,
            name: team.into(),
        })
        .handle();
    graph
        .add(NewMember {
            team_ext_id: -1,
            name: format!("member of {team}"),
        })
        .parent(parent);
    graph
}

/// The constraint behind a relation is re-pointed from the parent's key to
/// a UNIQUE column between two writes with the same catalog. Written from a
/// remembered answer, the member would get its team's id, which the
/// database compares with `ext_id` and finds on another team: a child under
/// the wrong parent, without an error. Read again, the link is refused.
#[test]
fn a_repointed_foreign_key_is_read_again() {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.enforce_foreign_keys().unwrap();
    sql(
        &mut conn,
        "CREATE TABLE teams (id INTEGER PRIMARY KEY, ext_id BIGINT NOT NULL UNIQUE, name TEXT NOT NULL)",
    );
    sql(
        &mut conn,
        "CREATE TABLE members (id INTEGER PRIMARY KEY, team_ext_id BIGINT NOT NULL REFERENCES teams (id), name TEXT NOT NULL)",
    );
    let catalog = FkCatalog::new();
    // Team 1 (ext_id 2) with its member, while the key is `id`.
    insert_graph_with(&mut conn, &team_with_member("first", 2), &catalog).unwrap();

    sql(&mut conn, "DROP TABLE members");
    sql(
        &mut conn,
        "CREATE TABLE members (id INTEGER PRIMARY KEY, team_ext_id BIGINT NOT NULL REFERENCES teams (ext_id), name TEXT NOT NULL)",
    );
    // Team 2 (ext_id 1): its id, 2, is the first team's ext_id.
    match insert_graph_with(&mut conn, &team_with_member("second", 1), &catalog) {
        Err(Error::Graph(GraphError::LinkNotToKey { .. })) => {}
        other => panic!("expected LinkNotToKey, got {other:?}"),
    }
    let members: i64 = members::table.count().get_result(&mut conn).unwrap();
    let teams: i64 = teams::table.count().get_result(&mut conn).unwrap();
    assert_eq!(
        (teams, members),
        (1, 0),
        "nothing of the refused graph is written"
    );
}

/// A catalog is meant for one database; one used with a PostgreSQL and a
/// SQLite connection by mistake still lists each one's own foreign keys.
#[cfg(feature = "postgres")]
#[test]
fn a_catalog_used_with_two_backends_keeps_their_keys_apart() {
    let pg = common::pg::PgDb::new();
    let mut pg_conn = pg.conn();
    let mut sqlite = SqliteConnection::establish(":memory:").unwrap();
    sqlite.enforce_foreign_keys().unwrap();
    sql(&mut sqlite, "CREATE TABLE teams (id INTEGER PRIMARY KEY, ext_id BIGINT NOT NULL UNIQUE, name TEXT NOT NULL)");
    sql(
        &mut sqlite,
        "CREATE TABLE members (id INTEGER PRIMARY KEY, team_ext_id BIGINT NOT NULL REFERENCES teams (ext_id) ON DELETE RESTRICT, name TEXT NOT NULL)",
    );

    let catalog = FkCatalog::new();
    let on_postgres = catalog.foreign_keys(&mut pg_conn).unwrap();
    assert!(
        on_postgres.iter().any(|fk| fk.schema == pg.schema),
        "the PostgreSQL schema has foreign keys of its own"
    );
    let on_sqlite = catalog.foreign_keys(&mut sqlite).unwrap();
    let expected = FkCatalog::new().foreign_keys(&mut sqlite).unwrap();
    assert_eq!(on_sqlite, expected);
    assert_eq!(on_sqlite.len(), 1);
    assert_eq!(on_sqlite[0].table, "members");
    assert_eq!(on_sqlite[0].parent_columns, ["ext_id"]);
    // And PostgreSQL's answer is still its own.
    assert_eq!(catalog.foreign_keys(&mut pg_conn).unwrap(), on_postgres);
}
