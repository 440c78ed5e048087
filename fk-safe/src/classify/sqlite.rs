//! SQLite: every foreign-key failure reads `FOREIGN KEY constraint failed`,
//! with no table, constraint or key. Extended code 787 arrives as
//! `ForeignKeyViolation`; RESTRICT (1811) arrives in Diesel 2.3 as `Unknown`
//! with the same message. SQLite never translates its messages.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use super::shape::{ErrorShape, Recognised};
use crate::fk::{Database, ViolationKind};

pub(super) struct SqliteShape;

const MESSAGE: &str = "FOREIGN KEY constraint failed";

impl ErrorShape for SqliteShape {
    const BACKEND: Database = Database::Sqlite;

    fn recognise(
        kind: &DatabaseErrorKind,
        info: &dyn DatabaseErrorInformation,
    ) -> Option<Recognised> {
        if info.message() != MESSAGE || info.constraint_name().is_some() {
            return None;
        }
        let kind = match kind {
            // 787 is raised for both directions: an insert with a missing
            // parent and a delete of a referenced parent look the same.
            DatabaseErrorKind::ForeignKeyViolation => None,
            // Only RESTRICT actions, which act on the parent side, reach
            // Diesel as `Unknown` with this message.
            DatabaseErrorKind::Unknown => Some(ViolationKind::StillReferenced),
            _ => return None,
        };
        Some(Recognised {
            kind,
            ..Recognised::default()
        })
    }
}
