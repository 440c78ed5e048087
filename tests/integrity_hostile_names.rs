//! Every integrity tool on names that try to break out of their quotes:
//! schemas, tables, columns and constraints whose names hold quotes,
//! semicolons, `--`, spaces and non-ASCII. Each tool must find them, name
//! them as they are, and inject nothing (a canary table survives).

mod common;

use fk_safe::integrity::audit::{audit, AuditOptions, Finding};
use fk_safe::integrity::bulk_load::{load_unchecked, BulkLoadError, BulkLoadOptions, Mechanism};
use fk_safe::integrity::deferred::{deferrable_statements, with_deferred, Deferral, DeferredError};
use fk_safe::integrity::load_order::{self, TableName};
use fk_safe::integrity::orphans::{orphans, OrphanOptions};
use fk_safe::{FkCatalog, FkConnection};

/// `name` as a quoted identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn run<C: FkConnection>(conn: &mut C, statements: &str) {
    conn.batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

const PARENT: &str = "Kunden \"Stamm\"; DROP TABLE canary; --";
const CHILD: &str = "Bestellungen ü -- ; '";
const PARENT_KEY: &str = "Kunden-Nr. \"ID\"";
const CHILD_KEY: &str = "kunde; nr";
const CONSTRAINT: &str = "fk \"kunde\"; DROP TABLE canary; -- ü";

/// Creates the two tables in `schema` (quoted, or empty for SQLite's
/// unqualified names) and a canary, with the constraint named on PostgreSQL.
fn create<C: FkConnection>(conn: &mut C, qualify: &str, named: bool) {
    let constraint = if named {
        format!("CONSTRAINT {} ", quoted(CONSTRAINT))
    } else {
        String::new()
    };
    run(
        conn,
        &format!(
            "CREATE TABLE canary (id BIGINT);
             CREATE TABLE {q}{p} ({pk} BIGINT PRIMARY KEY);
             CREATE TABLE {q}{c} (id BIGINT PRIMARY KEY, {ck} BIGINT,
                 {constraint}FOREIGN KEY ({ck}) REFERENCES {q}{p} ({pk}));",
            q = qualify,
            p = quoted(PARENT),
            c = quoted(CHILD),
            pk = quoted(PARENT_KEY),
            ck = quoted(CHILD_KEY),
        ),
    );
}

/// The load order, the orphan report and a bulk load (rolled back, then
/// kept) on the hostile names of `schema`.
fn every_tool<C: FkConnection>(conn: &mut C, schema: &str, qualify: &str) -> Vec<Mechanism> {
    let catalog = FkCatalog::new();
    let order = load_order::read_schemas(conn, &catalog, &[schema]).expect("a load order");
    let level_of = |table: &str| {
        order
            .levels
            .iter()
            .position(|level| level.contains(&TableName::new(schema, table)))
    };
    assert!(level_of(PARENT).is_some(), "{order:?}");
    assert!(level_of(PARENT) < level_of(CHILD), "{order:?}");

    let insert = format!("INSERT INTO {qualify}{} VALUES (1, 404)", quoted(CHILD));
    let options = BulkLoadOptions::new().schema(schema).table(CHILD);
    let mut used = Vec::new();
    match load_unchecked(conn, &catalog, &options, |conn| conn.batch_execute(&insert)) {
        Err(BulkLoadError::Orphans { report, mechanism }) => {
            used.push(mechanism);
            assert_eq!(report.total_orphans(), 1, "{report}");
            let broken = report.broken().next().expect("the broken key");
            assert_eq!(broken.foreign_key.table, CHILD);
            assert_eq!(broken.foreign_key.columns, [CHILD_KEY]);
            assert_eq!(broken.foreign_key.parent_table, PARENT);
            assert_eq!(broken.foreign_key.parent_columns, [PARENT_KEY]);
        }
        other => panic!("expected orphans, got {other:?}"),
    }
    let report = orphans(
        conn,
        &catalog,
        &OrphanOptions::new().schema(schema).table(CHILD),
    )
    .expect("a report");
    assert!(report.is_clean(), "{report}");

    // The audit: the child's key column has no index, named as it is.
    let found = audit(conn, &catalog, &AuditOptions::new().schema(schema)).expect("an audit");
    let unindexed: Vec<_> = found
        .findings
        .iter()
        .filter_map(|finding| match finding {
            Finding::UnindexedForeignKey {
                foreign_key, fix, ..
            } if foreign_key.table == CHILD => Some((foreign_key.clone(), fix.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(unindexed.len(), 1, "{found}");
    assert_eq!(unindexed[0].0.columns, [CHILD_KEY]);
    // Its fix runs and makes the finding go away.
    run(conn, &unindexed[0].1);
    let again = audit(conn, &catalog, &AuditOptions::new().schema(schema)).expect("an audit");
    assert!(
        !again
            .of_kind("unindexed-foreign-key")
            .any(|finding| matches!(
                finding,
                Finding::UnindexedForeignKey { foreign_key, .. } if foreign_key.table == CHILD
            )),
        "{again}"
    );
    run(conn, "SELECT id FROM canary");
    used
}

/// With the key made deferrable by the statement fk-safe wrote for it, a
/// child written before its parent commits, and a parent that never comes
/// is explained with the hostile names.
fn deferred_on_hostile_names<C: FkConnection>(conn: &mut C, qualify: &str, deferral: Deferral) {
    let catalog = FkCatalog::new();
    let keys = catalog.foreign_keys(conn).expect("the catalog");
    let ours: Vec<_> = keys
        .iter()
        .filter(|fk| fk.table == CHILD)
        .cloned()
        .collect();
    for statement in deferrable_statements(&ours) {
        run(conn, &statement);
    }
    catalog.clear();
    let child_first = format!(
        "INSERT INTO {qualify}{c} VALUES (10, 77); INSERT INTO {qualify}{p} VALUES (77)",
        c = quoted(CHILD),
        p = quoted(PARENT)
    );
    with_deferred(conn, &catalog, &deferral, |conn| {
        conn.batch_execute(&child_first)
    })
    .expect("a deferred load, parent after child");
    let orphan = format!("INSERT INTO {qualify}{} VALUES (11, 404)", quoted(CHILD));
    match with_deferred(conn, &catalog, &deferral, |conn| {
        conn.batch_execute(&orphan)
    }) {
        Err(DeferredError::Violation { violation, .. }) => {
            assert_eq!(violation.child_table(), Some(CHILD), "{violation}");
            assert_eq!(violation.parent_table(), Some(PARENT), "{violation}");
        }
        other => panic!("expected an explained violation, got {other:?}"),
    }
    run(conn, "SELECT id FROM canary");
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::PgConnection;

    use common::pg::DropSchema;

    fn hostile_names_on_postgres(conn: &mut PgConnection) {
        let schema = DropSchema(format!(
            "Schéma \"x\"; DROP TABLE canary; -- {}",
            common::unique_name("")
        ));
        run(conn, &format!("CREATE SCHEMA {}", quoted(&schema.0)));
        let qualify = format!("{}.", quoted(&schema.0));
        create(conn, &qualify, true);
        let used = every_tool(conn, &schema.0, &qualify);
        assert_eq!(used, [Mechanism::ReplicationRole]);

        // The constraints dropped and added again, by their hostile names.
        let catalog = FkCatalog::new();
        let options = BulkLoadOptions::new()
            .schema(&schema.0)
            .mechanism(Mechanism::RecreatedConstraints);
        let loaded = load_unchecked(conn, &catalog, &options, |conn| {
            conn.batch_execute(&format!(
                "INSERT INTO {qualify}{} VALUES (2, 7); INSERT INTO {qualify}{} VALUES (7)",
                quoted(CHILD),
                quoted(PARENT)
            ))
        })
        .expect("a clean load");
        assert_eq!(loaded.mechanism, Mechanism::RecreatedConstraints);
        let keys = FkCatalog::new()
            .foreign_keys(conn)
            .expect("the catalog, read again");
        let restored: Vec<_> = keys.iter().filter(|fk| fk.schema == schema.0).collect();
        assert_eq!(restored.len(), 1, "{restored:?}");
        assert_eq!(restored[0].name.as_deref(), Some(CONSTRAINT));
        assert!(restored[0].validated);
        run(conn, "SELECT id FROM canary");

        deferred_on_hostile_names(
            conn,
            &qualify,
            Deferral::constraint_in(schema.0.clone(), CONSTRAINT),
        );
    }

    common::on_postgres! {
        hostile_names_on_postgres,
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use diesel::SqliteConnection;

    fn hostile_names_on_sqlite(conn: &mut SqliteConnection) {
        create(conn, "", false);
        let used = every_tool(conn, "main", "");
        assert_eq!(used, [Mechanism::DeferredChecks]);
        // SQLite keys are always deferrable: no statement to run.
        deferred_on_hostile_names(conn, "", Deferral::all());
    }

    common::on_sqlite! {
        hostile_names_on_sqlite,
    }
}
