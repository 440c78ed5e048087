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

/// What is set back after the load.
pub enum PgSuspended {
    /// `session_replication_role`'s value before the load.
    ReplicationRole { before: String },
    /// Each dropped constraint: its table, name and definition.
    Recreated(Vec<Recreated>),
}

pub struct Recreated {
    table: String,
    name: String,
    definition: String,
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
}

const SAVEPOINT: &str = "fk_safe_replication_role";

impl SuspendChecks for Pg {
    type Suspended = PgSuspended;

    fn suspend<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        all: &[ForeignKey],
        chosen: &[ForeignKey],
        wanted: Option<Mechanism>,
        _keep_orphans: bool,
    ) -> Result<Suspension<PgSuspended>, SuspendFailed> {
        match wanted {
            None | Some(Mechanism::ReplicationRole) => {
                let isolation: Vec<SettingRow> =
                    diesel::sql_query("SELECT current_setting('transaction_isolation') AS value")
                        .load(conn)?;
                let read_committed = isolation
                    .first()
                    .is_some_and(|row| row.value == "read committed");
                if !read_committed {
                    if wanted.is_some() {
                        return Err(SuspendFailed::Unavailable(format!(
                            "replica mode needs a READ COMMITTED transaction, so that the orphan \
                             check sees what other sessions committed up to its parent locks; \
                             this one is {}",
                            isolation
                                .first()
                                .map_or("of no known level", |row| row.value.as_str())
                        )));
                    }
                    return recreated(conn, chosen, false);
                }
                if let Some(suspension) = replication_role(conn, all)? {
                    return Ok(suspension);
                }
                if wanted.is_some() {
                    return Err(SuspendFailed::NotPermitted(
                        "this role may not set session_replication_role: that takes a \
                         superuser, rds_superuser, or (PostgreSQL 15 and later) GRANT SET ON \
                         PARAMETER session_replication_role"
                            .to_string(),
                    ));
                }
                recreated(conn, chosen, true)
            }
            Some(Mechanism::RecreatedConstraints) => recreated(conn, chosen, false),
            Some(other) => Err(SuspendFailed::Unavailable(format!(
                "{other} is SQLite's; PostgreSQL offers session_replication_role = replica or \
                 the constraints dropped and added again"
            ))),
        }
    }

    fn to_check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<PgSuspended>,
        all: &[ForeignKey],
    ) -> Result<Vec<(ForeignKey, Vec<String>)>, SuspendFailed> {
        match &suspension.state {
            PgSuspended::Recreated(_) => Ok(suspension.unchecked.clone()),
            PgSuspended::ReplicationRole { .. } => {
                let written = written_tables(conn)?;
                let keys: Vec<ForeignKey> = all
                    .iter()
                    .filter(|fk| match &written {
                        None => true,
                        Some(written) => written.iter().any(|table| {
                            (table.child_written
                                && table.schema == fk.schema
                                && table.table == fk.table)
                                || (table.parent_written
                                    && table.schema == fk.parent_schema
                                    && table.table == fk.parent_table)
                        }),
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
        orphans_kept: bool,
    ) -> QueryResult<()> {
        match &suspension.state {
            PgSuspended::ReplicationRole { before } => diesel::sql_query(
                "SELECT set_config('session_replication_role', $1, true) AS value",
            )
            .bind::<Text, _>(before)
            .load::<SettingRow>(conn)
            .map(drop),
            PgSuspended::Recreated(constraints) => {
                for constraint in constraints {
                    // An orphan kept means the constraint cannot be valid.
                    let not_valid = if orphans_kept && !constraint.definition.ends_with("NOT VALID")
                    {
                        " NOT VALID"
                    } else {
                        ""
                    };
                    conn.batch_execute(&format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} {}{not_valid}",
                        constraint.table,
                        quote_ident(&constraint.name),
                        constraint.definition
                    ))?;
                }
                Ok(())
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
    /// Rows were inserted or updated: its own foreign keys may be broken.
    #[diesel(sql_type = Bool)]
    child_written: bool,
    /// Rows were updated or deleted: foreign keys referencing it may be.
    #[diesel(sql_type = Bool)]
    parent_written: bool,
}

/// The tables this transaction wrote so far, each partition counted as
/// every partitioned table above it too (a foreign key declared there
/// holds for its rows), from `pg_stat_xact_user_tables`: the row counts of
/// the current transaction, kept whenever `track_counts` is on (the
/// default). `None` when it is off, and the counts cannot be trusted.
/// `TRUNCATE` is not counted, and needs none: PostgreSQL refuses to
/// truncate a referenced table alone whatever the replication role.
fn written_tables<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
) -> QueryResult<Option<Vec<WrittenRow>>> {
    let counted: Vec<SettingRow> =
        diesel::sql_query("SELECT current_setting('track_counts') AS value").load(conn)?;
    if counted.first().is_none_or(|row| row.value != "on") {
        return Ok(None);
    }
    diesel::sql_query(format!(
        "{CATALOG_READ_MARK} SELECT n.nspname::text AS schema, c.relname::text AS table,
                bool_or(s.n_tup_ins + s.n_tup_upd > 0) AS child_written,
                bool_or(s.n_tup_upd + s.n_tup_del > 0) AS parent_written
           FROM pg_catalog.pg_stat_xact_user_tables s
           CROSS JOIN LATERAL (SELECT s.relid
                               UNION SELECT pg_catalog.pg_partition_ancestors(s.relid)) AS a(relid)
           JOIN pg_catalog.pg_class c ON c.oid = a.relid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE s.n_tup_ins + s.n_tup_upd + s.n_tup_del > 0
          GROUP BY n.nspname, c.relname"
    ))
    .load(conn)
    .map(Some)
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
                         transaction's writes; each one whose child table it inserted or \
                         updated rows of, or whose parent table it updated or deleted rows \
                         of, was checked afterwards",
                        all.len()
                    ),
                    "the parent tables of the foreign keys checked were locked SHARE from the \
                     check to the end of the transaction (other sessions' writes to them wait), \
                     so that no parent the check found can be deleted before the commit"
                        .to_string(),
                ],
                unchecked: Vec::new(),
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
    replica_tried: bool,
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
        if replica_tried {
            missing.push_str(
                "this role may not set session_replication_role (that takes a superuser, \
                 rds_superuser, or GRANT SET ON PARAMETER session_replication_role), ",
            );
        }
        missing.push_str(&format!(
            "{}this role does not own {} (dropping and adding back a foreign key takes the \
             ownership of its table)",
            if replica_tried { "and " } else { "" },
            not_owned.join(", ")
        ));
        return Err(SuspendFailed::NotPermitted(missing));
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
    Ok(Suspension {
        mechanism: Mechanism::RecreatedConstraints,
        effects: vec![format!(
            "{} foreign key{} dropped and added again: ACCESS EXCLUSIVE locks on {} until the \
             transaction ends",
            recreated.len(),
            if recreated.len() == 1 {
                " was"
            } else {
                "s were"
            },
            tables.join(", ")
        )],
        unchecked,
        state: PgSuspended::Recreated(recreated),
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
                    pg_catalog.pg_has_role(cl.relowner, 'USAGE') AS owned
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
