//! The schema audit (fk_safe::integrity::audit) against the real
//! databases: each finding present when it should be and absent when not.
//! Every PostgreSQL test audits only its own schema (the schema filter),
//! since other tests' schemas share the server.

mod common;

use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::methods::ExecuteDsl;
use fk_safe::graph::WriteRow;
use fk_safe::integrity::audit::{
    audit, AuditError, AuditOptions, AuditReport, Finding, IndexProblem,
};
use fk_safe::{FkCatalog, FkConnection};
use fk_safe_suite::models::*;

fn sql<C: diesel::Connection>(conn: &mut C, statement: &str)
where
    SqlQuery: ExecuteDsl<C>,
{
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

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

/// The audit of the test's own schema, with a fresh catalog.
fn audit_own<C: FkConnection>(
    conn: &mut C,
    schema: &str,
    options: AuditOptions<C::Backend>,
) -> AuditReport {
    let options = options.schema(schema);
    audit(conn, &FkCatalog::new(), &options).expect("audit")
}

/// The findings of `kind` about table `table` (a foreign key's child, a
/// column's table, a model's table).
fn about<'a>(report: &'a AuditReport, kind: &str, table: &str) -> Vec<&'a Finding> {
    report
        .of_kind(kind)
        .filter(|finding| match finding {
            Finding::UnindexedForeignKey { foreign_key, .. }
            | Finding::NotValidConstraint { foreign_key }
            | Finding::TypeMismatch { foreign_key, .. }
            | Finding::DanglingForeignKey { foreign_key, .. }
            | Finding::ModelRelationMismatch { foreign_key, .. } => foreign_key.table == table,
            Finding::UnconstrainedReference { table: t, .. }
            | Finding::ModelRelationWithoutConstraint { table: t, .. } => t.table == table,
            Finding::ModelTableMissing { table: t, .. } => t.table == table,
            Finding::UnbreakableCycle { cycle } => cycle.tables.iter().any(|t| t.table == table),
            _ => false,
        })
        .collect()
}

fn fix_of(finding: &Finding) -> String {
    match finding {
        Finding::UnindexedForeignKey { fix, .. } => fix.clone(),
        Finding::ModelRelationWithoutConstraint { fix, .. } => fix.clone().expect("a fix"),
        other => panic!("no fix: {other}"),
    }
}

fn questionable(finding: &Finding) -> Vec<(String, Vec<IndexProblem>)> {
    match finding {
        Finding::UnindexedForeignKey { questionable, .. } => questionable
            .iter()
            .map(|q| (q.name.clone(), q.problems.clone()))
            .collect(),
        other => panic!("not an unindexed foreign key: {other}"),
    }
}

/// Supporting indexes, missing ones, and the questionable ones: not
/// leading, partial, the primary key, composite keys in any order.
fn indexes<C: FkConnection>(conn: &mut C, schema_of: fn(&mut C) -> String)
where
    SqlQuery: ExecuteDsl<C>,
{
    let schema = schema_of(conn);
    for statement in [
        "CREATE TABLE a_parents (id BIGINT PRIMARY KEY)",
        "CREATE TABLE a_indexed (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES a_parents (id))",
        "CREATE INDEX a_indexed_parent ON a_indexed (parent_id)",
        // An index that leads with the key and has more columns supports it.
        "CREATE TABLE a_wider (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES a_parents (id), n INTEGER)",
        "CREATE INDEX a_wider_parent_n ON a_wider (parent_id, n)",
        "CREATE TABLE a_unindexed (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES a_parents (id))",
        "CREATE TABLE a_wrong_order (id BIGINT PRIMARY KEY, n INTEGER, parent_id BIGINT REFERENCES a_parents (id))",
        "CREATE INDEX a_wrong_order_n_parent ON a_wrong_order (n, parent_id)",
        "CREATE TABLE a_partial (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES a_parents (id))",
        "CREATE INDEX a_partial_parent ON a_partial (parent_id) WHERE parent_id > 0",
        // The child's primary key is the index: alone, and leading a composite one.
        "CREATE TABLE a_pk_child (parent_id BIGINT PRIMARY KEY REFERENCES a_parents (id))",
        "CREATE TABLE a_pk_pair (parent_id BIGINT REFERENCES a_parents (id), n INTEGER, PRIMARY KEY (parent_id, n))",
        "CREATE TABLE a_pk_second (n INTEGER, parent_id BIGINT REFERENCES a_parents (id), PRIMARY KEY (n, parent_id))",
        // Composite keys.
        "CREATE TABLE a_sites (region TEXT, code TEXT, PRIMARY KEY (region, code))",
        "CREATE TABLE a_visits_swapped (id BIGINT PRIMARY KEY, region TEXT, code TEXT, \
         FOREIGN KEY (region, code) REFERENCES a_sites (region, code))",
        "CREATE INDEX a_visits_swapped_code_region ON a_visits_swapped (code, region)",
        "CREATE TABLE a_visits_half (id BIGINT PRIMARY KEY, region TEXT, code TEXT, \
         FOREIGN KEY (region, code) REFERENCES a_sites (region, code))",
        "CREATE INDEX a_visits_half_region ON a_visits_half (region)",
        "CREATE TABLE a_visits_apart (id BIGINT PRIMARY KEY, region TEXT, n INTEGER, code TEXT, \
         FOREIGN KEY (region, code) REFERENCES a_sites (region, code))",
        "CREATE INDEX a_visits_apart_region_n_code ON a_visits_apart (region, n, code)",
    ] {
        sql(conn, statement);
    }
    let report = audit_own(conn, &schema, AuditOptions::new());
    let kind = "unindexed-foreign-key";
    for supported in [
        "a_indexed",
        "a_wider",
        "a_pk_child",
        "a_pk_pair",
        "a_visits_swapped",
    ] {
        assert!(
            about(&report, kind, supported).is_empty(),
            "{supported}: {report}"
        );
    }
    let unindexed = about(&report, kind, "a_unindexed");
    assert_eq!(unindexed.len(), 1, "{report}");
    assert!(questionable(unindexed[0]).is_empty());
    let fix = fix_of(unindexed[0]);
    assert_eq!(
        unindexed[0].to_string(),
        format!(
            "unindexed foreign key {name}{schema}.a_unindexed (parent_id) -> {schema}.a_parents (id): \
             no valid b-tree index on {schema}.a_unindexed leads with (parent_id), so each delete or \
             key change in {schema}.a_parents scans {schema}.a_unindexed; \
             fix: {fix}",
            name = match &unindexed[0] {
                Finding::UnindexedForeignKey { foreign_key, .. } => foreign_key
                    .name
                    .as_ref()
                    .map_or(String::new(), |n| format!("{n} ")),
                _ => unreachable!(),
            }
        )
    );

    let one = |table: &str| {
        let found = about(&report, kind, table);
        assert_eq!(found.len(), 1, "{table}: {report}");
        questionable(found[0])
    };
    assert_eq!(
        one("a_wrong_order"),
        [(
            "a_wrong_order_n_parent".to_string(),
            vec![IndexProblem::NotLeading]
        )]
    );
    assert_eq!(
        one("a_partial"),
        [("a_partial_parent".to_string(), vec![IndexProblem::Partial])]
    );
    let pk_second = one("a_pk_second");
    assert_eq!(pk_second.len(), 1, "{report}");
    assert_eq!(pk_second[0].1, [IndexProblem::NotLeading]);
    assert!(one("a_visits_half").is_empty(), "{report}");
    assert_eq!(
        one("a_visits_apart"),
        [(
            "a_visits_apart_region_n_code".to_string(),
            vec![IndexProblem::NotLeading]
        )]
    );
    let line = about(&report, kind, "a_wrong_order")[0].to_string();
    assert!(
        line.contains(
            "; questionable: a_wrong_order_n_parent (n, parent_id): the key's columns are not its leading ones"
        ),
        "{line}"
    );

    // Once indexed by the fix, the finding is gone.
    sql(conn, &fix);
    let report = audit_own(conn, &schema, AuditOptions::new());
    assert!(about(&report, kind, "a_unindexed").is_empty(), "{report}");
}

/// The demo's hostile names: a foreign key from "Pick Lines (Ä)" ("Bin,
/// (Ref)") is reported with its names quoted, and an index with a hostile
/// name of its own supports it.
fn hostile_identifiers<C: FkConnection>(conn: &mut C, schema_of: fn(&mut C) -> String)
where
    SqlQuery: ExecuteDsl<C>,
{
    let schema = schema_of(conn);
    let table = "Pick Lines (Ä)";
    let report = audit_own(conn, &schema, AuditOptions::new());
    let found = about(&report, "unindexed-foreign-key", table);
    assert_eq!(found.len(), 1, "{report}");
    let line = found[0].to_string();
    assert!(
        line.contains(&format!(
            "{schema}.\"Pick Lines (Ä)\" (\"Bin, (Ref)\") -> {schema}.\"Lager \"\"Nord\"\" Größe\" (\"Bin ID\")"
        )),
        "{line}"
    );
    let fix = fix_of(found[0]);
    assert!(line.ends_with(&format!("; fix: {fix}")), "{line}");
    assert!(fix.contains("(\"Bin, (Ref)\")"), "{fix}");
    sql(
        conn,
        r#"CREATE INDEX "Ix ""; DROP TABLE customers; --" ON "Pick Lines (Ä)" ("Bin, (Ref)")"#,
    );
    let report = audit_own(conn, &schema, AuditOptions::new());
    assert!(
        about(&report, "unindexed-foreign-key", table).is_empty(),
        "{report}"
    );
    // The fix, with the hostile names quoted, is a statement that works.
    sql(conn, r#"DROP INDEX "Ix ""; DROP TABLE customers; --""#);
    sql(conn, &fix);
    let report = audit_own(conn, &schema, AuditOptions::new());
    assert!(
        about(&report, "unindexed-foreign-key", table).is_empty(),
        "{report}"
    );
    // Nothing was injected: customers is still there.
    sql(conn, "DELETE FROM customers WHERE 1 = 0");
}

/// Types that differ between a key's columns, by each backend's rule.
fn type_mismatches<C: FkConnection>(
    conn: &mut C,
    schema_of: fn(&mut C) -> String,
    statements: &[&str],
    expected: &str,
) where
    SqlQuery: ExecuteDsl<C>,
{
    let schema = schema_of(conn);
    for statement in statements {
        sql(conn, statement);
    }
    let report = audit_own(conn, &schema, AuditOptions::new());
    let kind = "type-mismatch";
    assert!(about(&report, kind, "t_same").is_empty(), "{report}");
    let found = about(&report, kind, "t_narrow");
    assert_eq!(found.len(), 1, "{report}");
    assert!(found[0].to_string().ends_with(expected), "{}", found[0]);
    // The demo schema's keys have matching types.
    for table in ["orders", "order_items", "stock_levels", "employees"] {
        assert!(about(&report, kind, table).is_empty(), "{table}: {report}");
    }
}

/// `*_id` columns without a foreign key, and the ones that are fine.
fn unconstrained_references<C: FkConnection>(
    conn: &mut C,
    schema_of: fn(&mut C) -> String,
    camel_case: &str,
) where
    SqlQuery: ExecuteDsl<C>,
{
    let schema = schema_of(conn);
    for statement in [
        "CREATE TABLE categories (id BIGINT PRIMARY KEY)",
        "CREATE TABLE b_notes (id BIGINT PRIMARY KEY, customer_id BIGINT, category_id BIGINT, \
         product_id BIGINT REFERENCES products (id), invoice_id BIGINT, paid BOOLEAN)",
        // A key that is its table's primary key is not a reference to report.
        "CREATE TABLE b_profiles (user_id BIGINT PRIMARY KEY)",
        camel_case,
    ] {
        sql(conn, statement);
    }
    let report = audit_own(conn, &schema, AuditOptions::new());
    let kind = "unconstrained-reference";
    let lines: Vec<String> = about(&report, kind, "b_notes")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            format!("{schema}.b_notes.customer_id looks like a reference (to {schema}.customers?) but no foreign key covers it"),
            format!("{schema}.b_notes.category_id looks like a reference (to {schema}.categories?) but no foreign key covers it"),
            format!("{schema}.b_notes.invoice_id looks like a reference but no foreign key covers it"),
        ],
        "{report}"
    );
    assert!(about(&report, kind, "b_profiles").is_empty(), "{report}");
    let camel = about(&report, kind, "b_camel");
    assert_eq!(camel.len(), 1, "{report}");
    assert!(
        camel[0].to_string().starts_with(&format!(
            "{schema}.b_camel.\"customerId\" looks like a reference (to {schema}.customers?)"
        )),
        "{}",
        camel[0]
    );
    // The demo's foreign keys cover its *_id columns.
    for table in ["orders", "order_items", "employees", "departments"] {
        assert!(about(&report, kind, table).is_empty(), "{table}: {report}");
    }
}

diesel::table! { e_orders (id) { id -> BigInt, customer_id -> BigInt } }
diesel::table! { e_misdirected (id) { id -> BigInt, customer_id -> BigInt } }
diesel::table! { e_nowhere (id) { id -> BigInt, customer_id -> BigInt } }

/// A relation to the demo's customers that the test's table may lack.
#[derive(Insertable, fk_safe::FkOrdered)]
#[diesel(table_name = e_orders)]
#[diesel(belongs_to(Customer, foreign_key = customer_id))]
struct NewEOrder {
    customer_id: i64,
}

/// Its table has a foreign key on the column, to another table.
#[derive(Insertable, fk_safe::FkOrdered)]
#[diesel(table_name = e_misdirected)]
#[diesel(belongs_to(Customer, foreign_key = customer_id))]
struct NewMisdirected {
    customer_id: i64,
}

/// Its table does not exist.
#[derive(Insertable, fk_safe::FkOrdered)]
#[diesel(table_name = e_nowhere)]
#[diesel(belongs_to(Customer, foreign_key = customer_id))]
struct NewNowhere {
    customer_id: i64,
}

/// The shop's models against the demo schema that declares every one of
/// their relations: no drift; models against tables that lack or
/// misdirect their constraint, or do not exist: drift.
fn model_drift<C: FkConnection>(conn: &mut C, schema_of: fn(&mut C) -> String)
where
    SqlQuery: ExecuteDsl<C>,
    NewCustomer: WriteRow<C::Backend>,
    NewProduct: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
    NewEmployee: WriteRow<C::Backend>,
    NewDepartment: WriteRow<C::Backend>,
    NewWarehouse: WriteRow<C::Backend>,
    NewStockLevel: WriteRow<C::Backend>,
    NewEOrder: WriteRow<C::Backend>,
    NewMisdirected: WriteRow<C::Backend>,
    NewNowhere: WriteRow<C::Backend>,
{
    let schema = schema_of(conn);
    let shop = AuditOptions::new()
        .model::<NewCustomer>()
        .model::<NewProduct>()
        .model::<NewOrder>()
        .model::<NewOrderItem>()
        .model::<NewEmployee>()
        .model::<NewDepartment>()
        .model::<NewWarehouse>()
        .model::<NewStockLevel>();
    let report = audit_own(conn, &schema, shop);
    let drift: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.kind().starts_with("model-"))
        .collect();
    assert!(drift.is_empty(), "{drift:?}");

    sql(
        conn,
        "CREATE TABLE e_orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL)",
    );
    sql(
        conn,
        "CREATE TABLE e_misdirected (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES products (id))",
    );
    let options = AuditOptions::new()
        .model::<NewEOrder>()
        .model::<NewMisdirected>()
        .model::<NewNowhere>();
    let report = audit_own(conn, &schema, options);
    let missing = about(&report, "model-relation-without-constraint", "e_orders");
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(
        missing[0].to_string(),
        format!(
            "model NewEOrder, relation customer_id: no foreign key on {schema}.e_orders (customer_id) \
             references {schema}.customers (id); orphans are possible without any error; \
             fix: {}",
            fix_of(missing[0])
        )
    );
    let misdirected = about(&report, "model-relation-mismatch", "e_misdirected");
    assert_eq!(misdirected.len(), 1, "{report}");
    assert!(
        misdirected[0].to_string().starts_with(
            "model NewMisdirected, relation customer_id: declared to reference customers (id), but"
        ),
        "{}",
        misdirected[0]
    );
    let nowhere = about(&report, "model-table-missing", "e_nowhere");
    assert_eq!(nowhere.len(), 1, "{report}");
    assert_eq!(
        nowhere[0].to_string(),
        "model NewNowhere: its table e_nowhere does not exist"
    );
    assert_eq!(
        report.of_kind("model-relation-without-constraint").count(),
        1
    );

    // With the constraint declared, the drift is gone.
    sql(conn, "DROP TABLE e_orders");
    sql(
        conn,
        "CREATE TABLE e_orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id))",
    );
    let report = audit_own(conn, &schema, AuditOptions::new().model::<NewEOrder>());
    assert_eq!(
        report.of_kind("model-relation-without-constraint").count(),
        0,
        "{report}"
    );
}

/// Every statement the audit sends is a read of the catalog, marked so.
fn only_marked_catalog_reads<C: FkConnection>(conn: &mut C, schema_of: fn(&mut C) -> String)
where
    NewOrder: WriteRow<C::Backend>,
    NewStockLevel: WriteRow<C::Backend>,
{
    let schema = schema_of(conn);
    let counter = common::StatementCounter::default();
    let every = common::StatementCounter::every_statement();
    conn.set_instrumentation(counter.clone());
    let options = AuditOptions::new()
        .model::<NewOrder>()
        .model::<NewStockLevel>();
    audit_own(conn, &schema, options.clone());
    assert_eq!(counter.count(), 0);
    conn.set_instrumentation(every.clone());
    audit_own(conn, &schema, options);
    assert!(every.count() > 0);
}

common::on_both_backends! {
    the_audit_only_reads_the_catalog = only_marked_catalog_reads => { postgres: (pg_schema), sqlite: (sqlite_schema) },
    indexes_support_foreign_keys = indexes => { postgres: (pg_schema), sqlite: (sqlite_schema) },
    hostile_names_are_quoted = hostile_identifiers => { postgres: (pg_schema), sqlite: (sqlite_schema) },
    type_mismatches_by_the_backends_rule = type_mismatches => {
        postgres: (pg_schema, &[
            "CREATE TABLE t_parents (id BIGINT PRIMARY KEY, code TEXT UNIQUE)",
            "CREATE TABLE t_same (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES t_parents (id))",
            "CREATE TABLE t_narrow (id BIGINT PRIMARY KEY, parent_id INTEGER REFERENCES t_parents (id))",
        ], "parent_id is integer, id is bigint"),
        sqlite: (sqlite_schema, &[
            "CREATE TABLE t_parents (id INTEGER PRIMARY KEY, code TEXT UNIQUE)",
            // BIGINT and INTEGER share an affinity; VARCHAR(3) and TEXT too.
            "CREATE TABLE t_same (id INTEGER PRIMARY KEY, parent_id BIGINT REFERENCES t_parents (id), \
             code VARCHAR(3) REFERENCES t_parents (code))",
            "CREATE TABLE t_narrow (id INTEGER PRIMARY KEY, parent_id VARCHAR(10) REFERENCES t_parents (id))",
        ], "parent_id is VARCHAR(10), id is INTEGER (affinity TEXT against INTEGER)"),
    },
    reference_columns_without_keys = unconstrained_references => {
        postgres: (pg_schema, r#"CREATE TABLE b_camel (id BIGINT PRIMARY KEY, "customerId" BIGINT)"#),
        sqlite: (sqlite_schema, r#"CREATE TABLE b_camel (id INTEGER PRIMARY KEY, "customerId" BIGINT)"#),
    },
    models_drift_from_the_catalog = model_drift => { postgres: (pg_schema), sqlite: (sqlite_schema) },
}

#[cfg(feature = "postgres")]
mod postgres_facts {
    use super::*;

    /// A constraint added NOT VALID is a finding until validated.
    pub fn not_valid(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        sql(conn, "CREATE TABLE n_parents (id BIGINT PRIMARY KEY)");
        sql(
            conn,
            "CREATE TABLE n_children (id BIGINT PRIMARY KEY, parent_id BIGINT)",
        );
        sql(conn, "CREATE INDEX ON n_children (parent_id)");
        sql(
            conn,
            "ALTER TABLE n_children ADD CONSTRAINT \"n \"\"late\"\"\" FOREIGN KEY (parent_id) \
             REFERENCES n_parents (id) NOT VALID",
        );
        let report = audit_own(conn, &schema, AuditOptions::new());
        let found = about(&report, "not-valid-constraint", "n_children");
        assert_eq!(found.len(), 1, "{report}");
        assert!(
            found[0].to_string().ends_with(&format!(
                "fix: ALTER TABLE \"{schema}\".\"n_children\" VALIDATE CONSTRAINT \"n \"\"late\"\"\""
            )),
            "{}",
            found[0]
        );
        assert!(about(&report, "not-valid-constraint", "orders").is_empty());
        sql(
            conn,
            "ALTER TABLE n_children VALIDATE CONSTRAINT \"n \"\"late\"\"\"",
        );
        let report = audit_own(conn, &schema, AuditOptions::new());
        assert!(about(&report, "not-valid-constraint", "n_children").is_empty());
    }

    /// Text against varchar(3) is a mismatch on PostgreSQL.
    pub fn text_against_varchar(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        sql(conn, "CREATE TABLE v_parents (code TEXT PRIMARY KEY)");
        sql(
            conn,
            "CREATE TABLE v_children (code VARCHAR(3) REFERENCES v_parents (code))",
        );
        let report = audit_own(conn, &schema, AuditOptions::new());
        let found = about(&report, "type-mismatch", "v_children");
        assert_eq!(found.len(), 1, "{report}");
        assert!(
            found[0]
                .to_string()
                .ends_with("code is character varying(3), code is text"),
            "{}",
            found[0]
        );
    }

    /// An invalid index (marked so by hand, as a failed CREATE INDEX
    /// CONCURRENTLY leaves it), a hash index and an expression index are
    /// questionable, never support.
    pub fn invalid_and_other_indexes(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        sql(conn, "CREATE TABLE i_parents (id BIGINT PRIMARY KEY)");
        sql(conn, "CREATE TABLE i_children (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES i_parents (id))");
        sql(
            conn,
            "CREATE INDEX i_children_invalid ON i_children (parent_id)",
        );
        sql(
            conn,
            "CREATE INDEX i_children_hash ON i_children USING hash (parent_id)",
        );
        sql(
            conn,
            "CREATE INDEX i_children_expr ON i_children ((parent_id + 0), parent_id)",
        );
        for statement in [
            "CREATE TABLE i_codes (code TEXT PRIMARY KEY)",
            "CREATE TABLE i_coded (id BIGINT PRIMARY KEY, code TEXT REFERENCES i_codes (code))",
            "CREATE INDEX i_coded_c ON i_coded (code COLLATE \"C\")",
            "CREATE TABLE i_coded_in_c (id BIGINT PRIMARY KEY, code TEXT COLLATE \"C\" REFERENCES i_codes (code))",
            "CREATE INDEX i_coded_in_c_idx ON i_coded_in_c (code COLLATE \"C\")",
        ] {
            sql(conn, statement);
        }
        sql(
            conn,
            &format!(
                "UPDATE pg_catalog.pg_index SET indisvalid = false \
                 WHERE indexrelid = '{schema}.i_children_invalid'::regclass"
            ),
        );
        let report = audit_own(conn, &schema, AuditOptions::new());
        let found = about(&report, "unindexed-foreign-key", "i_children");
        assert_eq!(found.len(), 1, "{report}");
        assert_eq!(
            questionable(found[0]),
            [
                (
                    "i_children_expr".to_string(),
                    vec![IndexProblem::NotLeading]
                ),
                (
                    "i_children_hash".to_string(),
                    vec![IndexProblem::Method("hash".into())]
                ),
                (
                    "i_children_invalid".to_string(),
                    vec![IndexProblem::NotValid]
                ),
            ]
        );
        let coded = about(&report, "unindexed-foreign-key", "i_coded");
        assert_eq!(coded.len(), 1, "{report}");
        assert_eq!(
            questionable(coded[0]),
            [("i_coded_c".to_string(), vec![IndexProblem::Collation])]
        );
        // An index in the column's own collation supports the key.
        assert!(
            about(&report, "unindexed-foreign-key", "i_coded_in_c").is_empty(),
            "{report}"
        );
    }

    /// Two tables whose keys are NOT NULL and not deferrable: an
    /// unbreakable cycle; once one may be NULL, none.
    pub fn unbreakable_cycle(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        sql(
            conn,
            "CREATE TABLE c_eggs (id BIGINT PRIMARY KEY, hen_id BIGINT NOT NULL)",
        );
        sql(conn, "CREATE TABLE c_hens (id BIGINT PRIMARY KEY, egg_id BIGINT NOT NULL REFERENCES c_eggs (id))");
        sql(
            conn,
            "ALTER TABLE c_eggs ADD FOREIGN KEY (hen_id) REFERENCES c_hens (id)",
        );
        let report = audit_own(conn, &schema, AuditOptions::new());
        let found = about(&report, "unbreakable-cycle", "c_eggs");
        assert_eq!(found.len(), 1, "{report}");
        assert!(
            found[0].to_string().starts_with(&format!(
                "unbreakable cycle {schema}.c_eggs <-> {schema}.c_hens: none of its foreign keys"
            )),
            "{}",
            found[0]
        );
        // The demo's cycles can be broken.
        assert_eq!(report.of_kind("unbreakable-cycle").count(), 1, "{report}");
        sql(conn, "ALTER TABLE c_eggs ALTER COLUMN hen_id DROP NOT NULL");
        let report = audit_own(conn, &schema, AuditOptions::new());
        assert_eq!(report.of_kind("unbreakable-cycle").count(), 0, "{report}");
    }

    /// Another schema with tables of the same names, differently indexed
    /// and typed, changes nothing in this schema's findings, and is not
    /// audited with the filter.
    pub fn same_names_in_two_schemas(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        let other = format!("{schema}_other");
        sql(conn, &format!("CREATE SCHEMA {other}"));
        for (s, parent_type, index) in [
            (schema.as_str(), "BIGINT", false),
            (other.as_str(), "INTEGER", true),
        ] {
            sql(
                conn,
                &format!("CREATE TABLE {s}.s_parents (id {parent_type} PRIMARY KEY)"),
            );
            sql(
                conn,
                &format!("CREATE TABLE {s}.s_children (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES {s}.s_parents (id), owner_id BIGINT)"),
            );
            if index {
                sql(conn, &format!("CREATE INDEX ON {s}.s_children (parent_id)"));
            }
        }
        let report = audit_own(conn, &schema, AuditOptions::new());
        let unindexed = about(&report, "unindexed-foreign-key", "s_children");
        assert_eq!(unindexed.len(), 1, "{report}");
        assert!(
            about(&report, "type-mismatch", "s_children").is_empty(),
            "{report}"
        );
        assert!(
            report
                .findings
                .iter()
                .all(|f| !f.to_string().contains(&other)),
            "{report}"
        );

        let others = audit(
            &mut *conn,
            &FkCatalog::new(),
            &AuditOptions::new().schema(other.clone()),
        )
        .unwrap();
        assert!(
            about(&others, "unindexed-foreign-key", "s_children").is_empty(),
            "{others}"
        );
        assert_eq!(
            about(&others, "type-mismatch", "s_children").len(),
            1,
            "{others}"
        );
        assert_eq!(
            about(&others, "unconstrained-reference", "s_children").len(),
            1,
            "{others}"
        );
        assert!(
            others
                .findings
                .iter()
                .all(|f| !f.to_string().contains(&format!("{schema}."))),
            "{others}"
        );
        sql(conn, &format!("DROP SCHEMA {other} CASCADE"));
    }

    /// A partitioned child: its foreign key is declared once, its
    /// partitions are no tables of their own to report, and an index on
    /// the partitioned table supports the key.
    pub fn partitioned_children(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        for statement in [
            "CREATE TABLE p_parents (id BIGINT PRIMARY KEY)",
            "CREATE TABLE p_events (id BIGINT, parent_id BIGINT REFERENCES p_parents (id), at DATE NOT NULL, \
             source_id BIGINT) PARTITION BY RANGE (at)",
            "CREATE TABLE p_events_2026 PARTITION OF p_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        ] {
            sql(conn, statement);
        }
        let report = audit_own(conn, &schema, AuditOptions::new());
        assert_eq!(
            about(&report, "unindexed-foreign-key", "p_events").len(),
            1,
            "{report}"
        );
        assert_eq!(
            about(&report, "unconstrained-reference", "p_events").len(),
            1,
            "{report}"
        );
        assert!(
            report
                .findings
                .iter()
                .all(|f| !f.to_string().contains("p_events_2026")),
            "{report}"
        );
        sql(conn, "CREATE INDEX ON p_events (parent_id)");
        let report = audit_own(conn, &schema, AuditOptions::new());
        assert!(
            about(&report, "unindexed-foreign-key", "p_events").is_empty(),
            "{report}"
        );
    }

    /// An index on each partition supports a partitioned child only when
    /// every leaf has one, at any depth and in any schema; one leaf
    /// without it (or no partition at all) leaves the key reported.
    pub fn partition_indexes(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        let other = format!("{schema}_q");
        for statement in [
            format!("CREATE SCHEMA {other}"),
            "CREATE TABLE q_parents (id BIGINT PRIMARY KEY)".into(),
            "CREATE TABLE q_events (id BIGINT, parent_id BIGINT REFERENCES q_parents (id), at DATE NOT NULL)              PARTITION BY RANGE (at)".into(),
            "CREATE TABLE q_events_2026 PARTITION OF q_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')              PARTITION BY RANGE (at)".into(),
            "CREATE TABLE q_events_2026a PARTITION OF q_events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01')".into(),
            format!("CREATE TABLE {other}.q_events_2026b PARTITION OF q_events_2026 FOR VALUES FROM ('2026-07-01') TO ('2027-01-01')"),
            "CREATE INDEX ON q_events_2026a (parent_id)".into(),
            "CREATE TABLE q_empty (id BIGINT, parent_id BIGINT REFERENCES q_parents (id), at DATE NOT NULL)              PARTITION BY RANGE (at)".into(),
        ] {
            sql(conn, &statement);
        }
        let report = audit_own(conn, &schema, AuditOptions::new());
        assert_eq!(
            about(&report, "unindexed-foreign-key", "q_events").len(),
            1,
            "{report}"
        );
        assert_eq!(
            about(&report, "unindexed-foreign-key", "q_empty").len(),
            1,
            "{report}"
        );
        // The fix names its index, in the table's schema.
        assert_eq!(
            fix_of(about(&report, "unindexed-foreign-key", "q_events")[0]),
            format!("CREATE INDEX \"q_events_parent_id_idx\" ON \"{schema}\".\"q_events\" (\"parent_id\")")
        );
        sql(
            conn,
            &format!("CREATE INDEX ON {other}.q_events_2026b (parent_id)"),
        );
        let report = audit_own(conn, &schema, AuditOptions::new());
        sql(conn, &format!("DROP SCHEMA {other} CASCADE"));
        assert!(
            about(&report, "unindexed-foreign-key", "q_events").is_empty(),
            "{report}"
        );
        assert_eq!(
            about(&report, "unindexed-foreign-key", "q_empty").len(),
            1,
            "{report}"
        );
    }

    /// A domain compares as its base type with the modifier it gives: over
    /// the parent's type it is no mismatch, over another length it is.
    pub fn domains(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        for statement in [
            "CREATE DOMAIN w_code3 AS VARCHAR(3)",
            "CREATE DOMAIN w_code3_checked AS w_code3 CHECK (VALUE <> '')",
            "CREATE TABLE w_parents (code VARCHAR(3) PRIMARY KEY, wide VARCHAR(5) UNIQUE)",
            "CREATE TABLE w_same (id BIGINT PRIMARY KEY, code w_code3_checked REFERENCES w_parents (code))",
            "CREATE TABLE w_other (id BIGINT PRIMARY KEY, code w_code3_checked REFERENCES w_parents (wide))",
        ] {
            sql(conn, statement);
        }
        let report = audit_own(conn, &schema, AuditOptions::new());
        assert!(
            about(&report, "type-mismatch", "w_same").is_empty(),
            "{report}"
        );
        let other = about(&report, "type-mismatch", "w_other");
        assert_eq!(other.len(), 1, "{report}");
        assert!(
            other[0].to_string().ends_with(
                "code is w_code3_checked, wide is character varying(5) \
                 (base type character varying(3) against character varying(5))"
            ),
            "{report}"
        );
    }

    /// A composite primary key's columns are references like any other; a
    /// single-column one is the table's identity.
    pub fn composite_primary_keys(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        for statement in [
            "CREATE TABLE u_tags (id BIGINT PRIMARY KEY)",
            "CREATE TABLE u_post_tags (post_id BIGINT, tag_id BIGINT REFERENCES u_tags (id), PRIMARY KEY (post_id, tag_id))",
            "CREATE TABLE u_tag_notes (tag_id BIGINT PRIMARY KEY)",
        ] {
            sql(conn, statement);
        }
        let report = audit_own(conn, &schema, AuditOptions::new());
        let on_join = about(&report, "unconstrained-reference", "u_post_tags");
        assert_eq!(on_join.len(), 1, "{report}");
        assert!(on_join[0].to_string().contains("post_id"), "{report}");
        assert!(
            about(&report, "unconstrained-reference", "u_tag_notes").is_empty(),
            "{report}"
        );
    }

    /// A cycle wholly in a schema not audited is not this schema's.
    pub fn cycles_of_other_schemas(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        let other = format!("{schema}_c");
        for statement in [
            format!("CREATE SCHEMA {other}"),
            format!("CREATE TABLE {other}.c_a (id BIGINT PRIMARY KEY, b_id BIGINT NOT NULL)"),
            format!("CREATE TABLE {other}.c_b (id BIGINT PRIMARY KEY, a_id BIGINT NOT NULL REFERENCES {other}.c_a (id))"),
            format!("ALTER TABLE {other}.c_a ADD FOREIGN KEY (b_id) REFERENCES {other}.c_b (id)"),
        ] {
            sql(conn, &statement);
        }
        let own = audit_own(conn, &schema, AuditOptions::new());
        let theirs = audit(
            &mut *conn,
            &FkCatalog::new(),
            &AuditOptions::new().schema(&other),
        )
        .expect("audit");
        sql(conn, &format!("DROP SCHEMA {other} CASCADE"));
        assert_eq!(own.of_kind("unbreakable-cycle").count(), 0, "{own}");
        assert_eq!(theirs.of_kind("unbreakable-cycle").count(), 1, "{theirs}");
    }

    /// The shop's NewOrder against this schema once its constraint is gone.
    pub fn shop_model_without_its_constraint(conn: &mut PgConnection) {
        let schema = pg_schema(conn);
        sql(
            conn,
            "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey",
        );
        let report = audit_own(
            conn,
            &schema,
            AuditOptions::new()
                .model::<NewOrder>()
                .model::<NewOrderItem>(),
        );
        let lines: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.kind().starts_with("model-"))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [format!(
                "model NewOrder, relation customer_id: no foreign key on {schema}.orders (customer_id) \
                 references {schema}.customers (id); orphans are possible without any error; \
                 fix: ALTER TABLE \"{schema}\".\"orders\" ADD FOREIGN KEY (\"customer_id\") \
                 REFERENCES \"{schema}\".\"customers\" (\"id\")"
            )]
        );
        // And the column is now a reference no key covers.
        assert_eq!(
            about(&report, "unconstrained-reference", "orders").len(),
            1,
            "{report}"
        );
        // The fix declares the constraint, and the drift is gone.
        let finding = report
            .of_kind("model-relation-without-constraint")
            .next()
            .unwrap();
        sql(conn, &fix_of(finding));
        let report = audit_own(conn, &schema, AuditOptions::new().model::<NewOrder>());
        assert_eq!(
            report.of_kind("model-relation-without-constraint").count(),
            0,
            "{report}"
        );
        assert!(
            about(&report, "unconstrained-reference", "orders").is_empty(),
            "{report}"
        );
    }
}

#[cfg(feature = "postgres")]
use postgres_facts::*;

/// A misspelt schema is refused, not audited as empty.
#[cfg(feature = "postgres")]
fn pg_unknown_schema(conn: &mut PgConnection) {
    let schema = format!("{}_missing", pg_schema(conn));
    let result = audit(
        conn,
        &FkCatalog::new(),
        &AuditOptions::new().schema(schema.clone()),
    );
    assert!(
        matches!(result, Err(AuditError::UnknownSchema { schema: ref s }) if *s == schema),
        "{result:?}"
    );
}

/// A model whose table resolves to a temporary table (which hides the
/// table of `main` from Diesel's unqualified statements) is refused: its
/// foreign keys are not read.
#[cfg(feature = "sqlite")]
fn sqlite_model_in_a_temporary_table(conn: &mut SqliteConnection) {
    sql(
        conn,
        "CREATE TEMPORARY TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT)",
    );
    let result = audit(
        conn,
        &FkCatalog::new(),
        &AuditOptions::new().model::<NewOrder>(),
    );
    assert!(
        matches!(
            result,
            Err(AuditError::Model {
                model: "NewOrder",
                ..
            })
        ),
        "{result:?}"
    );
}

common::on_postgres! {
    not_valid_constraints = not_valid,
    varchar_against_text = text_against_varchar,
    invalid_hash_and_expression_indexes = invalid_and_other_indexes,
    cycles_that_cannot_be_broken = unbreakable_cycle,
    two_schemas_are_not_mixed = same_names_in_two_schemas,
    a_shop_model_without_its_constraint = shop_model_without_its_constraint,
    unknown_schemas_are_refused = pg_unknown_schema,
    partitioned_child_tables = partitioned_children,
    indexes_on_every_partition = partition_indexes,
    domains_compare_as_their_base_type = domains,
    composite_primary_key_columns = composite_primary_keys,
    cycles_of_schemas_not_audited = cycles_of_other_schemas,
}

/// SQLite's catalog does not record deferrability, so a cycle of NOT NULL
/// keys is never called unbreakable there (`PRAGMA defer_foreign_keys`
/// defers every key).
#[cfg(feature = "sqlite")]
fn sqlite_cycles_are_never_unbreakable(conn: &mut SqliteConnection) {
    sql(conn, "CREATE TABLE c_eggs (id INTEGER PRIMARY KEY, hen_id BIGINT NOT NULL REFERENCES c_hens (id))");
    sql(conn, "CREATE TABLE c_hens (id INTEGER PRIMARY KEY, egg_id BIGINT NOT NULL REFERENCES c_eggs (id))");
    let report = audit_own(conn, "main", AuditOptions::new());
    assert_eq!(report.of_kind("unbreakable-cycle").count(), 0, "{report}");
}

/// The shop's NewOrder against a SQLite database whose orders lack the
/// constraint to customers.
#[cfg(feature = "sqlite")]
fn sqlite_shop_model_without_its_constraint(_conn: &mut SqliteConnection) {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    sql(&mut conn, "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL)");
    sql(&mut conn, "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL, total_cents BIGINT NOT NULL DEFAULT 0)");
    let report = audit_own(
        &mut conn,
        "main",
        AuditOptions::new()
            .model::<NewOrder>()
            .model::<NewCustomer>(),
    );
    let lines: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.kind().starts_with("model-"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        ["model NewOrder, relation customer_id: no foreign key on main.orders (customer_id) \
          references main.customers (id); orphans are possible without any error; \
          fix: recreate \"orders\" with FOREIGN KEY (\"customer_id\") REFERENCES \"customers\" (\"id\") \
          and copy its rows (SQLite cannot add a constraint to an existing table)"]
    );
}

/// A rowid child key (INTEGER PRIMARY KEY) is its own index.
#[cfg(feature = "sqlite")]
fn sqlite_rowid_is_an_index(conn: &mut SqliteConnection) {
    sql(conn, "CREATE TABLE r_parents (id INTEGER PRIMARY KEY)");
    sql(
        conn,
        "CREATE TABLE r_children (parent_id INTEGER PRIMARY KEY REFERENCES r_parents (id))",
    );
    let report = audit_own(conn, "main", AuditOptions::new());
    assert!(
        about(&report, "unindexed-foreign-key", "r_children").is_empty(),
        "{report}"
    );
    // A schema other than main is refused, never audited as empty.
    let elsewhere = audit(
        conn,
        &FkCatalog::new(),
        &AuditOptions::new().schema("other"),
    );
    assert!(
        matches!(elsewhere, Err(AuditError::UnknownSchema { ref schema }) if schema == "other"),
        "{elsewhere:?}"
    );
}

/// SQLite accepts a foreign key to a table or column that does not exist,
/// or to columns no unique index covers, and then fails every insert into
/// the child: a finding, never a crash of the audit or a silent pass.
#[cfg(feature = "sqlite")]
fn sqlite_dangling_foreign_keys(conn: &mut SqliteConnection) {
    sql(
        conn,
        "CREATE TABLE g_parents (id INTEGER PRIMARY KEY, name TEXT)",
    );
    sql(conn, "CREATE TABLE g_keyless (name TEXT)");
    let cases = [
        ("g_ghost", "BIGINT REFERENCES g_ghosts (id)",
         "dangling foreign key main.g_ghost (k) -> main.g_ghosts (id): main.g_ghosts does not exist, \
          so every insert into main.g_ghost fails (\"no such table\")"),
        ("g_no_column", "BIGINT REFERENCES g_parents (nope)",
         "dangling foreign key main.g_no_column (k) -> main.g_parents (nope): main.g_parents has no such \
          key columns, so every insert into main.g_no_column fails (\"foreign key mismatch\")"),
        ("g_no_key", "TEXT REFERENCES g_keyless",
         "dangling foreign key main.g_no_key (k) -> main.g_keyless (): main.g_keyless has no such \
          key columns, so every insert into main.g_no_key fails (\"foreign key mismatch\")"),
        ("g_not_unique", "TEXT REFERENCES g_parents (name)",
         "dangling foreign key main.g_not_unique (k) -> main.g_parents (name): no PRIMARY KEY or UNIQUE \
          index of main.g_parents is exactly (name), so every insert into main.g_not_unique fails \
          (\"foreign key mismatch\")"),
    ];
    for (table, key, _) in cases {
        sql(
            conn,
            &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, k {key})"),
        );
    }
    // A parent named in another case is the same table: not dangling.
    sql(
        conn,
        "CREATE TABLE g_fine (id INTEGER PRIMARY KEY, k BIGINT REFERENCES G_PARENTS (ID))",
    );
    let report = audit_own(conn, "main", AuditOptions::new());
    for (table, _, line) in cases {
        let found = about(&report, "dangling-foreign-key", table);
        assert_eq!(found.len(), 1, "{table}: {report}");
        assert_eq!(found[0].to_string(), line);
        // Each is real: SQLite refuses the insert, even of a NULL key.
        let insert = format!("INSERT INTO {table} (k) VALUES (NULL)");
        assert!(
            diesel::sql_query(&insert).execute(conn).is_err(),
            "{insert}"
        );
    }
    assert!(
        about(&report, "dangling-foreign-key", "g_fine").is_empty(),
        "{report}"
    );
    assert!(
        about(&report, "type-mismatch", "g_fine").is_empty(),
        "{report}"
    );
    sql(conn, "INSERT INTO g_fine (k) VALUES (NULL)");
    // The demo schema has no dangling key.
    assert_eq!(
        report.of_kind("dangling-foreign-key").count(),
        cases.len(),
        "{report}"
    );
}

common::on_sqlite! {
    dangling_foreign_keys_are_findings = sqlite_dangling_foreign_keys,
    cycles_are_never_unbreakable = sqlite_cycles_are_never_unbreakable,
    rowid_keys_are_indexed = sqlite_rowid_is_an_index,
    models_in_temporary_tables_are_refused = sqlite_model_in_a_temporary_table,
    a_shop_model_without_its_constraint = sqlite_shop_model_without_its_constraint,
}
