//! PostgreSQL's ways to turn foreign-key checks off inside a transaction.
//!
//! `session_replication_role = replica` (set with `SET LOCAL`, so it ends
//! with the transaction, and set back by hand when the load is a savepoint
//! of a longer transaction) needs a superuser, `rds_superuser`, or the
//! `SET` privilege on the parameter; whether the role may is learnt by
//! trying, in a savepoint, since each of those grants it another way. An
//! owner of the child tables drops the constraints instead and adds them
//! again from `pg_get_constraintdef`, read with only `pg_catalog` on the
//! search path so that every name in it is schema-qualified. `ALTER TABLE
//! .. DISABLE TRIGGER ALL` is not used: it needs superuser for the
//! foreign-key triggers, where replica mode does the same with fewer locks.
//!
//! Replica mode needs a READ COMMITTED transaction: the orphan check must
//! see every parent other sessions deleted until it locked the parent
//! tables, which a REPEATABLE READ snapshot taken earlier would not. Under
//! a stricter level the constraints are dropped and added again instead,
//! and adding them validates with the latest snapshot, as PostgreSQL does.

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bool, Text};

use crate::backend::bulk_load::{Mechanism, SuspendChecks, SuspendFailed, Suspension};
use crate::backend::integrity::ReadRows;
use crate::fk::ForeignKey;
use crate::sql::{quote_ident, CATALOG_READ_MARK};

/// `text` as a SQL string literal, quoted by the server itself (which
/// knows its `standard_conforming_strings`): `COMMENT ON` takes no
/// parameter.
fn quote_literal<C: LoadConnection<Backend = Pg>>(conn: &mut C, text: &str) -> QueryResult<String> {
    let quoted: Vec<SettingRow> = diesel::sql_query("SELECT pg_catalog.quote_literal($1) AS value")
        .bind::<Text, _>(text)
        .load(conn)?;
    quoted
        .into_iter()
        .next()
        .map(|row| row.value)
        .ok_or(diesel::result::Error::NotFound)
}

/// What is set back after the load.
pub enum PgSuspended {
    /// `session_replication_role`'s value before the load.
    ReplicationRole { before: String },
    /// Each dropped constraint: its table, name and definition; and each
    /// with how its rows are matched, read before it was dropped.
    Recreated(Vec<Recreated>, Vec<(ForeignKey, Vec<String>)>),
}

pub struct Recreated {
    table: String,
    name: String,
    definition: String,
    comment: Option<String>,
}

#[derive(QueryableByName)]
struct SettingRow {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct DefinitionRow {
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Bool)]
    owned: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    comment: Option<String>,
    /// The child table is partitioned.
    #[diesel(sql_type = Bool)]
    partitioned: bool,
    /// The server adds NOT VALID foreign keys to partitioned tables (18+).
    #[diesel(sql_type = Bool)]
    not_valid_on_partitioned: bool,
    #[diesel(sql_type = Text)]
    table_name: String,
}

const SAVEPOINT: &str = "fk_safe_replication_role";

impl SuspendChecks for Pg {
    type Suspended = PgSuspended;

    fn suspend<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        all: &[ForeignKey],
        chosen: &[ForeignKey],
        wanted: Option<Mechanism>,
        keep_orphans: bool,
    ) -> Result<Suspension<PgSuspended>, SuspendFailed> {
        match wanted {
            None | Some(Mechanism::ReplicationRole) => {
                if let Some(why_not) = replica_unsafe(conn, keep_orphans)? {
                    if wanted.is_some() {
                        return Err(SuspendFailed::Unavailable(why_not));
                    }
                    return recreated(conn, chosen, keep_orphans, Some(why_not));
                }
                if let Some(suspension) = replication_role(conn, all)? {
                    return Ok(suspension);
                }
                let refused = "this role may not set session_replication_role (that takes a \
                               superuser, rds_superuser, or GRANT SET ON PARAMETER \
                               session_replication_role)"
                    .to_string();
                if wanted.is_some() {
                    return Err(SuspendFailed::NotPermitted(refused));
                }
                recreated(conn, chosen, keep_orphans, Some(refused))
            }
            Some(Mechanism::RecreatedConstraints) => recreated(conn, chosen, keep_orphans, None),
            Some(other) => Err(SuspendFailed::Unavailable(format!(
                "{other} is SQLite's; PostgreSQL offers session_replication_role = replica or \
                 the constraints dropped and added again"
            ))),
        }
    }

    fn transaction_marker<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Option<String>> {
        let id: Vec<SettingRow> =
            diesel::sql_query("SELECT pg_catalog.txid_current()::text AS value").load(conn)?;
        Ok(id.into_iter().next().map(|row| row.value))
    }

    fn to_check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<PgSuspended>,
        all: &[ForeignKey],
    ) -> Result<Vec<(ForeignKey, Vec<String>)>, SuspendFailed> {
        match &suspension.state {
            PgSuspended::Recreated(_, unchecked) => Ok(unchecked.clone()),
            PgSuspended::ReplicationRole { .. } => {
                if let Some(lost) = lost_writes(conn)? {
                    return Err(SuspendFailed::Unavailable(lost));
                }
                let written = written_tables(conn)?;
                let is_written = |schema: &str, table: &str| {
                    written
                        .iter()
                        .any(|row| row.schema == schema && row.table == table)
                };
                let keys: Vec<ForeignKey> = all
                    .iter()
                    .filter(|fk| {
                        is_written(&fk.schema, &fk.table)
                            || is_written(&fk.parent_schema, &fk.parent_table)
                    })
                    .cloned()
                    .collect();
                lock_parents(conn, &keys)?;
                with_matches(conn, &keys)
            }
        }
    }

    fn resume<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<PgSuspended>,
        kept: &[ForeignKey],
    ) -> QueryResult<Vec<String>> {
        match &suspension.state {
            PgSuspended::ReplicationRole { before } => diesel::sql_query(
                "SELECT set_config('session_replication_role', $1, true) AS value",
            )
            .bind::<Text, _>(before)
            .load::<SettingRow>(conn)
            .map(|_| Vec::new()),
            PgSuspended::Recreated(constraints, _) => {
                let mut left_not_valid = Vec::new();
                for constraint in constraints {
                    // An orphan kept means its constraint cannot be valid;
                    // the others come back as declared.
                    let has_orphans = kept.iter().any(|fk| {
                        fk.name.as_deref() == Some(constraint.name.as_str())
                            && format!("{}.{}", quote_ident(&fk.schema), quote_ident(&fk.table))
                                == constraint.table
                    });
                    let not_valid = if has_orphans && !constraint.definition.ends_with("NOT VALID")
                    {
                        " NOT VALID"
                    } else {
                        ""
                    };
                    if has_orphans {
                        left_not_valid.push(format!(
                            "{} on {}",
                            quote_ident(&constraint.name),
                            constraint.table
                        ));
                    }
                    conn.batch_execute(&format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} {}{not_valid}",
                        constraint.table,
                        quote_ident(&constraint.name),
                        constraint.definition
                    ))?;
                    if let Some(comment) = &constraint.comment {
                        let literal = quote_literal(conn, comment)?;
                        conn.batch_execute(&format!(
                            "COMMENT ON CONSTRAINT {} ON {} IS {literal}",
                            quote_ident(&constraint.name),
                            constraint.table,
                        ))?;
                    }
                }
                Ok(if left_not_valid.is_empty() {
                    Vec::new()
                } else {
                    vec![format!(
                        "added back NOT VALID, over the orphans kept: {}",
                        left_not_valid.join(", ")
                    )]
                })
            }
        }
    }

    fn after_transaction<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _suspension: &Suspension<PgSuspended>,
    ) -> QueryResult<()> {
        // Everything was transaction-scoped.
        Ok(())
    }
}

#[derive(QueryableByName)]
struct WrittenRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
}

/// The tables this transaction may have written, by their names now, each
/// partition counted as every partitioned table above it too (a foreign
/// key declared there holds for its rows): those it holds a lock on of
/// `ROW EXCLUSIVE` or stronger. Every `INSERT`, `UPDATE`, `DELETE`,
/// `MERGE` and `COPY FROM` takes that lock, on each partition it reaches,
/// and keeps it to the end of the transaction (a savepoint rolled back
/// gives it up with its rows); no setting turns it off, as `track_counts`
/// turns off the row counts of `pg_stat_xact_user_tables`. A table renamed
/// or detached by the work is listed as it is now, and matched against the
/// foreign keys as they are now.
fn written_tables<C: LoadConnection<Backend = Pg>>(conn: &mut C) -> QueryResult<Vec<WrittenRow>> {
    diesel::sql_query(format!(
        "{CATALOG_READ_MARK} SELECT DISTINCT n.nspname::text AS schema, c.relname::text AS table
           FROM pg_catalog.pg_locks l
           CROSS JOIN LATERAL (SELECT l.relation
                               UNION SELECT pg_catalog.pg_partition_ancestors(l.relation)) AS a(relid)
           JOIN pg_catalog.pg_class c ON c.oid = a.relid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE l.locktype = 'relation' AND l.pid = pg_catalog.pg_backend_pid() AND l.granted
            AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                               WHERE d.datname = pg_catalog.current_database())
            AND l.mode IN ('RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock',
                           'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')"
    ))
    .load(conn)
}

/// Locks the parent table of each of `keys` in SHARE mode until the
/// transaction ends. In replica mode the work's child rows took no lock on
/// their parents, as a checked insert does (`FOR KEY SHARE`): without this,
/// another session could delete a parent the orphan check found, between
/// the check and the commit. SHARE waits for the writers of the table that
/// are still open, so the check (a later statement, READ COMMITTED) sees
/// what they did, and keeps new writers out until the end.
fn lock_parents<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    keys: &[ForeignKey],
) -> QueryResult<()> {
    let mut parents: Vec<String> = keys
        .iter()
        .map(|fk| {
            format!(
                "{}.{}",
                quote_ident(&fk.parent_schema),
                quote_ident(&fk.parent_table)
            )
        })
        .collect();
    parents.sort();
    parents.dedup();
    if parents.is_empty() {
        return Ok(());
    }
    conn.batch_execute(&format!("LOCK TABLE {} IN SHARE MODE", parents.join(", ")))
}

/// Why replica mode would give a wrong result here, if it would:
///
/// - under REPEATABLE READ or SERIALIZABLE the orphan check reads a
///   snapshot older than its parent locks, and misses a parent another
///   session deleted meanwhile;
/// - orphans to be kept would stay under a constraint still marked valid
///   (replica mode leaves `convalidated` alone).
///
/// Writes through a view whose `INSTEAD OF` trigger replica mode turns
/// off are found after the work ([`lost_writes`]).
fn replica_unsafe<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    keep_orphans: bool,
) -> QueryResult<Option<String>> {
    let isolation: Vec<SettingRow> =
        diesel::sql_query("SELECT current_setting('transaction_isolation') AS value").load(conn)?;
    let level = isolation
        .first()
        .map_or("unknown", |row| row.value.as_str());
    if level != "read committed" {
        return Ok(Some(format!(
            "replica mode needs a READ COMMITTED transaction, so that the orphan check sees \
             what other sessions committed up to its parent locks; this one is {level}"
        )));
    }
    if keep_orphans {
        return Ok(Some(
            "orphans kept under replica mode would stay under a constraint PostgreSQL still \
             marks valid"
                .to_string(),
        ));
    }
    Ok(None)
}

#[derive(QueryableByName)]
struct LostRow {
    #[diesel(sql_type = Text)]
    relation: String,
}

/// The relations the work wrote through whose `INSTEAD OF` triggers or `DO
/// INSTEAD` rules replica mode turned off (they fire in origin mode only,
/// `'O'`): such a write reports its rows and writes nothing, so the load
/// is refused and rolled back rather than committed short of them.
fn lost_writes<C: LoadConnection<Backend = Pg>>(conn: &mut C) -> QueryResult<Option<String>> {
    // tgtype bit 6 is INSTEAD OF.
    let lost: Vec<LostRow> = diesel::sql_query(format!(
        "{CATALOG_READ_MARK} SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS relation
           FROM pg_catalog.pg_locks l
           JOIN pg_catalog.pg_class c ON c.oid = l.relation
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE l.locktype = 'relation' AND l.pid = pg_catalog.pg_backend_pid()
            AND l.mode = 'RowExclusiveLock'
            AND (EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                          WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
                            AND t.tgenabled = 'O' AND (t.tgtype & 64) <> 0)
                 OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r
                             WHERE r.ev_class = c.oid AND r.ev_enabled = 'O'
                               AND r.is_instead AND r.rulename <> '_RETURN'))
          ORDER BY 1"
    ))
    .load(conn)?;
    if lost.is_empty() {
        return Ok(None);
    }
    let relations: Vec<String> = lost.into_iter().map(|row| row.relation).collect();
    Ok(Some(format!(
        "the work wrote through {}, whose INSTEAD OF trigger or DO INSTEAD rule replica mode \
         turned off, so those writes did nothing; use Mechanism::RecreatedConstraints",
        relations.join(", ")
    )))
}

/// Replica mode, if this role may set it; `None` if it may not.
fn replication_role<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    all: &[ForeignKey],
) -> Result<Option<Suspension<PgSuspended>>, SuspendFailed> {
    let before: Vec<SettingRow> =
        diesel::sql_query("SELECT current_setting('session_replication_role') AS value")
            .load(conn)?;
    let before = before
        .into_iter()
        .next()
        .map_or_else(|| "origin".to_string(), |row| row.value);
    conn.batch_execute(&format!("SAVEPOINT {SAVEPOINT}"))?;
    match conn.batch_execute("SET LOCAL session_replication_role = replica") {
        Ok(()) => {
            conn.batch_execute(&format!("RELEASE {SAVEPOINT}"))?;
            Ok(Some(Suspension {
                mechanism: Mechanism::ReplicationRole,
                effects: vec![
                    "every trigger and rule not marked ENABLE REPLICA or ENABLE ALWAYS was off \
                     while the work ran, on every table, the user's own included"
                        .to_string(),
                    format!(
                        "the {} foreign keys of the database went unchecked for the \
                         transaction's writes; each one whose child or parent table it wrote \
                         (as the foreign keys and tables are after the work) was checked \
                         afterwards",
                        all.len()
                    ),
                    "the parent tables of the foreign keys checked were locked SHARE from the \
                     check to the end of the transaction (other sessions' writes to them wait), \
                     so that no parent the check found can be deleted before the commit"
                        .to_string(),
                ],
                state: PgSuspended::ReplicationRole { before },
            }))
        }
        Err(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info))
            if refused_to_set(&*info) =>
        {
            conn.batch_execute(&format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"))?;
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

/// Whether `SET LOCAL session_replication_role = replica` was refused for
/// want of privilege (SQLSTATE 42501). Diesel keeps no SQLSTATE for it and
/// the message may be translated, but it names the parameter, which no
/// translation changes; the value is valid, so no other refusal of it can
/// come from this statement.
fn refused_to_set(info: &dyn diesel::result::DatabaseErrorInformation) -> bool {
    info.message().contains("session_replication_role")
}

/// The chosen foreign keys dropped, to be added again after the check; a
/// role that owns not all of their tables is refused before any is dropped.
fn recreated<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    chosen: &[ForeignKey],
    keep_orphans: bool,
    not_replica: Option<String>,
) -> Result<Suspension<PgSuspended>, SuspendFailed> {
    let unchecked = with_matches(conn, chosen)?;
    // Only pg_catalog on the search path: the definitions name every
    // table with its schema.
    let search_path: Vec<SettingRow> =
        diesel::sql_query("SELECT current_setting('search_path') AS value").load(conn)?;
    diesel::sql_query("SELECT set_config('search_path', 'pg_catalog', true) AS value")
        .load::<SettingRow>(conn)?;
    let definitions = definitions(conn, chosen);
    diesel::sql_query("SELECT set_config('search_path', $1, true) AS value")
        .bind::<Text, _>(search_path.first().map_or("", |row| row.value.as_str()))
        .load::<SettingRow>(conn)?;
    let definitions = definitions?;

    let not_owned: Vec<String> = chosen
        .iter()
        .zip(&definitions)
        .filter(|(_, row)| !row.owned)
        .map(|(fk, _)| format!("{}.{}", quote_ident(&fk.schema), quote_ident(&fk.table)))
        .collect();
    if !not_owned.is_empty() {
        let mut missing = String::new();
        if let Some(why) = &not_replica {
            missing.push_str(why);
            missing.push_str(", and ");
        }
        missing.push_str(&format!(
            "this role does not own {} (dropping and adding back a foreign key takes the \
             ownership of its table)",
            not_owned.join(", ")
        ));
        return Err(SuspendFailed::NotPermitted(missing));
    }
    if keep_orphans {
        if let Some(row) = definitions
            .iter()
            .find(|row| row.partitioned && !row.not_valid_on_partitioned)
        {
            return Err(SuspendFailed::CannotKeep(format!(
                "{} is partitioned, and this server cannot add a foreign key NOT VALID to a \
                 partitioned table (PostgreSQL 18 can), so orphans could not be kept under it",
                row.table_name
            )));
        }
    }

    let mut recreated = Vec::new();
    for (fk, row) in chosen.iter().zip(definitions) {
        let table = format!("{}.{}", quote_ident(&fk.schema), quote_ident(&fk.table));
        let name = fk.name.clone().unwrap_or_default();
        conn.batch_execute(&format!(
            "ALTER TABLE {table} DROP CONSTRAINT {}",
            quote_ident(&name)
        ))?;
        recreated.push(Recreated {
            table,
            name,
            definition: row.definition,
            comment: row.comment,
        });
    }
    let mut tables: Vec<String> = chosen
        .iter()
        .flat_map(|fk| {
            [
                format!("{}.{}", fk.schema, fk.table),
                format!("{}.{}", fk.parent_schema, fk.parent_table),
            ]
        })
        .collect();
    tables.sort();
    tables.dedup();
    let mut effects = vec![format!(
        "{} foreign key{} dropped and added again, as declared and with {} comment: ACCESS \
         EXCLUSIVE locks on {} until the transaction ends",
        recreated.len(),
        if recreated.len() == 1 {
            " was"
        } else {
            "s were"
        },
        if recreated.len() == 1 { "its" } else { "their" },
        tables.join(", ")
    )];
    if let Some(why) = not_replica {
        effects.push(format!("not replica mode: {why}"));
    }
    Ok(Suspension {
        mechanism: Mechanism::RecreatedConstraints,
        effects,
        state: PgSuspended::Recreated(recreated, unchecked),
    })
}

/// Each foreign key's definition and whether this role owns its table, in
/// order; a foreign key that is gone is an error.
fn definitions<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    chosen: &[ForeignKey],
) -> Result<Vec<DefinitionRow>, SuspendFailed> {
    let mut rows = Vec::with_capacity(chosen.len());
    for fk in chosen {
        let found: Vec<DefinitionRow> = diesel::sql_query(format!(
            "{CATALOG_READ_MARK} SELECT pg_catalog.pg_get_constraintdef(con.oid) AS definition,
                    pg_catalog.pg_has_role(cl.relowner, 'USAGE') AS owned,
                    pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment,
                    cl.relkind = 'p' AS partitioned,
                    current_setting('server_version_num')::int >= 180000 AS not_valid_on_partitioned,
                    quote_ident(n.nspname) || '.' || quote_ident(cl.relname) AS table_name
               FROM pg_catalog.pg_constraint con
               JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
              WHERE con.contype = 'f' AND n.nspname = $1 AND cl.relname = $2
                AND con.conname = $3"
        ))
        .bind::<Text, _>(&fk.schema)
        .bind::<Text, _>(&fk.table)
        .bind::<Text, _>(fk.name.as_deref().unwrap_or_default())
        .load(conn)?;
        let row = found.into_iter().next().ok_or_else(|| {
            SuspendFailed::Check(crate::backend::integrity::CheckFailed::Refused(format!(
                "the foreign key {} of {}.{} is gone since the catalog was read",
                fk.name.as_deref().unwrap_or_default(),
                fk.schema,
                fk.table
            )))
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Each foreign key with how its rows are matched, read now.
fn with_matches<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    keys: &[ForeignKey],
) -> Result<Vec<(ForeignKey, Vec<String>)>, SuspendFailed> {
    keys.iter()
        .map(|fk| Ok((fk.clone(), Pg::key_matches(conn, fk)?)))
        .collect()
}
