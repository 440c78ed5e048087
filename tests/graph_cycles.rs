//! Graphs with many cycles: planned in one walk, and the links that close
//! them written back in a few statements, on PostgreSQL and SQLite.

mod common;

use common::{count, Count, StatementCounter};
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::Text;
use fk_safe::graph::{insert_graph, Graph, Handle, WriteRow};
use fk_safe::{Error, FkBackend, FkConnection, FkOrdered, GraphError};
use fk_safe_suite::models::*;

/// The statements it takes to write `rows` rows of `columns` values each.
fn statements<DB: FkBackend>(rows: usize, columns: usize) -> usize {
    rows.div_ceil(DB::rows_per_statement(columns))
}

/// `departments` departments, each headed by an employee who works in it:
/// as many cycles, each closed through the nullable `head_employee_id`.
fn departments_headed_from_within<C>(conn: &mut C, departments: usize)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewEmployee: WriteRow<C::Backend>,
    NewDepartment: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    let mut graph = Graph::new();
    let mut handles: Vec<(Handle<NewDepartment>, Handle<NewEmployee>)> = Vec::new();
    for i in 0..departments {
        let department = graph
            .add(NewDepartment {
                name: format!("D{i}"),
                head_employee_id: None,
            })
            .handle();
        let head = graph
            .add(NewEmployee {
                name: format!("head of D{i}"),
                manager_id: None,
                department_id: None,
            })
            .parent_via(NewEmployee::DEPARTMENT_ID, department)
            .handle();
        graph.link(department, NewDepartment::HEAD_EMPLOYEE_ID, head);
        handles.push((department, head));
    }
    let counter = StatementCounter::default();
    conn.set_instrumentation(counter.clone());
    let ids = insert_graph(conn, &graph).unwrap();
    // BEGIN; the departments (heads NULL); their heads; the heads written
    // back into the departments, a chunk of the bind limit per UPDATE;
    // COMMIT.
    let expected = 2
        + statements::<C::Backend>(departments, NewDepartment::COLUMNS.len())
        + statements::<C::Backend>(departments, NewEmployee::COLUMNS.len())
        + statements::<C::Backend>(departments, 2);
    assert_eq!(counter.count(), expected);

    let n = departments as i64;
    assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM departments"), n);
    // Every department is headed by its own head, who works in it.
    assert_eq!(
        count(
            conn,
            "SELECT COUNT(*) AS n FROM departments d \
             JOIN employees e ON e.id = d.head_employee_id \
             WHERE e.name = 'head of ' || d.name AND e.department_id = d.id",
        ),
        n
    );
    let (department, head) = handles[departments - 1];
    let rows: Vec<Count> = diesel::sql_query(format!(
        "SELECT head_employee_id AS n FROM departments WHERE id = {}",
        ids[department]
    ))
    .load(conn)
    .unwrap();
    assert_eq!(rows[0].n, ids[head]);
}

diesel::table! {
    sites (tenant_id, code) {
        tenant_id -> BigInt,
        code -> Text,
        name -> Text,
        caretaker_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    caretakers (id) {
        id -> BigInt,
        name -> Text,
        tenant_id -> Nullable<BigInt>,
        site_code -> Nullable<Text>,
    }
}

#[derive(Identifiable)]
#[diesel(table_name = sites, primary_key(tenant_id, code))]
struct Site {
    tenant_id: i64,
    code: String,
}

#[derive(Identifiable)]
#[diesel(table_name = caretakers)]
struct Caretaker {
    id: i64,
}

/// A site, keyed by tenant and code, looked after by a caretaker.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = sites, primary_key(tenant_id, code))]
#[diesel(belongs_to(Caretaker, foreign_key = caretaker_id))]
struct NewSite {
    tenant_id: i64,
    code: String,
    name: String,
    caretaker_id: Option<i64>,
}

/// A caretaker, who lives on a site: a composite foreign key that may be
/// NULL.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = caretakers)]
#[fk(relation(name = site, parent = Site, foreign_key(tenant_id, site_code)))]
struct NewCaretaker {
    name: String,
    tenant_id: Option<i64>,
    site_code: Option<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct LivesOn {
    #[diesel(sql_type = Text)]
    caretaker: String,
    #[diesel(sql_type = Text)]
    site: String,
}

/// Caretakers who live on the site they look after. The cycle is broken at
/// the caretaker's composite link (the walk starts at the caretakers), which
/// is written back with both parts.
fn a_composite_link_closes_cycles<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewSite: WriteRow<C::Backend>,
    NewCaretaker: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, LivesOn>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    // Codes repeat across tenants, so only both parts find the site.
    for (caretaker, tenant_id, code) in [("Ann", 1, "N"), ("Bob", 1, "S"), ("Cem", 2, "N")] {
        let person = graph
            .add(NewCaretaker {
                name: caretaker.into(),
                tenant_id: None,
                site_code: None,
            })
            .handle();
        let site = graph
            .add(NewSite {
                tenant_id,
                code: code.into(),
                name: format!("{code}{tenant_id}"),
                caretaker_id: None,
            })
            .parent(person)
            .handle();
        graph.link(person, NewCaretaker::SITE, site);
    }
    let counter = StatementCounter::default();
    conn.set_instrumentation(counter.clone());
    insert_graph(conn, &graph).unwrap();
    // BEGIN; the caretakers; the sites; one UPDATE for the three links;
    // COMMIT. The sites bring their own keys: no sequence to check.
    assert_eq!(counter.count(), 5);
    let rows: Vec<LivesOn> = diesel::sql_query(
        "SELECT c.name AS caretaker, s.name AS site FROM caretakers c \
         JOIN sites s ON s.tenant_id = c.tenant_id AND s.code = c.site_code AND s.caretaker_id = c.id \
         ORDER BY c.name",
    )
    .load(conn)
    .unwrap();
    let lives_on = |caretaker: &str, site: &str| LivesOn {
        caretaker: caretaker.into(),
        site: site.into(),
    };
    assert_eq!(
        rows,
        [
            lives_on("Ann", "N1"),
            lives_on("Bob", "S1"),
            lives_on("Cem", "N2")
        ]
    );
}

/// When the walk starts at the site, the cycle is broken at the site's link
/// to its caretaker; a row keyed by several columns cannot be updated
/// afterwards, so the graph is refused and nothing remains.
fn a_link_from_a_composite_key_is_refused<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
    NewSite: WriteRow<C::Backend>,
    NewCaretaker: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let site = graph
        .add(NewSite {
            tenant_id: 1,
            code: "N".into(),
            name: "N1".into(),
            caretaker_id: None,
        })
        .handle();
    let person = graph
        .add(NewCaretaker {
            name: "Ann".into(),
            tenant_id: None,
            site_code: None,
        })
        .parent(site)
        .handle();
    graph.link(site, NewSite::CARETAKER_ID, person);
    match insert_graph(conn, &graph).unwrap_err() {
        Error::Graph(GraphError::CompositeKeyLink {
            model,
            relation,
            row,
        }) => {
            assert_eq!((model, relation, row), ("NewSite", "caretaker_id", 0));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM sites"), 0);
    assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM caretakers"), 0);
}

/// The sites and their caretakers, each referencing the other.
#[cfg(feature = "postgres")]
const SITES_POSTGRES: &str = "CREATE TABLE caretakers (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, tenant_id BIGINT, site_code TEXT); \
     CREATE TABLE sites (tenant_id BIGINT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, \
         caretaker_id BIGINT REFERENCES caretakers (id), PRIMARY KEY (tenant_id, code)); \
     ALTER TABLE caretakers ADD FOREIGN KEY (tenant_id, site_code) REFERENCES sites (tenant_id, code);";

/// The sites and their caretakers, each referencing the other.
#[cfg(feature = "sqlite")]
const SITES_SQLITE: &str = "CREATE TABLE caretakers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, tenant_id BIGINT, site_code TEXT, \
         FOREIGN KEY (tenant_id, site_code) REFERENCES sites (tenant_id, code)); \
     CREATE TABLE sites (tenant_id BIGINT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, \
         caretaker_id BIGINT REFERENCES caretakers (id), PRIMARY KEY (tenant_id, code));";

common::on_both_backends! {
    thousands_of_cycles = departments_headed_from_within => (5_000),
    cycles_past_the_bind_limit = departments_headed_from_within
        => (TestBackend::rows_per_statement(2) + 1),
    a_composite_link_closes_cycles => { postgres: (SITES_POSTGRES), sqlite: (SITES_SQLITE) },
    a_link_from_a_composite_key_is_refused => { postgres: (SITES_POSTGRES), sqlite: (SITES_SQLITE) },
}
