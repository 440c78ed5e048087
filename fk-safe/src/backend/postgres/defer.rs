//! Deferring on PostgreSQL: `SET CONSTRAINTS .. DEFERRED` inside the
//! transaction, and `SET CONSTRAINTS .. IMMEDIATE` before it commits, which
//! checks every row the deferred keys let through and fails with the usual
//! foreign-key error (23503) naming the table, the constraint and the key.

use diesel::connection::{LoadConnection, TransactionManager};
use diesel::pg::Pg;
use diesel::QueryResult;

use crate::backend::defer::{CheckFailure, Chosen, DeferConstraints};
use crate::backend::ReadCatalog;
use crate::cache::CatalogCache;
use crate::error::Error;
use crate::fk::ForeignKey;
use crate::sql::quote_ident;

/// `SET CONSTRAINTS` for `chosen` in `mode`: `ALL`, or each constraint by
/// its schema-qualified, quoted name (never by search path). One name
/// covers every constraint of that name in its schema, which is what the
/// database does with it: the caller chose all of them.
fn set_constraints(chosen: Chosen<'_>, mode: &str) -> String {
    match chosen {
        Chosen::All => format!("SET CONSTRAINTS ALL {mode}"),
        Chosen::These(keys) => {
            let mut names: Vec<String> = Vec::with_capacity(keys.len());
            for fk in keys {
                let Some(name) = &fk.name else { continue };
                let qualified = format!("{}.{}", quote_ident(&fk.schema), quote_ident(name));
                if !names.contains(&qualified) {
                    names.push(qualified);
                }
            }
            format!("SET CONSTRAINTS {} {mode}", names.join(", "))
        }
    }
}

#[derive(diesel::QueryableByName)]
struct ClashRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    clash: String,
}

impl DeferConstraints for Pg {
    const NAMES_CONSTRAINTS: bool = true;

    type Deferred = ();

    fn deferral_catalog<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Vec<ForeignKey>> {
        // PostgreSQL's list reads pg_constraint every time; the cache is
        // only a parameter.
        Self::list_foreign_keys(conn, &CatalogCache::default())
    }

    fn enforces_foreign_keys<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
    ) -> QueryResult<bool> {
        Ok(true)
    }

    fn begin<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<()> {
        <C::TransactionManager as TransactionManager<C>>::begin_transaction(conn)
    }

    fn defer<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        chosen: Chosen<'_>,
    ) -> QueryResult<()> {
        conn.batch_execute(&set_constraints(chosen, "DEFERRED"))
    }

    fn check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _cache: &CatalogCache,
        chosen: Chosen<'_>,
        _deferred: &(),
    ) -> Result<(), CheckFailure> {
        // The failure aborts the transaction, so the catalog cannot be read
        // now: the violation is explained once it is rolled back.
        match conn.batch_execute(&set_constraints(chosen, "IMMEDIATE")) {
            Ok(()) => Ok(()),
            Err(error) => match Error::from(error) {
                Error::ForeignKey(violation) => Err(CheckFailure::Broken {
                    violation,
                    rows: None,
                }),
                Error::Database(error) => Err(CheckFailure::Database(error)),
                // `From<diesel::result::Error>` makes nothing else.
                other => Err(CheckFailure::Database(
                    diesel::result::Error::QueryBuilderError(other.to_string().into()),
                )),
            },
        }
    }

    fn name_clashes<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        chosen: &[ForeignKey],
    ) -> QueryResult<Vec<String>> {
        let mut clashes = Vec::new();
        for fk in chosen {
            let Some(name) = fk.name.as_deref() else {
                continue;
            };
            let found: Vec<ClashRow> = diesel::RunQueryDsl::load(
                diesel::sql_query(
                    "/* fk-safe: catalog */ SELECT c.contype::text || ' constraint ' || \
                        quote_ident(n.nspname) || '.' || quote_ident(c.conname) || ' on ' || \
                        c.conrelid::regclass::text AS clash
                   FROM pg_catalog.pg_constraint c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
                  WHERE n.nspname = $1 AND c.conname = $2 AND c.contype <> 'f'
                    AND NOT c.condeferrable",
                )
                .bind::<diesel::sql_types::Text, _>(&fk.schema)
                .bind::<diesel::sql_types::Text, _>(name),
                conn,
            )?;
            clashes.extend(found.into_iter().map(|row| row.clash));
        }
        Ok(clashes)
    }

    /// Rolling back restores the modes; a commit keeps the chosen keys
    /// IMMEDIATE for the rest of a caller's transaction, as checked.
    fn restore<C: LoadConnection<Backend = Self>>(_conn: &mut C, _deferred: ()) -> QueryResult<()> {
        Ok(())
    }
}
