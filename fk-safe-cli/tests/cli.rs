//! The built `fk-safe` against real databases: its text, its JSON, its
//! exit status, hostile names, and the databases it must refuse.

mod common;

use common::{fk_safe, PgDatabase, SqliteFile};
use serde_json::{json, Value};

/// A name as the command shows it: bare when plain, else SQL-quoted.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// SQL quoting, for the test's own statements.
fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

const SHOP: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id))",
    // A cycle, breakable by writing a team without its lead first.
    "CREATE TABLE teams (id INTEGER PRIMARY KEY, lead_id BIGINT REFERENCES people (id))",
    "CREATE TABLE people (id INTEGER PRIMARY KEY, team_id BIGINT NOT NULL REFERENCES teams (id))",
    "INSERT INTO customers VALUES (1, 'a')",
    "INSERT INTO orders VALUES (1, 1)",
];

fn shop_with_orphans() -> SqliteFile {
    let mut statements = SHOP.to_vec();
    statements.push("INSERT INTO orders VALUES (2, 9), (3, 7), (4, 7)");
    SqliteFile::new(&statements)
}

#[test]
fn sqlite_doctor_of_a_clean_file_reads_at_a_glance() {
    let db = SqliteFile::new(SHOP);
    let run = fk_safe(&["doctor", db.path()], None);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "fk-safe doctor: sqlite database {}\n\
             \n\
             Load order: 4 tables in 2 levels, parents first\n\
             \x20 level 0: main.customers, main.people, main.teams\n\
             \x20 level 1: main.orders\n\
             Cycles: 1\n\
             \x20 main.people, main.teams: breakable\n\
             \x20   main.people (team_id) -> main.teams (id): NOT NULL; deferring: unknown (not in the catalog)\n\
             \x20   main.teams (lead_id) -> main.people (id): write NULL to lead_id first; deferring: unknown (not in the catalog)\n\
             \n\
             Orphans: none in 3 foreign keys checked\n\
             \n\
             Audit: 3 findings (they fail the run only with --fail-on)\n\
             \x20 unindexed-foreign-key: 3\n\
             \x20   unindexed foreign key main.orders (customer_id) -> main.customers (id): no valid b-tree index on main.orders leads with (customer_id), so each delete or key change in main.customers scans main.orders; fix: CREATE INDEX \"main\".\"orders_customer_id_idx\" ON \"orders\" (\"customer_id\")\n\
             \x20   unindexed foreign key main.people (team_id) -> main.teams (id): no valid b-tree index on main.people leads with (team_id), so each delete or key change in main.teams scans main.people; fix: CREATE INDEX \"main\".\"people_team_id_idx\" ON \"people\" (\"team_id\")\n\
             \x20   unindexed foreign key main.teams (lead_id) -> main.people (id): no valid b-tree index on main.teams leads with (lead_id), so each delete or key change in main.people scans main.teams; fix: CREATE INDEX \"main\".\"teams_lead_id_idx\" ON \"teams\" (\"lead_id\")\n\
             \n\
             Result: no failing finding, 3 audit findings not chosen by --fail-on (exit status 0)\n",
            db.path()
        )
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn sqlite_orphans_fail_the_run_and_are_listed() {
    let db = shop_with_orphans();
    let run = fk_safe(&["orphans", db.path(), "--sample", "2"], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "fk-safe orphans: sqlite database {}\n\
             \n\
             Orphans: 3 rows in 1 of 3 foreign keys checked\n\
             \x20 main.orders (customer_id) -> main.customers (id): 3 orphans; e.g. (7), (7)\n\
             \n\
             Result: found orphans (exit status 1)\n",
            db.path()
        )
    );
}

#[test]
fn sqlite_json_document_field_by_field() {
    let db = shop_with_orphans();
    let run = fk_safe(&["--json", "doctor", db.path(), "--sample", "2"], None);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["command"], "doctor");
    assert_eq!(doc["backend"], "sqlite");
    assert_eq!(
        doc["status"],
        json!({"exit_status": 1, "failed_on": ["orphans"]})
    );

    let order = &doc["load_order"];
    assert_eq!(order["tables"], 4);
    let main = |t: &str| json!({"schema": "main", "table": t});
    assert_eq!(
        order["levels"],
        json!([
            [main("customers"), main("people"), main("teams")],
            [main("orders")]
        ])
    );
    let cycles = order["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0]["tables"], json!([main("people"), main("teams")]));
    assert_eq!(cycles[0]["self_reference"], false);
    assert_eq!(cycles[0]["breakable"], true);
    let edges = cycles[0]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0]["foreign_key"]["table"], "people");
    assert_eq!(edges[0]["breakable"], Value::Null);
    assert_eq!(edges[0]["null_break"], "impossible");
    assert_eq!(edges[0]["null_columns"], json!([]));
    assert_eq!(edges[0]["can_defer"], Value::Null);
    assert_eq!(edges[1]["foreign_key"]["table"], "teams");
    assert_eq!(edges[1]["breakable"], true);
    assert_eq!(edges[1]["null_break"], "any_of");
    assert_eq!(edges[1]["null_columns"], json!(["lead_id"]));

    let orphans = &doc["orphans"];
    assert_eq!(orphans["clean"], false);
    assert_eq!(orphans["foreign_keys_checked"], 3);
    assert_eq!(orphans["broken"], 1);
    assert_eq!(orphans["total_orphans"], 3);
    let constraints = orphans["constraints"].as_array().unwrap();
    assert_eq!(constraints.len(), 3);
    let orders = constraints
        .iter()
        .find(|c| c["foreign_key"]["table"] == "orders")
        .unwrap();
    assert_eq!(
        orders["foreign_key"],
        json!({
            "name": null,
            "schema": "main",
            "table": "orders",
            "columns": ["customer_id"],
            "nullable": [false],
            "parent_schema": "main",
            "parent_table": "customers",
            "parent_columns": ["id"],
            "on_delete": "NO ACTION",
            "on_update": "NO ACTION",
            "match_type": "SIMPLE",
            "deferrability": null,
            "validated": true
        })
    );
    assert_eq!(orders["clean"], false);
    assert_eq!(orders["orphans"], 3);
    assert_eq!(
        orders["sample"],
        json!([
            {"child_key": ["7"], "missing_parent_key": [{"column": "id", "value": "7"}]},
            {"child_key": ["7"], "missing_parent_key": [{"column": "id", "value": "7"}]}
        ])
    );
    assert_eq!(orders["partial_nulls"], 0);
    assert_eq!(orders["partial_null_sample"], json!([]));
    for other in constraints
        .iter()
        .filter(|c| c["foreign_key"]["table"] != "orders")
    {
        assert_eq!(other["clean"], true);
        assert_eq!(other["orphans"], 0);
    }
}

#[test]
fn each_command_prints_only_its_sections() {
    let db = SqliteFile::new(SHOP);
    let order = fk_safe(&["load-order", db.path(), "--json"], None);
    assert_eq!(order.status, 0, "{}", order.stderr);
    let doc = order.json();
    assert_eq!(doc["command"], "load-order");
    assert!(doc.get("orphans").is_none() && doc.get("load_order").is_some());
    let report = fk_safe(&["orphans", db.path(), "--json"], None);
    assert_eq!(report.status, 0, "{}", report.stderr);
    let doc = report.json();
    assert_eq!(doc["command"], "orphans");
    assert!(doc.get("load_order").is_none());
    assert_eq!(doc["orphans"]["clean"], true);
    assert_eq!(doc["status"], json!({"exit_status": 0, "failed_on": []}));
}

#[test]
fn filters_narrow_the_report_and_one_matching_nothing_is_refused() {
    let db = shop_with_orphans();
    let run = fk_safe(&["--json", "orphans", db.path(), "--table", "people"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["orphans"]["foreign_keys_checked"], 1);
    assert_eq!(
        doc["orphans"]["constraints"][0]["foreign_key"]["table"],
        "people"
    );

    let run = fk_safe(
        &[
            "orphans",
            db.path(),
            "--table",
            "orders",
            "--table",
            "ordres",
        ],
        None,
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("no foreign key matches --table \"ordres\""),
        "{}",
        run.stderr
    );

    let run = fk_safe(&["orphans", db.path(), "--constraint", "orders_fkey"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("keeps no constraint names"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_sqlite_file_is_refused_and_not_created() {
    let db = SqliteFile::new(SHOP);
    let missing = db.in_dir("no such.sqlite3");
    let path = missing.to_str().unwrap();
    for database in [
        path.to_string(),
        format!("sqlite://{path}"),
        format!("file:{}", path.replace(' ', "%20")),
    ] {
        let run = fk_safe(&["doctor", &database], None);
        assert_eq!(run.status, 2, "{database}: {}", run.stdout);
        assert_eq!(run.stdout, "");
        assert!(
            run.stderr.starts_with(&format!(
                "error: no SQLite database at `{path}`: the file does not exist"
            )),
            "{}",
            run.stderr
        );
        assert!(!missing.exists(), "{database} created the file");
    }
    let run = fk_safe(&["doctor", db.dir.to_str().unwrap()], None);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("it is not a file"), "{}", run.stderr);
    let run = fk_safe(&["doctor", ":memory:"], None);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("always empty"), "{}", run.stderr);
}

#[test]
fn sqlite_is_only_read() {
    let db = shop_with_orphans();
    let before = std::fs::read(&db.path).unwrap();
    for command in ["doctor", "load-order", "orphans"] {
        let run = fk_safe(&[command, db.path()], None);
        assert!(run.status <= 1, "{}", run.stderr);
    }
    assert_eq!(std::fs::read(&db.path).unwrap(), before);
    let files: Vec<_> = std::fs::read_dir(&db.dir).unwrap().collect();
    assert_eq!(files.len(), 1, "no journal or WAL left behind");
    // A URI asking to write is refused, not silently made read-only.
    let run = fk_safe(&["doctor", &format!("file:{}?mode=rwc", db.path())], None);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("mode=rwc"), "{}", run.stderr);
}

#[test]
fn usage_and_connection_errors_exit_2_with_their_causes() {
    let run = fk_safe(&["doctor"], None);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        "error: no database: give a postgres:// URL or a SQLite file, or set DATABASE_URL\n"
    );
    let run = fk_safe(&["doctor", "mysql://root@127.0.0.1/test"], None);
    assert_eq!(run.status, 2);
    assert!(run
        .stderr
        .starts_with("error: unsupported database `mysql://..`"));
    let run = fk_safe(&["doctor", "postgres://nobody:s3cret@127.0.0.1:1/x"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.starts_with(
            "error: could not connect to postgres://nobody:***@127.0.0.1:1/x\n  caused by: "
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cret"));
    let run = fk_safe(&["doctor", "--no-such-flag"], None);
    assert_eq!(run.status, 2);
    let run = fk_safe(&["orphans", "x.db", "--sample", "many"], None);
    assert_eq!(run.status, 2);
    let run = fk_safe(&["--help"], None);
    assert_eq!(run.status, 0);
    assert!(run.stdout.contains("Exit status: 0 clean"));
}

#[test]
fn database_url_is_the_default_database() {
    let db = shop_with_orphans();
    let run = fk_safe(&["orphans"], Some(db.path()));
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stdout.contains("3 orphans"));
    // The argument wins over the variable.
    let clean = SqliteFile::new(SHOP);
    let run = fk_safe(&["orphans", clean.path()], Some(db.path()));
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn sqlite_hostile_names_are_shown_and_inject_nothing() {
    let parent = "pa rent\"; DROP TABLE canary; --";
    let child = "Kïnd 'tab'\n-- fake line\x1b[31m";
    let parent_column = "ïd \"key\"";
    let child_column = "ref; --\"x";
    let create_parent = format!(
        "CREATE TABLE {} ({} TEXT PRIMARY KEY)",
        q(parent),
        q(parent_column)
    );
    let create_child = format!(
        "CREATE TABLE {} ({} TEXT REFERENCES {} ({}))",
        q(child),
        q(child_column),
        q(parent),
        q(parent_column)
    );
    let fill_parent = format!("INSERT INTO {} VALUES ('a')", q(parent));
    let fill_child = format!("INSERT INTO {} VALUES ('a'), ('b''; --'), (NULL)", q(child));
    let db = SqliteFile::new(&[
        "CREATE TABLE canary (id INTEGER PRIMARY KEY)",
        "INSERT INTO canary VALUES (1)",
        &create_parent,
        &create_child,
        &fill_parent,
        &fill_child,
    ]);
    let run = fk_safe(&["doctor", db.path()], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    let shown_child = "\"Kïnd 'tab'\\u{a}-- fake line\\u{1b}[31m\"";
    assert!(
        run.stdout.contains(&format!(
            "  main.{shown_child} ({}) -> main.{} ({}): 1 orphan; e.g. (b'; --)\n",
            ident(child_column),
            ident(parent),
            ident(parent_column)
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('\x1b'));
    assert!(!run.stdout.contains("\n-- fake line"));

    let doc = fk_safe(&["--json", "orphans", db.path()], None).json();
    let constraint = &doc["orphans"]["constraints"][0];
    assert_eq!(constraint["foreign_key"]["table"], child);
    assert_eq!(constraint["foreign_key"]["columns"], json!([child_column]));
    assert_eq!(constraint["foreign_key"]["parent_table"], parent);
    assert_eq!(
        constraint["foreign_key"]["parent_columns"],
        json!([parent_column])
    );
    assert_eq!(
        constraint["sample"],
        json!([{"child_key": ["b'; --"], "missing_parent_key": [{"column": parent_column, "value": "b'; --"}]}])
    );

    let filtered = fk_safe(&["--json", "orphans", db.path(), "--table", child], None);
    assert_eq!(filtered.status, 1, "{}", filtered.stderr);
    assert_eq!(filtered.json()["orphans"]["total_orphans"], 1);

    use diesel::prelude::*;
    let mut conn = diesel::SqliteConnection::establish(db.path()).unwrap();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let canary: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM canary")
        .get_result(&mut conn)
        .expect("canary still there");
    assert_eq!(canary.n, 1);
}

/// Two tables that need each other through NOT NULL, not deferrable keys:
/// no order, NULL or deferral writes them.
const DEADLOCK: &[&str] = &[
    "CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL)",
    "CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a (id))",
    "ALTER TABLE a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b_id) REFERENCES b (id)",
];

#[test]
fn postgres_unbreakable_cycles_fail_when_asked() {
    let db = PgDatabase::new();
    db.run(DEADLOCK);
    let run = fk_safe(&["load-order", &db.url], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "  public.a, public.b: UNBREAKABLE: no order, NULL or deferral writes these rows\n\
             \x20   public.a (b_id) -> public.b (id) [a_b_fkey]: cannot be broken (NOT NULL, NOT DEFERRABLE)\n"
        ),
        "{}",
        run.stdout
    );
    for finding in ["unbreakable-cycles", "cycles"] {
        let run = fk_safe(&["load-order", &db.url, "--fail-on", finding], None);
        assert_eq!(run.status, 1, "{finding}: {}", run.stderr);
        assert!(run
            .stdout
            .ends_with(&format!("Result: found {finding} (exit status 1)\n")));
    }
    let doc = fk_safe(
        &[
            "doctor",
            &db.url,
            "--json",
            "--fail-on",
            "unbreakable-cycles",
        ],
        None,
    );
    assert_eq!(doc.status, 1);
    let doc = doc.json();
    assert_eq!(doc["backend"], "postgresql");
    assert_eq!(
        doc["status"],
        json!({"exit_status": 1, "failed_on": ["unbreakable-cycles"]})
    );
    let cycle = &doc["load_order"]["cycles"][0];
    assert_eq!(cycle["breakable"], false);
    let edge = &cycle["edges"][0];
    assert_eq!(edge["foreign_key"]["name"], "a_b_fkey");
    assert_eq!(edge["foreign_key"]["deferrability"], "NOT DEFERRABLE");
    assert_eq!(edge["can_defer"], false);
    assert_eq!(edge["null_break"], "impossible");
    assert_eq!(doc["orphans"]["clean"], true);
    assert_eq!(doc["orphans"]["foreign_keys_checked"], 2);
}

#[test]
fn postgres_doctor_text_and_json() {
    let db = PgDatabase::new();
    db.run(&[
        "CREATE SCHEMA shop",
        "CREATE TABLE shop.customers (id bigint PRIMARY KEY)",
        "CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint)",
        "INSERT INTO shop.customers VALUES (1)",
        "INSERT INTO shop.orders VALUES (1, 1), (2, 5), (3, NULL)",
        // NOT VALID keeps the orphan already there, as a bulk load with the
        // checks off would.
        "ALTER TABLE shop.orders ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) \
         REFERENCES shop.customers (id) ON DELETE CASCADE DEFERRABLE NOT VALID",
    ]);
    let run = fk_safe(&["doctor", &db.url], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "fk-safe doctor: postgresql database {}\n\
             \n\
             Load order: 2 tables in 2 levels, parents first\n\
             \x20 level 0: shop.customers\n\
             \x20 level 1: shop.orders\n\
             Cycles: none\n\
             \n\
             Orphans: 1 row in 1 of 1 foreign key checked\n\
             \x20 shop.orders (customer_id) -> shop.customers (id) [orders_customer_fkey]: 1 orphan; e.g. (5)\n\
             \n\
             Audit: 2 findings (they fail the run only with --fail-on)\n\
             \x20 unindexed-foreign-key: 1\n\
             \x20   unindexed foreign key orders_customer_fkey shop.orders (customer_id) -> shop.customers (id): no valid b-tree index on shop.orders leads with (customer_id), so each delete or key change in shop.customers scans shop.orders; fix: CREATE INDEX \"orders_customer_id_idx\" ON \"shop\".\"orders\" (\"customer_id\")\n\
             \x20 not-valid-constraint: 1\n\
             \x20   constraint orders_customer_fkey shop.orders (customer_id) -> shop.customers (id) is NOT VALID: rows older than it were never checked; fix: ALTER TABLE \"shop\".\"orders\" VALIDATE CONSTRAINT \"orders_customer_fkey\"\n\
             \n\
             Result: found orphans (exit status 1)\n",
            db.url
        )
    );
    let doc = fk_safe(&["doctor", &db.url, "--json"], None).json();
    assert_eq!(
        doc["orphans"]["constraints"][0]["foreign_key"],
        json!({
            "name": "orders_customer_fkey",
            "schema": "shop",
            "table": "orders",
            "columns": ["customer_id"],
            "nullable": [true],
            "parent_schema": "shop",
            "parent_table": "customers",
            "parent_columns": ["id"],
            "on_delete": "CASCADE",
            "on_update": "NO ACTION",
            "match_type": "SIMPLE",
            "deferrability": "DEFERRABLE INITIALLY IMMEDIATE",
            "validated": false
        })
    );
    assert_eq!(doc["orphans"]["total_orphans"], 1);
    assert_eq!(
        doc["load_order"]["levels"],
        json!([
            [{"schema": "shop", "table": "customers"}],
            [{"schema": "shop", "table": "orders"}]
        ])
    );
    // --constraint by name, and a name that is not there.
    let run = fk_safe(
        &[
            "orphans",
            &db.url,
            "--constraint",
            "orders_customer_fkey",
            "--schema",
            "shop",
        ],
        None,
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    // A schema without tables is refused as a likely typo.
    let run = fk_safe(&["orphans", &db.url, "--schema", "public"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("no table in --schema \"public\""),
        "{}",
        run.stderr
    );
}

#[test]
fn postgres_hostile_names_are_shown_and_inject_nothing() {
    let db = PgDatabase::new();
    let schema = "Ünï \"sch\"; DROP TABLE public.canary; --";
    let parent = "pa rent\"; DELETE FROM public.canary; --";
    let child = "Kïnd 'tab' --";
    let parent_column = "ïd \"key\"";
    let child_column = "ref; --\"x";
    let constraint = "fk \"zü\"; DROP TABLE public.canary --";
    let statements = [
        "CREATE TABLE public.canary (id int PRIMARY KEY)".to_string(),
        "INSERT INTO public.canary VALUES (1)".to_string(),
        format!("CREATE SCHEMA {}", q(schema)),
        format!(
            "CREATE TABLE {}.{} ({} text PRIMARY KEY)",
            q(schema),
            q(parent),
            q(parent_column)
        ),
        format!(
            "CREATE TABLE {}.{} ({} text)",
            q(schema),
            q(child),
            q(child_column)
        ),
        format!("INSERT INTO {}.{} VALUES ('a')", q(schema), q(parent)),
        format!(
            "INSERT INTO {}.{} VALUES ('a'), ('b''); --'), (NULL)",
            q(schema),
            q(child)
        ),
        format!(
            "ALTER TABLE {s}.{c} ADD CONSTRAINT {k} FOREIGN KEY ({cc}) REFERENCES {s}.{p} ({pc}) NOT VALID",
            s = q(schema),
            c = q(child),
            k = q(constraint),
            cc = q(child_column),
            p = q(parent),
            pc = q(parent_column)
        ),
    ];
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    db.run(&statements);

    let run = fk_safe(&["doctor", &db.url], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    let s = ident(schema);
    // Level 0 is wrapped: the parent's name stands on its own line.
    assert!(
        run.stdout.contains(&format!(
            "  level 0: public.canary,\n           {s}.{}\n",
            ident(parent)
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "  {s}.{} ({}) -> {s}.{} ({}) [{}]: 1 orphan; e.g. (b'); --)\n",
            ident(child),
            ident(child_column),
            ident(parent),
            ident(parent_column),
            ident(constraint)
        )),
        "{}",
        run.stdout
    );

    for args in [
        vec!["--json", "orphans", &db.url],
        vec![
            "--json",
            "orphans",
            &db.url,
            "--schema",
            schema,
            "--table",
            child,
            "--constraint",
            constraint,
        ],
    ] {
        let run = fk_safe(&args, None);
        assert_eq!(run.status, 1, "{}", run.stderr);
        let doc = run.json();
        let found = &doc["orphans"]["constraints"][0];
        assert_eq!(
            found["foreign_key"],
            json!({
                "name": constraint,
                "schema": schema,
                "table": child,
                "columns": [child_column],
                "nullable": [true],
                "parent_schema": schema,
                "parent_table": parent,
                "parent_columns": [parent_column],
                "on_delete": "NO ACTION",
                "on_update": "NO ACTION",
                "match_type": "SIMPLE",
                "deferrability": "NOT DEFERRABLE",
                "validated": false
            })
        );
        assert_eq!(
            found["sample"],
            json!([{"child_key": ["b'); --"], "missing_parent_key": [{"column": parent_column, "value": "b'); --"}]}])
        );
    }

    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let canary: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM public.canary")
        .get_result(&mut db.connect())
        .expect("canary still there");
    assert_eq!(canary.n, 1);
}

#[test]
fn postgres_doctor_of_chosen_schemas() {
    let db = PgDatabase::new();
    db.run(&[
        "CREATE SCHEMA shop",
        "CREATE SCHEMA other",
        "CREATE TABLE shop.customers (id bigint PRIMARY KEY)",
        "CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES shop.customers (id))",
        "CREATE TABLE other.settings (name text PRIMARY KEY)",
    ]);
    let doc = fk_safe(&["--json", "doctor", &db.url, "--schema", "shop"], None);
    assert_eq!(doc.status, 0, "{}", doc.stderr);
    let doc = doc.json();
    assert_eq!(doc["load_order"]["tables"], 2);
    assert_eq!(doc["orphans"]["foreign_keys_checked"], 1);
    // A schema with tables and no foreign keys is clean, not an error.
    let run = fk_safe(&["doctor", &db.url, "--schema", "other"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run
        .stdout
        .contains("Orphans: none in 0 foreign keys checked"));
    assert!(
        run.stdout.ends_with("Result: clean (exit status 0)\n"),
        "{}",
        run.stdout
    );
    // With a schema that has foreign keys, only those are checked.
    for command in ["doctor", "orphans"] {
        let run = fk_safe(
            &[
                "--json", command, &db.url, "--schema", "other", "--schema", "shop",
            ],
            None,
        );
        assert_eq!(run.status, 0, "{command}: {}", run.stderr);
        let doc = run.json();
        assert_eq!(doc["orphans"]["foreign_keys_checked"], 1, "{command}");
        assert_eq!(doc["orphans"]["unchecked"], json!([]));
    }
    let run = fk_safe(&["--json", "orphans", &db.url, "--schema", "other"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["orphans"]["foreign_keys_checked"], 0);
    // A table filter there still selects nothing: refused, naming the flag.
    let run = fk_safe(
        &[
            "orphans", &db.url, "--schema", "other", "--table", "settings",
        ],
        None,
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("no foreign key matches --table \"settings\""),
        "{}",
        run.stderr
    );
    for command in ["doctor", "load-order", "orphans"] {
        let run = fk_safe(
            &[command, &db.url, "--schema", "shop", "--schema", "shpo"],
            None,
        );
        assert_eq!(run.status, 2, "{command}");
        assert!(
            run.stderr.contains("no table in --schema \"shpo\""),
            "{}",
            run.stderr
        );
    }
}

/// A table the role may not read: its foreign key is reported as not
/// checked, with the server's reason (not a panic, not a Debug dump), and
/// the run has no complete answer (exit status 2) unless orphans elsewhere
/// fail it anyway (exit status 1).
#[test]
fn postgres_query_errors_exit_2_with_the_cause() {
    let role = common::PgRole::new();
    let db = PgDatabase::new();
    db.run(&[
        "CREATE TABLE customers (id bigint PRIMARY KEY)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id))",
        "CREATE TABLE tags (id bigint PRIMARY KEY)",
        "CREATE TABLE items (id bigint PRIMARY KEY, tag_id bigint)",
        "INSERT INTO items VALUES (1, 7)",
        "ALTER TABLE items ADD CONSTRAINT items_tag_fkey FOREIGN KEY (tag_id) REFERENCES tags (id) NOT VALID",
        &format!("GRANT SELECT ON customers, tags, items TO {}", q(&role.name)),
    ]);
    let url = common::with_user(&db.url, &role.name);
    let run = fk_safe(&["orphans", &url, "--table", "orders"], None);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        format!(
            "fk-safe orphans: postgresql database {url}\n\
             \n\
             Orphans: none in 0 foreign keys checked\n\
             Not checked: 1 foreign key (the database did not let them be checked: no complete answer)\n\
             \x20 public.orders (customer_id) -> public.customers (id) [orders_customer_id_fkey]: \
             permission denied for table orders\n\
             \n\
             Result: incomplete; 1 foreign key not checked (exit status 2)\n"
        )
    );
    assert!(!run.stdout.contains("DatabaseError("), "{}", run.stdout);

    let run = fk_safe(&["--json", "orphans", &url, "--table", "orders"], None);
    assert_eq!(run.status, 2, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["orphans"]["clean"], false);
    assert_eq!(doc["orphans"]["foreign_keys_checked"], 0);
    let unchecked = &doc["orphans"]["unchecked"];
    assert_eq!(unchecked.as_array().unwrap().len(), 1, "{unchecked}");
    assert_eq!(
        unchecked[0]["foreign_key"]["name"],
        "orders_customer_id_fkey"
    );
    assert_eq!(unchecked[0]["reason"], "permission denied for table orders");
    assert_eq!(doc["status"], json!({"exit_status": 2, "failed_on": []}));

    // Orphans found elsewhere are a certain failure: 1, with the unchecked
    // key still listed.
    let run = fk_safe(&["doctor", &url], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(run
        .stdout
        .contains("Orphans: 1 row in 1 of 1 foreign key checked\n"));
    assert!(run.stdout.contains("Not checked: 1 foreign key"));
    assert!(run
        .stdout
        .contains("Result: found orphans; 1 foreign key not checked (exit status 1)\n"));
    let doc = fk_safe(&["--json", "orphans", &url], None).json();
    assert_eq!(doc["orphans"]["unchecked"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["status"],
        json!({"exit_status": 1, "failed_on": ["orphans"]})
    );
}

/// A SQLite parent key without a unique index cannot be checked exactly:
/// not checked, exit status 2, and the audit names it dangling.
#[test]
fn sqlite_a_key_that_cannot_be_checked_gives_no_complete_answer() {
    let db = SqliteFile::new(&[
        "CREATE TABLE parents (code TEXT)",
        "CREATE TABLE children (id INTEGER PRIMARY KEY, code TEXT REFERENCES parents (code))",
        "INSERT INTO children VALUES (1, 'x')",
    ]);
    let run = fk_safe(&["doctor", db.path()], None);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "Not checked: 1 foreign key (the database did not let them be checked: no complete answer)\n\
             \x20 main.children (code) -> main.parents (code): foreign key mismatch - \"children\" referencing \"parents\"\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  dangling-foreign-key: 1\n"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .ends_with("Result: incomplete; 1 foreign key not checked (exit status 2)\n"));
    let doc = fk_safe(&["--json", "doctor", db.path()], None).json();
    assert_eq!(doc["orphans"]["clean"], false);
    assert_eq!(
        doc["orphans"]["unchecked"][0]["foreign_key"]["table"],
        "children"
    );
    assert!(doc["orphans"]["unchecked"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("foreign key mismatch"));
    assert_eq!(doc["status"]["exit_status"], 2);
    // A --fail-on finding is a certain failure, whatever was not checked.
    let run = fk_safe(
        &["doctor", db.path(), "--fail-on", "dangling-foreign-key"],
        None,
    );
    assert_eq!(run.status, 1, "{}", run.stdout);
}

/// `audit` on SQLite: findings grouped by kind, exit status 0 unless
/// --fail-on names their kind.
#[test]
fn sqlite_audit_reports_findings_and_fails_only_when_asked() {
    let mut statements = SHOP.to_vec();
    // Indexed: no finding for this key.
    statements.push("CREATE INDEX people_team_idx ON people (team_id)");
    statements.push("CREATE TABLE notes (id INTEGER PRIMARY KEY, customer_id INTEGER)");
    let db = SqliteFile::new(&statements);
    let run = fk_safe(&["audit", db.path()], None);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "fk-safe audit: sqlite database {}\n\
             \n\
             Audit: 3 findings (they fail the run only with --fail-on)\n\
             \x20 unindexed-foreign-key: 2\n\
             \x20   unindexed foreign key main.orders (customer_id) -> main.customers (id): no valid b-tree index on main.orders leads with (customer_id), so each delete or key change in main.customers scans main.orders; fix: CREATE INDEX \"main\".\"orders_customer_id_idx\" ON \"orders\" (\"customer_id\")\n\
             \x20   unindexed foreign key main.teams (lead_id) -> main.people (id): no valid b-tree index on main.teams leads with (lead_id), so each delete or key change in main.people scans main.teams; fix: CREATE INDEX \"main\".\"teams_lead_id_idx\" ON \"teams\" (\"lead_id\")\n\
             \x20 unconstrained-reference: 1\n\
             \x20   main.notes.customer_id looks like a reference (to main.customers?) but no foreign key covers it\n\
             \n\
             Result: no failing finding, 3 audit findings not chosen by --fail-on (exit status 0)\n",
            db.path()
        )
    );
    assert_eq!(run.stderr, "");

    let run = fk_safe(&["--json", "audit", db.path()], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["command"], "audit");
    assert!(doc.get("orphans").is_none() && doc.get("load_order").is_none());
    let findings = doc["audit"]["findings"].as_array().unwrap();
    let kinds: Vec<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "unindexed-foreign-key",
            "unindexed-foreign-key",
            "unconstrained-reference"
        ]
    );
    assert_eq!(findings[0]["schema"], "main");
    assert_eq!(findings[0]["table"], "orders");
    assert!(
        findings[0].get("constraint").is_none(),
        "SQLite keeps no names"
    );
    assert_eq!(findings[0]["foreign_key"]["parent_table"], "customers");
    assert!(findings[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("unindexed foreign key main.orders (customer_id)"));
    assert_eq!(
        findings[2],
        json!({
            "kind": "unconstrained-reference",
            "message": "main.notes.customer_id looks like a reference (to main.customers?) but no foreign key covers it",
            "schema": "main",
            "table": "notes",
            "column": "customer_id"
        })
    );
    assert_eq!(doc["status"], json!({"exit_status": 0, "failed_on": []}));

    let run = fk_safe(
        &[
            "--json",
            "audit",
            db.path(),
            "--fail-on",
            "unindexed-foreign-key",
        ],
        None,
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(
        run.json()["status"],
        json!({"exit_status": 1, "failed_on": ["unindexed-foreign-key"]})
    );
    let run = fk_safe(
        &["audit", db.path(), "--fail-on", "not-valid-constraint"],
        None,
    );
    assert_eq!(run.status, 0, "not found, so not failing: {}", run.stdout);
    let run = fk_safe(&["audit", db.path(), "--fail-on", "any-finding"], None);
    assert_eq!(run.status, 1);
    assert!(run
        .stdout
        .ends_with("Result: found any-finding (exit status 1)\n"));
    // doctor: the same section after the orphans, and the same --fail-on.
    let run = fk_safe(
        &["doctor", db.path(), "--fail-on", "unindexed-foreign-key"],
        None,
    );
    assert_eq!(run.status, 1);
    let audit_at = run
        .stdout
        .find("\nAudit: 3 findings")
        .expect("an audit section");
    assert!(run.stdout.find("\nOrphans: none").unwrap() < audit_at);
    assert!(run
        .stdout
        .ends_with("Result: found unindexed-foreign-key (exit status 1)\n"));
}

#[test]
fn unknown_or_unhonourable_fail_on_is_a_usage_error() {
    let db = SqliteFile::new(SHOP);
    for command in ["doctor", "audit", "load-order"] {
        let run = fk_safe(
            &[command, db.path(), "--fail-on", "unindexed-foreign-keys"],
            None,
        );
        assert_eq!(run.status, 2, "{command}");
        assert_eq!(run.stdout, "");
        for valid in fk_safe::integrity::audit::Finding::KINDS.iter().chain(&[
            "orphans",
            "cycles",
            "unbreakable-cycles",
            "any-finding",
        ]) {
            assert!(run.stderr.contains(valid), "{valid}: {}", run.stderr);
        }
    }
    let run = fk_safe(
        &[
            "load-order",
            db.path(),
            "--fail-on",
            "unindexed-foreign-key",
        ],
        None,
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains(
            "load-order does not look for unindexed-foreign-key, so --fail-on \
             unindexed-foreign-key cannot be honoured"
        ),
        "{}",
        run.stderr
    );
    for finding in ["orphans", "cycles"] {
        let run = fk_safe(&["audit", db.path(), "--fail-on", finding], None);
        assert_eq!(run.status, 2);
        assert!(run.stderr.contains("cannot be honoured"), "{}", run.stderr);
    }
    // The command has no models to compare: their kinds could never fail.
    let run = fk_safe(
        &[
            "doctor",
            db.path(),
            "--fail-on",
            "model-relation-without-constraint",
        ],
        None,
    );
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("compares no models"), "{}", run.stderr);
    let run = fk_safe(&["audit", db.path(), "--schema", "other"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("there is no schema other"),
        "{}",
        run.stderr
    );
}

/// On PostgreSQL: structured fields, NOT VALID, --schema, and audit
/// findings failing a doctor run together with its orphans.
#[test]
fn postgres_audit_in_text_and_json() {
    let db = PgDatabase::new();
    db.run(&[
        "CREATE SCHEMA shop",
        "CREATE SCHEMA other",
        "CREATE TABLE shop.customers (id bigint PRIMARY KEY)",
        "CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint)",
        "INSERT INTO shop.orders VALUES (1, 5)",
        "ALTER TABLE shop.orders ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) \
         REFERENCES shop.customers (id) NOT VALID",
        "CREATE TABLE other.parents (id bigint PRIMARY KEY)",
        "CREATE TABLE other.children (id bigint PRIMARY KEY, parent_id bigint REFERENCES other.parents (id))",
    ]);
    let run = fk_safe(&["--json", "audit", &db.url, "--schema", "shop"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let findings = run.json()["audit"]["findings"].clone();
    let kinds: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unindexed-foreign-key", "not-valid-constraint"]);
    for finding in findings.as_array().unwrap() {
        assert_eq!(finding["schema"], "shop");
        assert_eq!(finding["table"], "orders");
        assert_eq!(finding["constraint"], "orders_customer_fkey");
        assert_eq!(finding["foreign_key"]["validated"], false);
    }
    let run = fk_safe(&["audit", &db.url], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("  unindexed-foreign-key: 2\n"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("unindexed foreign key children_parent_id_fkey other.children"));

    let run = fk_safe(
        &[
            "--json",
            "doctor",
            &db.url,
            "--fail-on",
            "not-valid-constraint",
            "--fail-on",
            "type-mismatch",
        ],
        None,
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["audit"]["findings"].as_array().unwrap().len(), 3);
    assert_eq!(
        doc["status"],
        json!({"exit_status": 1, "failed_on": ["orphans", "not-valid-constraint"]})
    );
    // An index on the key ends its finding.
    db.run(&["CREATE INDEX ON shop.orders (customer_id)"]);
    let run = fk_safe(
        &[
            "audit",
            &db.url,
            "--schema",
            "shop",
            "--fail-on",
            "unindexed-foreign-key",
        ],
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert!(
        !run.stdout.contains("unindexed-foreign-key"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  not-valid-constraint: 1\n"),
        "{}",
        run.stdout
    );
    let run = fk_safe(&["audit", &db.url, "--schema", "shpo"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("there is no schema shpo"),
        "{}",
        run.stderr
    );
}

#[test]
fn postgres_match_full_partly_null_keys_fail_the_run() {
    let db = PgDatabase::new();
    db.run(&[
        "CREATE TABLE sites (region text, code text, PRIMARY KEY (region, code))",
        "CREATE TABLE visits (id int PRIMARY KEY, region text, code text)",
        "INSERT INTO sites VALUES ('eu', 'ber')",
        "INSERT INTO visits VALUES (1, 'eu', 'ber'), (2, 'eu', NULL), (3, NULL, NULL)",
        "ALTER TABLE visits ADD CONSTRAINT visits_site_fkey FOREIGN KEY (region, code) \
         REFERENCES sites (region, code) MATCH FULL NOT VALID",
    ]);
    let run = fk_safe(&["orphans", &db.url], None);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "Orphans: 0 rows and 1 partly NULL key (MATCH FULL) in 1 of 1 foreign key checked\n\
             \x20 public.visits (region, code) -> public.sites (region, code) [visits_site_fkey]: \
             0 orphans; 1 partly NULL key (refused by MATCH FULL); e.g. (eu, NULL)\n"
        ),
        "{}",
        run.stdout
    );
    let doc = fk_safe(&["--json", "orphans", &db.url], None).json();
    let visits = &doc["orphans"]["constraints"][0];
    assert_eq!(visits["foreign_key"]["match_type"], "FULL");
    assert_eq!(visits["partial_nulls"], 1);
    assert_eq!(visits["partial_null_sample"], json!([["eu", null]]));
    assert_eq!(doc["status"]["failed_on"], json!(["orphans"]));
}

#[test]
fn a_finding_a_command_does_not_look_for_is_refused() {
    let db = SqliteFile::new(SHOP);
    let run = fk_safe(&["load-order", db.path(), "--fail-on", "orphans"], None);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("--fail-on orphans cannot be honoured"),
        "{}",
        run.stderr
    );
}
