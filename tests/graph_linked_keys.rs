//! Keys made of foreign keys: a one-to-one table keyed by its parent's id,
//! and a composite key one part of which is a linked parent. The field
//! holds a placeholder; the key the row is stored under, handed to its
//! children and returned in `ids`, is the linked parent's. A new user found
//! these writing children under an older row that happened to have the
//! placeholder's key.
//!
//! And a foreign key that references another column than the parent's key
//! (a UNIQUE one): linking it to a parent of the graph would fill it with
//! the generated key, so it is refused before any SQL.

mod common;

use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::Text;
use fk_safe::graph::{insert_graph, Graph, WriteRow};
use fk_safe::{FkConnection, FkOrdered};

diesel::table! { users (id) { id -> BigInt, email -> Text } }
diesel::table! { user_profiles (user_id) { user_id -> BigInt, bio -> Text } }
diesel::table! { profile_links (id) { id -> BigInt, profile_user_id -> BigInt, url -> Text } }
diesel::table! { labels (code) { code -> Text } }
diesel::table! { issue_labels (user_id, label_code) { user_id -> BigInt, label_code -> Text } }
diesel::table! { label_notes (id) { id -> BigInt, user_id -> BigInt, label_code -> Text, note -> Text } }
diesel::table! { teams (id) { id -> BigInt, ext_id -> BigInt, name -> Text } }
diesel::table! { members (id) { id -> BigInt, team_ext_id -> BigInt, name -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = users)]
struct NewUser {
    email: String,
}

/// Keyed by its user's id.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = user_profiles, primary_key(user_id))]
#[fk(relation(parent = users, foreign_key = user_id))]
struct NewProfile {
    user_id: i64,
    bio: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = profile_links)]
#[fk(relation(parent = user_profiles, foreign_key = profile_user_id))]
struct NewProfileLink {
    profile_user_id: i64,
    url: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = labels, primary_key(code))]
struct NewLabel {
    code: String,
}

/// Keyed by (user, label), the user linked.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = issue_labels, primary_key(user_id, label_code))]
#[fk(relation(parent = users, foreign_key = user_id))]
#[fk(relation(name = label, parent = labels, foreign_key = label_code))]
struct NewIssueLabel {
    user_id: i64,
    label_code: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = label_notes)]
#[fk(relation(name = labelled, parent = issue_labels, foreign_key(user_id, label_code)))]
struct NewLabelNote {
    user_id: i64,
    label_code: String,
    note: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = teams)]
struct NewTeam {
    ext_id: i64,
    name: String,
}

/// `members.team_ext_id REFERENCES teams (ext_id)`, not the key.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = members)]
#[fk(relation(parent = teams, foreign_key = team_ext_id))]
struct NewMember {
    team_ext_id: i64,
    name: String,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Found {
    #[diesel(sql_type = Text)]
    text: String,
}

fn one_text<C>(conn: &mut C, sql: &str) -> String
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Found>,
{
    let found: Vec<Found> = diesel::sql_query(sql).load(conn).unwrap();
    assert_eq!(found.len(), 1, "{sql}");
    found.into_iter().next().unwrap().text
}

/// An existing user with id 1 and a profile; a new user, its profile (with
/// the placeholder 1) and a link under that profile; and a composite key
/// whose user part is linked (the placeholder 1, where the row (1, 'bug')
/// exists already), with a note under it.
fn keys_made_of_linked_parents<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewUser: WriteRow<C::Backend>,
    NewProfile: WriteRow<C::Backend>,
    NewProfileLink: WriteRow<C::Backend>,
    NewLabel: WriteRow<C::Backend>,
    NewIssueLabel: WriteRow<C::Backend>,
    NewLabelNote: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Found>,
{
    conn.batch_execute(ddl).unwrap();
    conn.batch_execute(
        "INSERT INTO users (id, email) VALUES (1, 'old@example.com'); \
         INSERT INTO user_profiles VALUES (1, 'OLD profile'); \
         INSERT INTO labels VALUES ('bug'); \
         INSERT INTO issue_labels VALUES (1, 'bug');",
    )
    .unwrap();
    let mut graph = Graph::new();
    let user = graph
        .add(NewUser {
            email: "new@example.com".into(),
        })
        .handle();
    let profile = graph
        .add(NewProfile {
            user_id: 1,
            bio: "NEW profile".into(),
        })
        .parent(user)
        .handle();
    graph
        .add(NewProfileLink {
            profile_user_id: 0,
            url: "https://example.com/new".into(),
        })
        .parent(profile);
    let labelled = graph
        .add(NewIssueLabel {
            user_id: 1,
            label_code: "bug".into(),
        })
        .parent(user)
        .handle();
    graph
        .add(NewLabelNote {
            user_id: 0,
            label_code: String::new(),
            note: "NEW note".into(),
        })
        .parent(labelled);
    let ids = insert_graph(conn, &graph).unwrap();

    assert_ne!(ids[user], 1);
    assert_eq!(ids[profile], ids[user], "the profile is keyed by its user");
    assert_eq!(ids[labelled], (ids[user], "bug".to_string()));
    assert_eq!(
        one_text(
            conn,
            "SELECT p.bio AS text FROM profile_links l JOIN user_profiles p ON p.user_id = l.profile_user_id"
        ),
        "NEW profile"
    );
    assert_eq!(
        one_text(
            conn,
            "SELECT u.email AS text FROM label_notes n JOIN users u ON u.id = n.user_id"
        ),
        "new@example.com"
    );
}

/// A link through a foreign key that references `teams.ext_id`, not its key.
fn a_link_to_another_column_is_refused<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewTeam: WriteRow<C::Backend>,
    NewMember: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Found>,
{
    conn.batch_execute(ddl).unwrap();
    conn.batch_execute("INSERT INTO teams (id, ext_id, name) VALUES (50, 51, 'OLD team')")
        .unwrap();
    let mut graph = Graph::new();
    let team = graph
        .add(NewTeam {
            ext_id: 5,
            name: "NEW team".into(),
        })
        .handle();
    graph
        .add(NewMember {
            team_ext_id: 0,
            name: "ann".into(),
        })
        .parent(team);
    match insert_graph(conn, &graph) {
        Err(fk_safe::Error::Graph(fk_safe::GraphError::LinkNotToKey {
            model, referenced, ..
        })) => {
            assert!(model.contains("NewMember"));
            assert_eq!(referenced, ["ext_id"]);
        }
        other => panic!("expected LinkNotToKey, got {other:?}"),
    }
    assert_eq!(
        one_text(conn, "SELECT CAST(count(*) AS TEXT) AS text FROM members"),
        "0"
    );
    // By value, the member names its team's ext_id as the field says.
    let mut graph = Graph::new();
    graph.add(NewMember {
        team_ext_id: 51,
        name: "bob".into(),
    });
    insert_graph(conn, &graph).unwrap();
    assert_eq!(
        one_text(
            conn,
            "SELECT t.name AS text FROM members m JOIN teams t ON t.ext_id = m.team_ext_id"
        ),
        "OLD team"
    );
}

#[cfg(feature = "sqlite")]
const DDL_SQLITE: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL); \
     CREATE TABLE user_profiles (user_id BIGINT PRIMARY KEY REFERENCES users (id), bio TEXT NOT NULL); \
     CREATE TABLE profile_links (id INTEGER PRIMARY KEY, profile_user_id BIGINT NOT NULL REFERENCES user_profiles (user_id), url TEXT NOT NULL); \
     CREATE TABLE labels (code TEXT PRIMARY KEY); \
     CREATE TABLE issue_labels (user_id BIGINT NOT NULL REFERENCES users (id), label_code TEXT NOT NULL REFERENCES labels (code), PRIMARY KEY (user_id, label_code)); \
     CREATE TABLE label_notes (id INTEGER PRIMARY KEY, user_id BIGINT NOT NULL, label_code TEXT NOT NULL, note TEXT NOT NULL, \
                               FOREIGN KEY (user_id, label_code) REFERENCES issue_labels (user_id, label_code));";

#[cfg(feature = "sqlite")]
const TEAMS_SQLITE: &str = "CREATE TABLE teams (id INTEGER PRIMARY KEY, ext_id BIGINT NOT NULL UNIQUE, name TEXT NOT NULL); \
     CREATE TABLE members (id INTEGER PRIMARY KEY, team_ext_id BIGINT NOT NULL REFERENCES teams (ext_id), name TEXT NOT NULL);";

#[cfg(feature = "postgres")]
const DDL_POSTGRES: &str = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL); \
     SELECT setval('users_id_seq', 10); \
     CREATE TABLE user_profiles (user_id BIGINT PRIMARY KEY REFERENCES users (id), bio TEXT NOT NULL); \
     CREATE TABLE profile_links (id BIGSERIAL PRIMARY KEY, profile_user_id BIGINT NOT NULL REFERENCES user_profiles (user_id), url TEXT NOT NULL); \
     CREATE TABLE labels (code TEXT PRIMARY KEY); \
     CREATE TABLE issue_labels (user_id BIGINT NOT NULL REFERENCES users (id), label_code TEXT NOT NULL REFERENCES labels (code), PRIMARY KEY (user_id, label_code)); \
     CREATE TABLE label_notes (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, label_code TEXT NOT NULL, note TEXT NOT NULL, \
                               FOREIGN KEY (user_id, label_code) REFERENCES issue_labels (user_id, label_code));";

#[cfg(feature = "postgres")]
const TEAMS_POSTGRES: &str = "CREATE TABLE teams (id BIGSERIAL PRIMARY KEY, ext_id BIGINT NOT NULL UNIQUE, name TEXT NOT NULL); \
     SELECT setval('teams_id_seq', 100); \
     CREATE TABLE members (id BIGSERIAL PRIMARY KEY, team_ext_id BIGINT NOT NULL REFERENCES teams (ext_id), name TEXT NOT NULL);";

common::on_both_backends! {
    keys_made_of_linked_parents => { postgres: (DDL_POSTGRES), sqlite: (DDL_SQLITE) },
    a_link_to_another_column_is_refused => { postgres: (TEAMS_POSTGRES), sqlite: (TEAMS_SQLITE) },
}
