//! The load order of a live database (fk_safe::integrity::load_order): the
//! demo schema's levels and cycles, how each cycle edge can be broken, which
//! key columns accept NULL, and tables of the same name in two schemas.

mod common;

use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::methods::ExecuteDsl;
use fk_safe::integrity::load_order::{self, LoadOrder, NullBreak, TableName};
use fk_safe::{Deferrability, FkCatalog, FkConnection, ForeignKey};

fn sql<C: diesel::Connection>(conn: &mut C, statement: &str)
where
    SqlQuery: ExecuteDsl<C>,
{
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// The schema the test database's tables are in.
#[cfg(feature = "postgres")]
fn pg_schema(conn: &mut PgConnection) -> String {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_schema()::text",
    ))
    .get_result(conn)
    .expect("current_schema()")
}

#[cfg(feature = "sqlite")]
fn sqlite_schema(_conn: &mut SqliteConnection) -> String {
    "main".to_string()
}

fn names(schema: &str, tables: &[&str]) -> Vec<TableName> {
    tables
        .iter()
        .map(|table| TableName::new(schema, *table))
        .collect()
}

fn only_schema(order: &LoadOrder, schema: &str) -> (Vec<Vec<TableName>>, usize) {
    let levels: Vec<Vec<TableName>> = order
        .levels
        .iter()
        .map(|level| {
            level
                .iter()
                .filter(|t| t.schema == schema)
                .cloned()
                .collect()
        })
        .collect();
    let cycles = order
        .cycles
        .iter()
        .filter(|c| c.tables.iter().all(|t| t.schema == schema))
        .count();
    (levels, cycles)
}

/// Every table of migrations/, parents first; the mutual reference of
/// departments and employees is one cycle, employees' manager a second.
fn demo_schema<C: FkConnection>(
    conn: &mut C,
    schema_of: fn(&mut C) -> String,
    head_deferrability: Option<Deferrability>,
    department_deferrability: Option<Deferrability>,
) {
    let schema = schema_of(conn);
    let catalog = FkCatalog::new();
    let order = load_order::read_schemas(conn, &catalog, &[&schema]).unwrap();
    assert_eq!(
        order.levels,
        vec![
            names(
                &schema,
                &[
                    "Lager \"Nord\" Größe",
                    "__diesel_schema_migrations",
                    "customers",
                    "departments",
                    "employees",
                    "products",
                    "warehouses",
                ]
            ),
            names(&schema, &["Pick Lines (Ä)", "orders", "stock_levels"]),
            names(&schema, &["order_items"]),
        ]
    );

    let [mutual, manager] = &order.cycles[..] else {
        panic!("two cycles expected: {:#?}", order.cycles)
    };
    assert_eq!(mutual.tables, names(&schema, &["departments", "employees"]));
    assert!(!mutual.is_self_reference());
    let edges: Vec<(&str, &str, &[String], Option<Deferrability>)> = mutual
        .edges
        .iter()
        .map(|edge| {
            (
                edge.foreign_key.table.as_str(),
                edge.foreign_key.parent_table.as_str(),
                edge.breakable.null_columns(),
                edge.breakable.by_deferring,
            )
        })
        .collect();
    assert_eq!(
        edges,
        vec![
            (
                "departments",
                "employees",
                &["head_employee_id".to_string()][..],
                head_deferrability,
            ),
            (
                "employees",
                "departments",
                &["department_id".to_string()][..],
                department_deferrability,
            ),
        ]
    );
    assert_eq!(mutual.breakable(), Some(true));

    assert!(manager.is_self_reference());
    assert_eq!(manager.tables, names(&schema, &["employees"]));
    let [edge] = &manager.edges[..] else {
        panic!("one self-reference: {:#?}", manager.edges)
    };
    assert_eq!(edge.foreign_key.columns, ["manager_id"]);
    assert_eq!(
        edge.breakable.by_null,
        NullBreak::AnyOf(vec!["manager_id".to_string()])
    );
    assert_eq!(order.unbreakable_cycles().count(), 0);

    // The whole database's order places this schema's tables the same way.
    let whole = load_order::read(conn, &catalog).unwrap();
    let (levels, cycles) = only_schema(&whole, &schema);
    assert_eq!(levels[..order.levels.len()], order.levels[..]);
    assert!(levels[order.levels.len()..].iter().all(Vec::is_empty));
    assert_eq!(cycles, 2);
}

/// Two tables whose NOT NULL keys reference each other: no order, no NULL
/// and (on PostgreSQL, where the keys are NOT DEFERRABLE) no deferral writes
/// them; SQLite's catalog does not say whether a key is deferrable, so the
/// cycle is undecided there rather than guessed.
fn not_null_ring<C: FkConnection>(
    conn: &mut C,
    schema_of: fn(&mut C) -> String,
    statements: &[&str],
    expected: Option<bool>,
) where
    SqlQuery: ExecuteDsl<C>,
{
    for statement in statements {
        sql(conn, statement);
    }
    let schema = schema_of(conn);
    let order = load_order::read_schemas(conn, &FkCatalog::new(), &[&schema]).unwrap();
    let ring = order
        .cycles
        .iter()
        .find(|c| c.tables == names(&schema, &["ring_a", "ring_b"]))
        .unwrap_or_else(|| panic!("no ring in {:#?}", order.cycles));
    assert_eq!(ring.edges.len(), 2);
    for edge in &ring.edges {
        assert_eq!(edge.breakable.by_null, NullBreak::Impossible);
        assert_eq!(edge.breakable.verdict(), expected);
    }
    assert_eq!(ring.breakable(), expected);
    let flagged: Vec<&Vec<TableName>> = order.unbreakable_cycles().map(|c| &c.tables).collect();
    if expected == Some(false) {
        assert_eq!(flagged, [&ring.tables]);
    } else {
        assert!(flagged.is_empty(), "{flagged:?}");
    }
}

fn key_of<'a>(keys: &'a [ForeignKey], schema: &str, table: &str, column: &str) -> &'a ForeignKey {
    keys.iter()
        .find(|fk| fk.schema == schema && fk.table == table && fk.columns[0] == column)
        .unwrap_or_else(|| panic!("no key {schema}.{table}({column}) in {keys:#?}"))
}

/// Which referencing columns accept NULL, per key and column.
fn nullable_columns<C: FkConnection>(conn: &mut C, schema_of: fn(&mut C) -> String)
where
    SqlQuery: ExecuteDsl<C>,
{
    sql(
        conn,
        "CREATE TABLE nullables (
            id BIGINT PRIMARY KEY,
            optional_id BIGINT REFERENCES customers (id),
            required_id BIGINT NOT NULL REFERENCES customers (id)
        )",
    );
    let schema = schema_of(conn);
    let keys = FkCatalog::new().foreign_keys(conn).unwrap();
    let nullable =
        |table: &str, column: &str| key_of(&keys, &schema, table, column).nullable.clone();
    assert_eq!(nullable("nullables", "optional_id"), [true]);
    assert_eq!(nullable("nullables", "required_id"), [false]);
    // Composite: tenant_id NOT NULL, warehouse_code nullable.
    assert_eq!(nullable("stock_levels", "tenant_id"), [false, true]);
    assert_eq!(nullable("employees", "manager_id"), [true]);
    assert_eq!(nullable("Pick Lines (Ä)", "Bin, (Ref)"), [false]);
}

common::on_both_backends! {
    demo_schema => {
        postgres: (
            pg_schema,
            Some(Deferrability::InitiallyDeferred),
            Some(Deferrability::NotDeferrable)
        ),
        sqlite: (sqlite_schema, None, None),
    },
    not_null_ring => {
        postgres: (
            pg_schema,
            &[
                "CREATE TABLE ring_a (id BIGINT PRIMARY KEY, ring_b_id BIGINT NOT NULL)",
                "CREATE TABLE ring_b (id BIGINT PRIMARY KEY, ring_a_id BIGINT NOT NULL REFERENCES ring_a (id))",
                "ALTER TABLE ring_a ADD FOREIGN KEY (ring_b_id) REFERENCES ring_b (id)",
            ],
            Some(false)
        ),
        sqlite: (
            sqlite_schema,
            &[
                "CREATE TABLE ring_a (id INTEGER PRIMARY KEY, ring_b_id BIGINT NOT NULL REFERENCES ring_b (id))",
                "CREATE TABLE ring_b (id INTEGER PRIMARY KEY, ring_a_id BIGINT NOT NULL REFERENCES ring_a (id))",
            ],
            None
        ),
    },
    nullable_columns => { postgres: (pg_schema), sqlite: (sqlite_schema) },
}

#[cfg(feature = "postgres")]
mod postgres_schemas {
    use super::*;

    /// Drops the schemas it names when the test ends, also on failure.
    struct Schemas(Vec<String>);

    impl Drop for Schemas {
        fn drop(&mut self) {
            let mut conn = common::pg::connect_base();
            for schema in &self.0 {
                let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn);
            }
        }
    }

    /// Two schemas with tables `a` and `b`, referencing in opposite
    /// directions: merged by name they would make a cycle; kept apart, each
    /// is a two-level chain.
    #[test]
    fn same_table_names_in_two_schemas_stay_apart() {
        let first = common::unique_name("fk_safe_lo_one");
        let second = common::unique_name("fk_safe_lo_two");
        let _drop = Schemas(vec![first.clone(), second.clone()]);
        let mut conn = common::pg::connect_base();
        for statement in [
            format!("CREATE SCHEMA \"{first}\""),
            format!("CREATE SCHEMA \"{second}\""),
            format!("CREATE TABLE \"{first}\".a (id BIGINT PRIMARY KEY)"),
            format!(
                "CREATE TABLE \"{first}\".b (id BIGINT PRIMARY KEY, a_id BIGINT NOT NULL REFERENCES \"{first}\".a (id))"
            ),
            format!("CREATE TABLE \"{second}\".b (id BIGINT PRIMARY KEY)"),
            format!(
                "CREATE TABLE \"{second}\".a (id BIGINT PRIMARY KEY, b_id BIGINT NOT NULL REFERENCES \"{second}\".b (id))"
            ),
            // Across the schemas: second.c needs first.a.
            format!(
                "CREATE TABLE \"{second}\".c (first_a_id BIGINT NOT NULL REFERENCES \"{first}\".a (id))"
            ),
        ] {
            sql(&mut conn, &statement);
        }
        let order =
            load_order::read_schemas(&mut conn, &FkCatalog::new(), &[&first, &second]).unwrap();
        assert_eq!(
            order.levels,
            vec![
                vec![TableName::new(&first, "a"), TableName::new(&second, "b")],
                vec![
                    TableName::new(&first, "b"),
                    TableName::new(&second, "a"),
                    TableName::new(&second, "c")
                ],
            ]
        );
        assert!(order.cycles.is_empty(), "{:#?}", order.cycles);
        // One schema alone: the other's tables are not in it, and a key to
        // one of them is taken as satisfied.
        let order = load_order::read_schemas(&mut conn, &FkCatalog::new(), &[&second]).unwrap();
        assert_eq!(
            order.levels,
            vec![
                vec![TableName::new(&second, "b"), TableName::new(&second, "c")],
                vec![TableName::new(&second, "a")]
            ]
        );
    }

    /// A NOT NULL cycle made DEFERRABLE becomes breakable by deferring
    /// alone, and the catalog says so once cleared.
    #[test]
    fn a_deferrable_key_breaks_a_not_null_cycle() {
        let db = common::pg::PgDb::new();
        let mut conn = db.conn();
        for statement in [
            "CREATE TABLE ring_a (id BIGINT PRIMARY KEY, ring_b_id BIGINT NOT NULL)",
            "CREATE TABLE ring_b (id BIGINT PRIMARY KEY, ring_a_id BIGINT NOT NULL REFERENCES ring_a (id))",
            "ALTER TABLE ring_a ADD CONSTRAINT ring_a_to_b FOREIGN KEY (ring_b_id) REFERENCES ring_b (id)",
        ] {
            sql(&mut conn, statement);
        }
        let catalog = FkCatalog::new();
        let ring = |conn: &mut PgConnection| {
            let order = load_order::read_schemas(conn, &catalog, &[&db.schema]).unwrap();
            order
                .cycles
                .into_iter()
                .find(|c| c.tables == names(&db.schema, &["ring_a", "ring_b"]))
                .expect("the ring")
        };
        assert_eq!(ring(&mut conn).breakable(), Some(false));
        sql(
            &mut conn,
            "ALTER TABLE ring_a ALTER CONSTRAINT ring_a_to_b DEFERRABLE INITIALLY IMMEDIATE",
        );
        catalog.clear();
        let after = ring(&mut conn);
        assert_eq!(after.breakable(), Some(true));
        let deferrable: Vec<(&str, Option<bool>)> = after
            .edges
            .iter()
            .map(|e| (e.foreign_key.table.as_str(), e.breakable.can_defer()))
            .collect();
        assert_eq!(
            deferrable,
            [("ring_a", Some(true)), ("ring_b", Some(false))]
        );
    }
}

#[cfg(feature = "sqlite")]
mod sqlite_primary_keys {
    use super::*;

    /// SQLite's primary keys: an `INTEGER PRIMARY KEY` (the rowid) and a
    /// `WITHOUT ROWID` table's key never hold NULL; any other primary key
    /// of a rowid table does, and the catalog says what SQLite does.
    #[test]
    fn sqlite_primary_key_columns() {
        let db = common::sqlite::SqliteDb::new();
        let mut conn = db.conn();
        for statement in [
            "CREATE TABLE profiles (customer_id INTEGER PRIMARY KEY REFERENCES customers (id))",
            "CREATE TABLE sku_notes (sku TEXT PRIMARY KEY REFERENCES products (sku))",
            "CREATE TABLE sku_tags (sku TEXT PRIMARY KEY REFERENCES products (sku)) WITHOUT ROWID",
        ] {
            sql(&mut conn, statement);
        }
        let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
        let nullable =
            |table: &str, column: &str| key_of(&keys, "main", table, column).nullable.clone();
        assert_eq!(nullable("profiles", "customer_id"), [false]);
        assert_eq!(nullable("sku_notes", "sku"), [true]);
        assert_eq!(nullable("sku_tags", "sku"), [false]);

        // What the catalog claims is what SQLite does.
        sql(&mut conn, "INSERT INTO sku_notes (sku) VALUES (NULL)");
        let refused =
            diesel::sql_query("INSERT INTO sku_tags (sku) VALUES (NULL)").execute(&mut conn);
        assert!(refused.is_err(), "{refused:?}");
    }
}
