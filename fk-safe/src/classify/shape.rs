//! What each backend's recognizer answers: whether an error is its
//! foreign-key failure, and what its fields alone tell.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

use crate::fk::{Database, ViolationKind};

/// What a backend can tell from an error's fields alone.
#[derive(Debug, Default)]
pub(crate) struct Recognised {
    pub(crate) kind: Option<ViolationKind>,
    pub(crate) constraint: Option<String>,
    pub(crate) child_table: Option<String>,
    pub(crate) detail: Option<String>,
}

/// One backend's knowledge of what its foreign-key errors look like.
pub(crate) trait ErrorShape {
    const BACKEND: Database;

    /// `Some` when the error is this backend's foreign-key failure.
    fn recognise(
        kind: &DatabaseErrorKind,
        info: &dyn DatabaseErrorInformation,
    ) -> Option<Recognised>;
}
