//! Every way a key can be produced, against the promise of id pairing: a
//! graph either pairs every generated key with the right row (checked here
//! through what each row says it is: a post's title, a comment's body), or
//! it writes that table one row per statement, or it refuses with a typed
//! error. Never a child under the wrong parent.
//!
//! The graph is a blog: one author, 20 posts, one comment per post, the
//! comment linked to its post and to the author.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::Text;
use fk_safe::graph::{insert_graph, Graph, Handle, WriteRow};
use fk_safe::{FkConnection, FkOrdered};

diesel::table! { authors (id) { id -> BigInt, name -> Text } }
diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }
diesel::table! { comments (id) { id -> BigInt, post_id -> BigInt, author_id -> BigInt, body -> Text } }
diesel::allow_tables_to_appear_in_same_query!(authors, posts, comments);

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

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = authors)]
struct NewAuthor {
    name: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = author_id))]
struct NewPost {
    author_id: i64,
    title: String,
}

/// The same posts, told apart by their title (a natural key): the pairing
/// is checked against it after each multi-row statement.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = posts)]
#[diesel(belongs_to(Author, foreign_key = author_id))]
#[fk(natural_key(title))]
struct NewTitledPost {
    author_id: i64,
    title: String,
}

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = comments)]
#[diesel(belongs_to(Post, foreign_key = post_id))]
#[diesel(belongs_to(Author, foreign_key = author_id))]
struct NewComment {
    post_id: i64,
    author_id: i64,
    body: String,
}

const POSTS: usize = 20;

/// Counts the statements that insert into `posts`.
#[derive(Clone, Default)]
struct PostInserts(Arc<AtomicUsize>);

impl Instrumentation for PostInserts {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let sql = query.to_string();
            // PostgreSQL quotes with double quotes, SQLite with backticks.
            if sql.starts_with("INSERT INTO \"posts\"") || sql.starts_with("INSERT INTO `posts`") {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CommentOn {
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    author: String,
}

#[derive(QueryableByName)]
struct TitleRow {
    #[diesel(sql_type = Text)]
    title: String,
}

/// How a table's posts were written.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    /// In statements of several rows (this many).
    Batched(usize),
    /// One row per statement.
    RowByRow,
}

/// Writes the blog graph with posts of model `P` and checks every pairing
/// through the rows' own words; how the posts were written, or the error.
fn write_blog<C, P>(conn: &mut C, post: fn(String) -> P) -> Result<Written, fk_safe::Error>
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewAuthor: WriteRow<C::Backend>,
    P: WriteRow<C::Backend> + FkOrdered<Key = i64, Table = posts::table>,
    P: fk_safe::graph::References<authors::table, 0>,
    NewComment: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, CommentOn> + LoadQuery<'a, C, TitleRow>,
{
    let mut graph = Graph::new();
    let author = graph.add(NewAuthor { name: "ada".into() }).handle();
    let mut posts: Vec<(Handle<P>, String)> = Vec::new();
    let mut comments = Vec::new();
    for i in 0..POSTS {
        let title = format!("post {i}");
        let handle = graph.add(post(title.clone())).parent(author).handle();
        let comment = graph
            .add(NewComment {
                post_id: 0,
                author_id: 0,
                body: format!("comment on {title}"),
            })
            .parent_via(NewComment::POST_ID, handle)
            .parent_via(NewComment::AUTHOR_ID, author)
            .handle();
        posts.push((handle, title));
        comments.push(comment);
    }
    let inserts = PostInserts::default();
    conn.set_instrumentation(inserts.clone());
    let ids = insert_graph(conn, &graph)?;
    conn.set_instrumentation(diesel::connection::get_default_instrumentation());

    let mut found: Vec<CommentOn> = diesel::sql_query(
        "SELECT c.body AS body, p.title AS title, a.name AS author FROM comments c \
         JOIN posts p ON p.id = c.post_id JOIN authors a ON a.id = c.author_id AND a.id = p.author_id",
    )
    .load(conn)
    .unwrap();
    found.sort();
    let mut expected: Vec<CommentOn> = posts
        .iter()
        .map(|(_, title)| CommentOn {
            body: format!("comment on {title}"),
            title: title.clone(),
            author: "ada".into(),
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected, "every comment under its own post");
    for (handle, title) in &posts {
        let stored: Vec<TitleRow> = diesel::sql_query(format!(
            "SELECT title FROM posts WHERE id = {}",
            ids[*handle]
        ))
        .load(conn)
        .unwrap();
        assert_eq!(
            stored.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(),
            [title.as_str()],
            "ids[post] names that post"
        );
    }
    Ok(match inserts.0.load(Ordering::SeqCst) {
        n if n == POSTS => Written::RowByRow,
        n => Written::Batched(n),
    })
}

fn untitled(title: String) -> NewPost {
    NewPost {
        author_id: 0,
        title,
    }
}

fn titled(title: String) -> NewTitledPost {
    NewTitledPost {
        author_id: 0,
        title,
    }
}

/// The same blog with titled posts and no surprises: the check after
/// the statement agrees, and the posts are still batched.
fn titled_posts_are_checked_and_batched<C>(conn: &mut C, schema: &[&str])
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewAuthor: WriteRow<C::Backend>,
    NewTitledPost: WriteRow<C::Backend>,
    NewComment: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, CommentOn> + LoadQuery<'a, C, TitleRow>,
{
    for statement in schema {
        conn.batch_execute(statement).unwrap();
    }
    assert_eq!(write_blog(conn, titled).unwrap(), Written::Batched(1));
}

common::on_both_backends! {
    titled_posts_are_checked_and_batched => {
        postgres: (&[BLOG]),
        sqlite: (&[&blog(POSTS_TABLE), "CREATE UNIQUE INDEX posts_title ON posts (title)"]),
    },
}

#[cfg(feature = "postgres")]
const BLOG: &str = "CREATE TABLE authors (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL); \
     CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id), title TEXT NOT NULL); \
     CREATE TABLE comments (id BIGSERIAL PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id), \
                            author_id BIGINT NOT NULL REFERENCES authors (id), body TEXT NOT NULL);";

/// The blog, then `change` to it; the posts as they were written.
#[cfg(feature = "postgres")]
fn blog_after(conn: &mut PgConnection, change: &str) -> Written {
    conn.batch_execute(BLOG).unwrap();
    if !change.is_empty() {
        conn.batch_execute(change).unwrap();
    }
    write_blog(conn, untitled).unwrap()
}

#[cfg(feature = "postgres")]
fn a_plain_bigserial_is_batched(conn: &mut PgConnection) {
    assert_eq!(blog_after(conn, ""), Written::Batched(1));
}

#[cfg(feature = "postgres")]
fn an_identity_column_is_batched(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER TABLE comments DROP CONSTRAINT comments_post_id_fkey; DROP TABLE posts; \
         CREATE TABLE posts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
                             author_id BIGINT NOT NULL REFERENCES authors (id), title TEXT NOT NULL); \
         ALTER TABLE comments ADD FOREIGN KEY (post_id) REFERENCES posts (id);",
    );
    assert_eq!(written, Written::Batched(1));
}

/// The case: the column still owns posts_id_seq, but its
/// default is something else.
#[cfg(feature = "postgres")]
fn a_random_default_while_the_sequence_stays_owned(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER TABLE posts ALTER COLUMN id SET DEFAULT (floor(random() * 1e12))::bigint;",
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn a_default_from_a_descending_sequence(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE SEQUENCE posts_down INCREMENT -1 START 1000000 MAXVALUE 1000000; \
         ALTER TABLE posts ALTER COLUMN id SET DEFAULT nextval('posts_down');",
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn the_owned_sequence_inside_an_expression(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER TABLE posts ALTER COLUMN id SET DEFAULT 1000000000 - nextval('posts_id_seq');",
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn a_default_from_another_ascending_sequence_is_batched(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE SEQUENCE \"posts' other seq\" START 500; \
         ALTER TABLE posts ALTER COLUMN id SET DEFAULT nextval('\"posts'' other seq\"');",
    );
    assert_eq!(written, Written::Batched(1));
}

#[cfg(feature = "postgres")]
fn a_cycling_sequence(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER SEQUENCE posts_id_seq MAXVALUE 100 START 95 RESTART 95 CYCLE;",
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn a_trigger_that_replaces_the_key(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE SEQUENCE a_descending_seq INCREMENT -1 START 1000000 MAXVALUE 1000000; \
         CREATE FUNCTION renumber() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN NEW.id := nextval('a_descending_seq'); RETURN NEW; END $$; \
         CREATE TRIGGER renumber BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION renumber();",
    );
    assert_eq!(written, Written::RowByRow);
}

/// Disabled triggers count: session_replication_role can bring them back.
#[cfg(feature = "postgres")]
fn a_disabled_trigger(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; \
         CREATE TRIGGER keep BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION keep(); \
         ALTER TABLE posts DISABLE TRIGGER keep;",
    );
    assert_eq!(written, Written::RowByRow);
}

/// An AFTER trigger cannot change the row RETURNING reports.
#[cfg(feature = "postgres")]
fn an_after_trigger_is_batched(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE TABLE post_log (title TEXT); \
         CREATE FUNCTION log_post() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN INSERT INTO post_log VALUES (NEW.title); RETURN NULL; END $$; \
         CREATE TRIGGER log_post AFTER INSERT ON posts FOR EACH ROW EXECUTE FUNCTION log_post();",
    );
    assert_eq!(written, Written::Batched(1));
}

#[cfg(feature = "postgres")]
fn an_insert_rule(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE TABLE post_log (title TEXT); \
         CREATE RULE log_post AS ON INSERT TO posts DO ALSO INSERT INTO post_log VALUES (NEW.title);",
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn a_check_constraint_calling_a_function_of_the_users(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE FUNCTION plausible(t TEXT) RETURNS boolean LANGUAGE sql AS $$ SELECT t <> '' $$; \
         ALTER TABLE posts ADD CHECK (plausible(title));",
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn a_default_of_another_column_calling_a_function_of_the_users(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE FUNCTION stamp() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$; \
         ALTER TABLE posts ADD COLUMN stamp TEXT DEFAULT stamp();",
    );
    assert_eq!(written, Written::RowByRow);
}

/// A statement trigger that runs before the insert can alter the
/// sequence the keys come from.
#[cfg(feature = "postgres")]
fn a_statement_trigger_altering_the_sequence(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE FUNCTION flip() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN ALTER SEQUENCE posts_id_seq INCREMENT BY -1 MINVALUE -1000000; RETURN NULL; END $$; \
         CREATE TRIGGER flip BEFORE INSERT ON posts FOR EACH STATEMENT EXECUTE FUNCTION flip();",
    );
    assert_eq!(written, Written::RowByRow);
}

/// The default of a domain another column is made of runs for each row.
#[cfg(feature = "postgres")]
fn a_domain_default_calling_a_function_of_the_users(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE FUNCTION stamp() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$; \
         CREATE DOMAIN stamped AS bigint DEFAULT stamp(); \
         ALTER TABLE posts ADD COLUMN stamp stamped;",
    );
    assert_eq!(written, Written::RowByRow);
}

/// A domain over a domain whose CHECK calls a function of the user's.
#[cfg(feature = "postgres")]
fn a_nested_domain_check(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "CREATE FUNCTION plausible(t TEXT) RETURNS boolean LANGUAGE sql AS $$ SELECT t <> '' $$; \
         CREATE DOMAIN plausible_text AS text CHECK (plausible(VALUE)); \
         CREATE DOMAIN title_text AS plausible_text; \
         ALTER TABLE posts ALTER COLUMN title TYPE title_text;",
    );
    assert_eq!(written, Written::RowByRow);
}

/// A built-in that runs SQL text can run setval() on the sequence.
#[cfg(feature = "postgres")]
fn a_default_running_sql_text(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER TABLE posts ADD COLUMN echo xml DEFAULT query_to_xml('SELECT 1', false, false, '');",
    );
    assert_eq!(written, Written::RowByRow);
}

/// Built-ins that leave sequences alone keep the batch: a CHECK with a
/// regular expression, a UUID and a timestamp default.
#[cfg(feature = "postgres")]
fn harmless_built_ins_are_batched(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER TABLE posts ADD CHECK (title ~ '^post'); \
         ALTER TABLE posts ADD COLUMN public_id uuid DEFAULT gen_random_uuid(); \
         ALTER TABLE posts ADD COLUMN created timestamptz DEFAULT clock_timestamp();",
    );
    assert_eq!(written, Written::Batched(1));
}

/// A view decides its keys itself (here through an INSTEAD OF trigger).
#[cfg(feature = "postgres")]
fn a_view(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        "ALTER TABLE posts RENAME TO posts_base; \
         CREATE VIEW posts AS SELECT * FROM posts_base; \
         CREATE FUNCTION through() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN INSERT INTO posts_base (author_id, title) VALUES (NEW.author_id, NEW.title) \
                    RETURNING id INTO NEW.id; RETURN NEW; END $$; \
         CREATE TRIGGER through INSTEAD OF INSERT ON posts FOR EACH ROW EXECUTE FUNCTION through(); \
         ALTER TABLE comments DROP CONSTRAINT comments_post_id_fkey; \
         ALTER TABLE comments ADD FOREIGN KEY (post_id) REFERENCES posts_base (id);",
    );
    assert_eq!(written, Written::RowByRow);
}

/// Posts in two partitions by key.
#[cfg(feature = "postgres")]
const PARTITIONED_POSTS: &str =
    "ALTER TABLE comments DROP CONSTRAINT comments_post_id_fkey; DROP TABLE posts; \
     CREATE TABLE posts (id BIGSERIAL, author_id BIGINT NOT NULL REFERENCES authors (id), \
                         title TEXT NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id); \
     CREATE TABLE posts_low PARTITION OF posts FOR VALUES FROM (MINVALUE) TO (10); \
     CREATE TABLE posts_high PARTITION OF posts FOR VALUES FROM (10) TO (MAXVALUE); \
     ALTER TABLE comments ADD FOREIGN KEY (post_id) REFERENCES posts (id);";

/// A trigger on one partition only still replaces keys of the table.
#[cfg(feature = "postgres")]
fn a_trigger_on_one_partition(conn: &mut PgConnection) {
    let written = blog_after(
        conn,
        &format!(
            "{PARTITIONED_POSTS} \
         CREATE SEQUENCE far INCREMENT -1 START 1000000 MAXVALUE 1000000; \
         CREATE FUNCTION far() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN NEW.id := nextval('far'); RETURN NEW; END $$; \
         CREATE TRIGGER far BEFORE INSERT ON posts_high FOR EACH ROW EXECUTE FUNCTION far();"
        ),
    );
    assert_eq!(written, Written::RowByRow);
}

#[cfg(feature = "postgres")]
fn a_partitioned_table_is_batched(conn: &mut PgConnection) {
    let written = blog_after(conn, PARTITIONED_POSTS);
    assert_eq!(written, Written::Batched(1));
}

/// Another session draws from the same sequence all the while: the
/// keys still grow in row order.
#[cfg(feature = "postgres")]
fn another_session_drawing_from_the_same_sequence(db: &common::pg::PgDb) {
    let mut conn = db.conn();
    conn.batch_execute(BLOG).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = db.url();
    let drawer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut other = PgConnection::establish(&url).unwrap();
            let mut drawn = 0;
            // Bounded: the insert below takes far fewer draws than this.
            while !stop.load(Ordering::SeqCst) && drawn < 200_000 {
                other
                    .batch_execute("SELECT nextval('posts_id_seq')")
                    .unwrap();
                drawn += 1;
            }
            drawn
        })
    };
    for _ in 0..10 {
        conn.batch_execute("DELETE FROM comments; DELETE FROM posts; DELETE FROM authors")
            .unwrap();
        assert_eq!(
            write_blog(&mut conn, untitled).unwrap(),
            Written::Batched(1)
        );
    }
    stop.store(true, Ordering::SeqCst);
    assert!(drawer.join().unwrap() > 0);
}

/// Defence in depth: another session moves the sequence back in the
/// middle of the statement (held there by an advisory lock a CHECK
/// constraint waits for), which no catalog can show. Posts told apart
/// by their title are looked up after the statement: the mismatch
/// aborts everything instead of committing comments under other posts.
#[cfg(feature = "postgres")]
fn a_sequence_moved_back_by_another_session_mid_statement(db: &common::pg::PgDb) {
    let mut conn = db.conn();
    conn.batch_execute(BLOG).unwrap();
    conn.batch_execute(
        "ALTER SEQUENCE posts_id_seq RESTART 1000; \
         ALTER TABLE posts ADD CONSTRAINT posts_title_key UNIQUE (title); \
         ALTER TABLE posts ADD CHECK (title <> 'post 10' OR pg_advisory_lock_shared(4242)::text = '');",
    )
    .unwrap();
    let url = db.url();
    let mut other = PgConnection::establish(&url).unwrap();
    other
        .batch_execute("SELECT pg_advisory_lock(4242)")
        .unwrap();
    let mover = std::thread::spawn(move || {
        #[derive(QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        // Wait (bounded) until the insert is stuck on row "post 10".
        for _ in 0..500 {
            let waiting: Vec<Waiting> = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            )
            .load(&mut other)
            .unwrap();
            if waiting[0].n > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        other
            .batch_execute("SELECT setval('posts_id_seq', 100)")
            .unwrap();
        other
            .batch_execute("SELECT pg_advisory_unlock(4242)")
            .unwrap();
    });
    let result = write_blog(&mut conn, titled);
    mover.join().unwrap();
    match result {
        Err(fk_safe::Error::Graph(fk_safe::GraphError::PairingMismatch { model, .. })) => {
            assert!(model.contains("NewTitledPost"));
        }
        other => panic!("expected PairingMismatch, got {other:?}"),
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Vec<Count> = diesel::sql_query("SELECT count(*) AS n FROM posts")
        .load(&mut conn)
        .unwrap();
    assert_eq!(left[0].n, 0, "nothing was written");
}

/// A client-chosen key that a trigger replaces: children would point
/// at the key the row brought, so the graph is refused.
#[cfg(feature = "postgres")]
fn a_given_key_replaced_by_a_trigger(conn: &mut PgConnection) {
    diesel::table! { tags (code) { code -> Text, label -> Text } }
    #[derive(Insertable, FkOrdered)]
    #[diesel(table_name = tags, primary_key(code))]
    struct NewTag {
        code: String,
        label: String,
    }
    conn.batch_execute(
        "CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT NOT NULL); \
         CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN NEW.code := upper(NEW.code); RETURN NEW; END $$; \
         CREATE TRIGGER shout BEFORE INSERT ON tags FOR EACH ROW EXECUTE FUNCTION shout();",
    )
    .unwrap();
    let mut graph = Graph::new();
    graph.add(NewTag {
        code: "RUST".into(),
        label: "kept".into(),
    });
    graph.add(NewTag {
        code: "sql".into(),
        label: "replaced".into(),
    });
    match insert_graph(conn, &graph) {
        Err(fk_safe::Error::Graph(fk_safe::GraphError::KeyReplaced { given, stored, .. })) => {
            assert_eq!((given.as_str(), stored.as_str()), ("sql", "SQL"));
        }
        other => panic!("expected KeyReplaced, got {other:?}"),
    }
}

/// A role that may insert into some columns only cannot lock the
/// table, so the answer could change before the INSERT: row by row.
#[cfg(feature = "postgres")]
fn a_role_with_column_privileges_only(db: &common::pg::PgDb) {
    let mut conn = db.conn();
    conn.batch_execute(BLOG).unwrap();
    let role = common::unique_name("fk_safe_columns");
    let schema = &db.schema;
    conn.batch_execute(&format!(
        "CREATE ROLE {role}; \
         GRANT USAGE ON SCHEMA {schema} TO {role}; \
         GRANT SELECT, INSERT ON authors, comments TO {role}; \
         GRANT SELECT, INSERT (author_id, title) ON posts TO {role}; \
         GRANT SELECT (id) ON posts TO {role}; \
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}; \
         SET ROLE {role};"
    ))
    .unwrap();
    let written = write_blog(&mut conn, untitled);
    conn.batch_execute(&format!(
        "RESET ROLE; DROP OWNED BY {role}; DROP ROLE {role};"
    ))
    .unwrap();
    assert_eq!(written.unwrap(), Written::RowByRow);
}

common::on_postgres! {
    a_plain_bigserial_is_batched,
    an_identity_column_is_batched,
    a_random_default_while_the_sequence_stays_owned,
    a_default_from_a_descending_sequence,
    the_owned_sequence_inside_an_expression,
    a_default_from_another_ascending_sequence_is_batched,
    a_cycling_sequence,
    a_trigger_that_replaces_the_key,
    a_disabled_trigger,
    an_after_trigger_is_batched,
    an_insert_rule,
    a_check_constraint_calling_a_function_of_the_users,
    a_default_of_another_column_calling_a_function_of_the_users,
    a_statement_trigger_altering_the_sequence,
    a_domain_default_calling_a_function_of_the_users,
    a_nested_domain_check,
    a_default_running_sql_text,
    harmless_built_ins_are_batched,
    a_view,
    a_trigger_on_one_partition,
    a_partitioned_table_is_batched,
    another_session_drawing_from_the_same_sequence with db,
    a_sequence_moved_back_by_another_session_mid_statement with db,
    a_given_key_replaced_by_a_trigger,
    a_role_with_column_privileges_only with db,
}

#[cfg(feature = "sqlite")]
fn blog(posts: &str) -> String {
    format!(
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL); \
         {posts}; \
         CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id BIGINT NOT NULL REFERENCES posts (id), \
                                author_id BIGINT NOT NULL REFERENCES authors (id), body TEXT NOT NULL);"
    )
}

#[cfg(feature = "sqlite")]
const POSTS_TABLE: &str = "CREATE TABLE posts (id INTEGER PRIMARY KEY, \
     author_id BIGINT NOT NULL REFERENCES authors (id), title TEXT NOT NULL)";

#[cfg(feature = "sqlite")]
fn blog_with(conn: &mut SqliteConnection, ddl: &str) -> Result<Written, fk_safe::Error> {
    conn.batch_execute(ddl).unwrap();
    write_blog(conn, untitled)
}

#[cfg(feature = "sqlite")]
fn rowids_are_batched(conn: &mut SqliteConnection) {
    assert_eq!(
        blog_with(conn, &blog(POSTS_TABLE)).unwrap(),
        Written::Batched(1)
    );
}

#[cfg(feature = "sqlite")]
fn autoincrement_is_batched(conn: &mut SqliteConnection) {
    let ddl = blog(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, \
         author_id BIGINT NOT NULL REFERENCES authors (id), title TEXT NOT NULL)",
    );
    assert_eq!(blog_with(conn, &ddl).unwrap(), Written::Batched(1));
}

/// Past the largest rowid SQLite picks free ones at random: the graph
/// is written row by row instead of refused.
#[cfg(feature = "sqlite")]
fn the_largest_rowid_taken(conn: &mut SqliteConnection) {
    let ddl = format!(
        "{} INSERT INTO authors VALUES (1, 'x'); INSERT INTO posts VALUES (9223372036854775807, 1, 'last');",
        blog(POSTS_TABLE)
    );
    conn.batch_execute(&ddl).unwrap();
    // The post already there is not part of the graph; the checks
    // start from the comments, so it does not count.
    assert_eq!(write_blog(conn, untitled).unwrap(), Written::RowByRow);
}

/// A trigger that inserts into the same table puts its rows between
/// ours.
#[cfg(feature = "sqlite")]
fn a_trigger_inserting_into_the_same_table(conn: &mut SqliteConnection) {
    let ddl = format!(
        "{}; CREATE TRIGGER echo AFTER INSERT ON posts WHEN NEW.title NOT LIKE 'echo%' BEGIN \
           INSERT INTO posts (author_id, title) VALUES (NEW.author_id, 'echo of ' || NEW.title); END;",
        blog(POSTS_TABLE)
    );
    conn.batch_execute(&ddl).unwrap();
    assert_eq!(write_blog(conn, untitled).unwrap(), Written::RowByRow);
}

#[cfg(feature = "sqlite")]
fn a_temporary_trigger_on_the_table(conn: &mut SqliteConnection) {
    conn.batch_execute(&blog(POSTS_TABLE)).unwrap();
    conn.batch_execute(
        "CREATE TEMP TRIGGER echo AFTER INSERT ON posts WHEN NEW.title NOT LIKE 'echo%' BEGIN \
           INSERT INTO posts (author_id, title) VALUES (NEW.author_id, 'echo of ' || NEW.title); END;",
    )
    .unwrap();
    assert_eq!(write_blog(conn, untitled).unwrap(), Written::RowByRow);
}

/// `INTEGER PRIMARY KEY DESC` is not the rowid: nothing fills the key,
/// and the graph is refused rather than paired.
#[cfg(feature = "sqlite")]
fn a_descending_primary_key_is_not_the_rowid(conn: &mut SqliteConnection) {
    let ddl = blog(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY DESC, \
         author_id BIGINT NOT NULL REFERENCES authors (id), title TEXT NOT NULL)",
    );
    assert!(blog_with(conn, &ddl).is_err());
}

/// A key declared BIGINT is not the rowid either (only INTEGER is).
#[cfg(feature = "sqlite")]
fn a_bigint_key_is_not_the_rowid(conn: &mut SqliteConnection) {
    let ddl = blog(
        "CREATE TABLE posts (id BIGINT PRIMARY KEY, \
         author_id BIGINT NOT NULL REFERENCES authors (id), title TEXT NOT NULL)",
    );
    assert!(blog_with(conn, &ddl).is_err());
}

common::on_sqlite! {
    rowids_are_batched,
    autoincrement_is_batched,
    the_largest_rowid_taken,
    a_trigger_inserting_into_the_same_table,
    a_temporary_trigger_on_the_table,
    a_descending_primary_key_is_not_the_rowid,
    a_bigint_key_is_not_the_rowid,
}
