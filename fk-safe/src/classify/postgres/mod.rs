//! PostgreSQL: SQLSTATE 23503 (`ForeignKeyViolation`) and 23001
//! (`RestrictViolation`, raised by PostgreSQL 18 for ON DELETE/UPDATE
//! RESTRICT). The error's table and constraint fields are never translated
//! and always name the referencing (child) table.

// Only the PostgreSQL backend reads key values and declarations.
#[cfg(feature = "postgres")]
pub(crate) mod detail;
#[cfg(feature = "postgres")]
pub(crate) mod fit;

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use super::shape::{ErrorShape, Recognised};
use crate::fk::{Database, ViolationKind};

pub(super) struct PostgresShape;

/// The untranslated (English, `lc_messages = C`) message openings. They are
/// recognised as whole templates, never parsed for names; a translated
/// message leaves the kind to the catalog (see [`fit::infer_kind`]).
const MISSING_PARENT_OPENING: &str = "insert or update on table \"";
const STILL_REFERENCED_OPENING: &str = "update or delete on table \"";

impl ErrorShape for PostgresShape {
    const BACKEND: Database = Database::Postgres;

    fn recognise(
        kind: &DatabaseErrorKind,
        info: &dyn DatabaseErrorInformation,
    ) -> Option<Recognised> {
        // PostgreSQL always fills the constraint field for these two codes;
        // SQLite never does, which is what tells the backends apart.
        let constraint = info.constraint_name()?;
        let kind = match kind {
            DatabaseErrorKind::RestrictViolation => Some(ViolationKind::StillReferenced),
            DatabaseErrorKind::ForeignKeyViolation => kind_from_template(info.message()),
            _ => return None,
        };
        Some(Recognised {
            kind,
            constraint: Some(constraint.to_string()),
            child_table: info.table_name().map(str::to_string),
            detail: info.details().map(str::to_string),
        })
    }
}

fn kind_from_template(message: &str) -> Option<ViolationKind> {
    if message.starts_with(MISSING_PARENT_OPENING) {
        Some(ViolationKind::MissingParent)
    } else if message.starts_with(STILL_REFERENCED_OPENING) {
        Some(ViolationKind::StillReferenced)
    } else {
        None
    }
}
