//! `None` in an `Option` field is written the way Diesel's `Insertable`
//! writes it: as the column's DEFAULT, unless `treat_none_as_default_value =
//! false` (on the struct or the field) asks for NULL. Rows that leave
//! different columns out go in different statements, and their ids still
//! land on the right rows.

mod common;

use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{BigInt, Nullable, Text};
use fk_safe::graph::{insert_graph, Graph, WriteRow};
use fk_safe::{FkConnection, FkOrdered};

diesel::table! {
    accounts (id) {
        id -> BigInt,
        name -> Text,
        status -> Text,
        credit -> BigInt,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    entries (id) {
        id -> BigInt,
        account_id -> BigInt,
        label -> Text,
    }
}

#[derive(Identifiable)]
#[diesel(table_name = accounts)]
struct Account {
    id: i64,
}

/// `status` and `credit` are NOT NULL with defaults: `Option` only compiles
/// because `None` means DEFAULT. `note` is nullable with a default.
#[derive(Insertable, FkOrdered, Clone)]
#[diesel(table_name = accounts)]
struct NewAccount {
    name: String,
    status: Option<String>,
    credit: Option<i64>,
    note: Option<String>,
}

/// The same, but `None` is NULL for `note` (the field says so).
#[derive(Insertable, FkOrdered, Clone)]
#[diesel(table_name = accounts)]
struct NewAccountNullNote {
    name: String,
    status: Option<String>,
    #[diesel(treat_none_as_default_value = false)]
    note: Option<String>,
}

/// `None` is NULL for every field (the struct says so).
#[derive(Insertable, FkOrdered, Clone)]
#[diesel(table_name = accounts, treat_none_as_default_value = false)]
struct NewAccountAllNull {
    name: String,
    note: Option<String>,
}

/// The key is the row's own when given, generated when `None`.
#[derive(Insertable, FkOrdered, Clone)]
#[diesel(table_name = accounts)]
struct NewAccountMaybeId {
    id: Option<i64>,
    name: String,
}

/// A foreign key held in an `Option` on a NOT NULL column, always linked.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = entries)]
#[diesel(belongs_to(Account, foreign_key = account_id))]
struct NewEntry {
    account_id: Option<i64>,
    label: String,
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct AccountRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    credit: i64,
    #[diesel(sql_type = Nullable<Text>)]
    note: Option<String>,
}

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct EntryRow {
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct IdName {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

fn accounts_named<C>(conn: &mut C, prefix: &str) -> Vec<AccountRow>
where
    C: Connection,
    for<'a> SqlQuery: LoadQuery<'a, C, AccountRow>,
{
    let mut rows: Vec<AccountRow> = diesel::sql_query(format!(
        "SELECT substr(name, {}) AS name, status, credit, note FROM accounts WHERE name LIKE '{prefix}%'",
        prefix.len() + 1
    ))
    .load(conn)
    .unwrap();
    rows.sort();
    rows
}

fn accounts(prefix: &str) -> Vec<NewAccount> {
    // Every combination of None and Some over the three optional fields,
    // interleaved so that groups are not contiguous in the input.
    (0..24)
        .map(|i| NewAccount {
            name: format!("{prefix}{i:02}"),
            status: (i & 1 != 0).then(|| format!("status {i}")),
            credit: (i & 2 != 0).then_some(i as i64),
            note: (i & 4 != 0).then(|| format!("note {i}")),
        })
        .collect()
}

fn none_is_default<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewAccount: WriteRow<C::Backend>,
    NewAccountNullNote: WriteRow<C::Backend>,
    NewAccountAllNull: WriteRow<C::Backend>,
    NewAccountMaybeId: WriteRow<C::Backend>,
    NewEntry: WriteRow<C::Backend>,
    for<'a> SqlQuery:
        LoadQuery<'a, C, AccountRow> + LoadQuery<'a, C, EntryRow> + LoadQuery<'a, C, IdName>,
    diesel::query_builder::InsertStatement<
        accounts::table,
        <NewAccount as Insertable<accounts::table>>::Values,
    >: diesel::query_dsl::methods::ExecuteDsl<C>,
    diesel::query_builder::InsertStatement<
        accounts::table,
        <NewAccountNullNote as Insertable<accounts::table>>::Values,
    >: diesel::query_dsl::methods::ExecuteDsl<C>,
    diesel::query_builder::InsertStatement<
        accounts::table,
        <NewAccountAllNull as Insertable<accounts::table>>::Values,
    >: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    conn.batch_execute(ddl).unwrap();

    // fk-safe and Diesel write the same rows the same way.
    let mut graph = Graph::new();
    let mut handles = Vec::new();
    for account in accounts("graph ") {
        handles.push(graph.add(account).handle());
    }
    let null_note = NewAccountNullNote {
        name: "graph null note".into(),
        status: None,
        note: None,
    };
    let all_null = NewAccountAllNull {
        name: "graph all null".into(),
        note: None,
    };
    graph.add(null_note.clone());
    graph.add(all_null.clone());
    // Children linked to accounts of several groups.
    for (i, handle) in handles.iter().enumerate() {
        graph
            .add(NewEntry {
                account_id: None,
                label: format!("entry of graph {i:02}"),
            })
            .parent(*handle);
    }
    let ids = insert_graph(conn, &graph).unwrap();

    for account in accounts("diesel ") {
        diesel::insert_into(accounts::table)
            .values(account)
            .execute(conn)
            .unwrap();
    }
    diesel::insert_into(accounts::table)
        .values(NewAccountNullNote {
            name: "diesel null note".into(),
            ..null_note
        })
        .execute(conn)
        .unwrap();
    diesel::insert_into(accounts::table)
        .values(NewAccountAllNull {
            name: "diesel all null".into(),
            ..all_null
        })
        .execute(conn)
        .unwrap();
    let written = accounts_named(conn, "graph ");
    assert_eq!(written.len(), 26);
    assert_eq!(written, accounts_named(conn, "diesel "));
    // The defaults really were used (not NULLs, which NOT NULL would refuse,
    // nor values from another row).
    let first = written.iter().find(|r| r.name == "00").unwrap();
    assert_eq!(first.name, "00");
    assert_eq!(
        (first.status.as_str(), first.credit, first.note.as_deref()),
        ("active", 100, Some("none"))
    );
    let null_note = written.iter().find(|r| r.name == "null note").unwrap();
    assert_eq!(null_note.note, None);
    assert_eq!(null_note.status, "active");

    // Each handle's id is the id of the row with its name.
    let by_id: std::collections::HashMap<i64, String> =
        diesel::sql_query("SELECT id, name FROM accounts")
            .load::<IdName>(conn)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
    for (i, handle) in handles.iter().enumerate() {
        assert_eq!(by_id[&ids[*handle]], format!("graph {i:02}"));
    }
    let entries: Vec<EntryRow> = diesel::sql_query(
        "SELECT e.label, a.name FROM entries e JOIN accounts a ON a.id = e.account_id ORDER BY e.label",
    )
    .load(conn)
    .unwrap();
    assert_eq!(entries.len(), 24);
    for entry in entries {
        assert_eq!(entry.label, format!("entry of {}", entry.name));
    }

    // An Option key: the row's own when given, generated when None.
    let mut graph = Graph::new();
    let own = graph
        .add(NewAccountMaybeId {
            id: Some(1_000_000),
            name: "own id".into(),
        })
        .handle();
    let generated = graph
        .add(NewAccountMaybeId {
            id: None,
            name: "generated id".into(),
        })
        .handle();
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[own], 1_000_000);
    let by_id: std::collections::HashMap<i64, String> =
        diesel::sql_query("SELECT id, name FROM accounts")
            .load::<IdName>(conn)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
    assert_eq!(by_id[&1_000_000], "own id");
    assert_eq!(by_id[&ids[generated]], "generated id");
}

diesel::table! {
    teams (id) {
        id -> BigInt,
        name -> Text,
        lead_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    players (id) {
        id -> BigInt,
        name -> Text,
        team_id -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(teams, players);

#[derive(Identifiable)]
#[diesel(table_name = teams)]
struct Team {
    id: i64,
}

#[derive(Identifiable)]
#[diesel(table_name = players)]
struct Player {
    id: i64,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = teams)]
#[diesel(belongs_to(Player, foreign_key = lead_id))]
struct NewTeam {
    name: String,
    lead_id: Option<i64>,
}

/// `team_id` is an `Option` on a NOT NULL column: it cannot be written NULL
/// first, so the cycle must be broken at the team's nullable `lead_id`.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = players)]
#[diesel(belongs_to(Team, foreign_key = team_id))]
struct NewPlayer {
    name: String,
    team_id: Option<i64>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct LeadRow {
    #[diesel(sql_type = Text)]
    team: String,
    #[diesel(sql_type = Text)]
    lead: String,
}

fn cycle_broken_where_the_column_allows_null<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewTeam: WriteRow<C::Backend>,
    NewPlayer: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, LeadRow>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    // The player comes first, so a planner that took any Option for
    // nullable would break the cycle at the player's NOT NULL team_id.
    let player = graph
        .add(NewPlayer {
            name: "Kim".into(),
            team_id: None,
        })
        .handle();
    let team = graph
        .add(NewTeam {
            name: "Owls".into(),
            lead_id: None,
        })
        .handle();
    graph.link(player, NewPlayer::TEAM_ID, team);
    graph.link(team, NewTeam::LEAD_ID, player);
    insert_graph(conn, &graph).unwrap();
    let rows: Vec<LeadRow> = diesel::sql_query(
        "SELECT t.name AS team, p.name AS lead FROM teams t JOIN players p ON p.id = t.lead_id AND p.team_id = t.id",
    )
    .load(conn)
    .unwrap();
    assert_eq!(
        rows,
        [LeadRow {
            team: "Owls".into(),
            lead: "Kim".into()
        }]
    );
}

diesel::table! {
    memos (id) {
        id -> BigInt,
        body -> Nullable<Text>,
    }
}

/// Three states, as Diesel's `Insertable` writes them: `None` is DEFAULT,
/// `Some(None)` is NULL, `Some(Some(text))` is the text.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = memos)]
struct NewMemo {
    body: Option<Option<String>>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct MemoRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    body: Option<String>,
}

fn three_states<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewMemo: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, MemoRow>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let states = [None, Some(None), Some(Some("text".to_string()))];
    let handles: Vec<_> = states
        .iter()
        .map(|body| graph.add(NewMemo { body: body.clone() }).handle())
        .collect();
    let ids = insert_graph(conn, &graph).unwrap();
    let rows: Vec<MemoRow> = diesel::sql_query("SELECT id, body FROM memos")
        .load(conn)
        .unwrap();
    let body_of = |handle| {
        rows.iter()
            .find(|r| r.id == ids[handle])
            .unwrap()
            .body
            .clone()
    };
    assert_eq!(body_of(handles[0]).as_deref(), Some("default"));
    assert_eq!(body_of(handles[1]), None);
    assert_eq!(body_of(handles[2]).as_deref(), Some("text"));
}

common::on_both_backends! {
    none_is_default => {
        postgres: ("CREATE TABLE accounts (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, \
           status TEXT NOT NULL DEFAULT 'active', credit BIGINT NOT NULL DEFAULT 100, note TEXT DEFAULT 'none'); \
         CREATE TABLE entries (id BIGSERIAL PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts (id), label TEXT NOT NULL);"),
        sqlite: ("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
           status TEXT NOT NULL DEFAULT 'active', credit INTEGER NOT NULL DEFAULT 100, note TEXT DEFAULT 'none'); \
         CREATE TABLE entries (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts (id), label TEXT NOT NULL);"),
    },
    cycle_broken_where_the_column_allows_null => {
        postgres: ("CREATE TABLE teams (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, lead_id BIGINT); \
         CREATE TABLE players (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, team_id BIGINT NOT NULL REFERENCES teams (id)); \
         ALTER TABLE teams ADD FOREIGN KEY (lead_id) REFERENCES players (id);"),
        sqlite: ("CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL, lead_id INTEGER REFERENCES players (id)); \
         CREATE TABLE players (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER NOT NULL REFERENCES teams (id));"),
    },
    three_states => {
        postgres: ("CREATE TABLE memos (id BIGSERIAL PRIMARY KEY, body TEXT DEFAULT 'default');"),
        sqlite: ("CREATE TABLE memos (id INTEGER PRIMARY KEY, body TEXT DEFAULT 'default');"),
    },
}
