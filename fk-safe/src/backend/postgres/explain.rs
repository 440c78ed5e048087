//! Explaining a PostgreSQL failure: the declared constraints its names can
//! mean, narrowed by its DETAIL and SQLSTATE, merged into the violation
//! without ever choosing between schemas.

use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::pg::Pg;

use super::catalog::possible_constraints;
use crate::backend::ExplainFailure;
use crate::cache::CatalogCache;
use crate::classify::postgres::fit::{
    fits_detail, fits_error_code, infer_kind, key_values_from_detail, PossibleConstraint,
};
use crate::error::Error;
use crate::fk::{Declaration, FkViolation, ViolationKind};

/// The candidates a failure fits (its DETAIL and its SQLSTATE); the cache
/// is read again once when none fits, in case the constraint was re-created
/// since it was cached.
fn matching_candidates<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    cache: &CatalogCache,
    violation: &FkViolation,
    table: &str,
    constraint: &str,
) -> Result<Vec<PossibleConstraint>, String> {
    let fits = |all: &[PossibleConstraint]| -> Vec<PossibleConstraint> {
        all.iter()
            .filter(|c| {
                fits_detail(violation.detail(), violation.kind(), &c.fk)
                    && fits_error_code(violation, c)
            })
            .cloned()
            .collect()
    };
    let cached = possible_constraints(conn, cache, table, constraint, false)?;
    let mut fitting = fits(&cached);
    if fitting.is_empty() {
        let fresh = possible_constraints(conn, cache, table, constraint, true)?;
        fitting = fits(&fresh);
    }
    if fitting.is_empty() {
        return Err(format!(
            "constraint \"{constraint}\" on table \"{table}\" in pg_constraint does not match the error (its DETAIL and SQLSTATE)"
        ));
    }
    Ok(fitting)
}

/// What every candidate says alike, or `None` when they differ.
fn agreed<T: PartialEq>(
    all: &[PossibleConstraint],
    field: impl Fn(&PossibleConstraint) -> T,
) -> Option<T> {
    let mut values = all.iter().map(field);
    let first = values.next()?;
    values.all(|v| v == first).then_some(first)
}

/// Completes a violation from the candidates that fit it. One candidate is
/// the answer. Several (the same names in several schemas) give what they
/// all agree on, field by field, and nothing they disagree on: fk-safe never
/// chooses between them. The data cannot choose either: the failed work was
/// rolled back and other sessions may have written since, so no row seen
/// now proves which schema's constraint failed (the work may have written
/// the very child or parent rows it then tripped over, in any schema).
fn apply_candidates(
    violation: &mut FkViolation,
    mut fitting: Vec<PossibleConstraint>,
    table: &str,
    constraint: &str,
) {
    if violation.kind() == ViolationKind::Undetermined {
        violation.set_kind(
            agreed(&fitting, |c| infer_kind(violation, c, table))
                .unwrap_or(ViolationKind::Undetermined),
        );
        // A kind learnt only now (a translated message) lets the SQLSTATE
        // rule out more candidates. None left means no candidate's actions
        // can fail that way: the inferred kind contradicts the catalog, and
        // is dropped rather than trusted.
        let by_code: Vec<PossibleConstraint> = fitting
            .iter()
            .filter(|c| fits_error_code(violation, c))
            .cloned()
            .collect();
        if by_code.is_empty() {
            violation.set_kind(ViolationKind::Undetermined);
        } else {
            fitting = by_code;
        }
    }
    let fitting = fitting.as_slice();
    let key_values = agreed(fitting, |c| key_values_from_detail(violation, &c.fk, table));
    violation.set_key_values(key_values.flatten());
    if let [only] = fitting {
        violation.declare(Declaration::from(only.fk.as_ref()));
        return;
    }
    let fk = |c: &PossibleConstraint| Arc::clone(&c.fk);
    // Only what every candidate says alike is declared; the rest stays
    // unknown (`None`, or empty column lists).
    let shared = Declaration {
        constraint: agreed(fitting, |c| fk(c).name.clone()).flatten(),
        schema: agreed(fitting, |c| fk(c).schema.clone()),
        child_table: agreed(fitting, |c| fk(c).table.clone()),
        child_columns: agreed(fitting, |c| fk(c).columns.clone()).unwrap_or_default(),
        parent_schema: agreed(fitting, |c| fk(c).parent_schema.clone()),
        parent_table: agreed(fitting, |c| fk(c).parent_table.clone()),
        parent_columns: agreed(fitting, |c| fk(c).parent_columns.clone()).unwrap_or_default(),
        on_delete: agreed(fitting, |c| fk(c).on_delete),
        on_update: agreed(fitting, |c| fk(c).on_update),
        deferrability: agreed(fitting, |c| fk(c).deferrability).flatten(),
    };
    // What differs is read from what all share, never from the violation,
    // which may hold an earlier explanation's answer.
    let parent_table_differs = shared.parent_table.is_none();
    let on_delete_differs = shared.on_delete.is_none();
    let on_update_differs = shared.on_update.is_none();
    violation.declare(shared);

    let differences: Vec<&str> = [
        (
            "columns",
            agreed(fitting, |c| fk(c).columns.clone()).is_none(),
        ),
        ("referenced table", parent_table_differs),
        (
            "referenced columns",
            agreed(fitting, |c| fk(c).parent_columns.clone()).is_none(),
        ),
        ("ON DELETE", on_delete_differs),
        ("ON UPDATE", on_update_differs),
        (
            "deferrability",
            agreed(fitting, |c| fk(c).deferrability).is_none(),
        ),
        ("partitioning", agreed(fitting, |c| c.parent_side).is_none()),
    ]
    .into_iter()
    .filter_map(|(what, differs)| differs.then_some(what))
    .collect();
    if differences.is_empty() {
        // The same definition in several schemas: all is known but which
        // schema failed, and `schema()` says that by being `None`.
        return;
    }
    const NAMED: usize = 5;
    let mut schemas: Vec<&str> = fitting.iter().map(|c| c.fk.schema.as_str()).collect();
    schemas.dedup();
    let mut listed = schemas
        .iter()
        .take(NAMED)
        .map(|s| crate::sql::quote_ident(s))
        .collect::<Vec<_>>()
        .join(", ");
    if schemas.len() > NAMED {
        listed.push_str(&format!(" and {} more", schemas.len() - NAMED));
    }
    violation.set_note(format!(
        "ambiguous: constraint \"{constraint}\" on table \"{table}\" exists in {} schemas ({listed}) that differ in {}, and the error does not say which schema's failed; only what they share is shown",
        schemas.len(),
        differences.join(", ")
    ));
}

impl ExplainFailure for Pg {
    fn explain<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
        violation: &mut FkViolation,
    ) {
        let (Some(table), Some(constraint)) = (
            violation.child_table().map(str::to_string),
            violation.constraint().map(str::to_string),
        ) else {
            return;
        };
        match matching_candidates(conn, cache, violation, &table, &constraint) {
            Ok(fitting) => apply_candidates(violation, fitting, &table, &constraint),
            Err(why) => {
                violation.set_catalog_error(Some(why));
                return;
            }
        }
        violation.set_catalog_error(None);
    }

    fn transaction<C, T, F>(conn: &mut C, cache: &CatalogCache, mut work: F) -> Result<T, Error>
    where
        C: LoadConnection<Backend = Self>,
        F: FnMut(&mut C) -> Result<T, Error>,
    {
        // Diesel rolls the transaction (or savepoint) back before returning
        // the error, so the catalog is readable again by then.
        match conn.transaction(|conn| work(conn)) {
            Err(Error::ForeignKey(mut violation)) => {
                Self::explain(conn, cache, &mut violation);
                Err(Error::ForeignKey(violation))
            }
            other => other,
        }
    }
}
