//! fk-safe's error type.

use crate::classify;
use crate::violation::FkViolation;

/// Everything that can go wrong in fk-safe, with foreign-key failures
/// singled out so that a handler can match on them.
///
/// `From<diesel::result::Error>` classifies without any I/O, so `?` works in
/// a function returning `Result<_, fk_safe::Error>`:
///
/// ```
/// use diesel::prelude::*;
/// use diesel::result::{DatabaseErrorKind, Error as DieselError};
///
/// fn create_order() -> Result<(), fk_safe::Error> {
///     // Stands in for `diesel::insert_into(orders::table)...execute(conn)?`.
///     let failed: QueryResult<usize> = Err(DieselError::DatabaseError(
///         DatabaseErrorKind::ForeignKeyViolation,
///         Box::new("FOREIGN KEY constraint failed".to_string()),
///     ));
///     failed?;
///     Ok(())
/// }
///
/// match create_order() {
///     Err(fk_safe::Error::ForeignKey(violation)) => println!("{violation}"),
///     Err(other) => panic!("unexpected: {other}"),
///     Ok(()) => panic!("the insert cannot succeed"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A foreign-key constraint failed. Boxed to keep `Result<T, Error>` small.
    #[error(transparent)]
    ForeignKey(Box<FkViolation>),
    /// Any other database error, unchanged.
    #[error(transparent)]
    Database(diesel::result::Error),
}

impl Error {
    /// The foreign-key violation, if this error is one.
    pub fn as_violation(&self) -> Option<&FkViolation> {
        match self {
            Error::ForeignKey(v) => Some(v),
            Error::Database(_) => None,
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        match classify::classify(error) {
            Ok(violation) => Error::ForeignKey(Box::new(violation)),
            Err(other) => Error::Database(other),
        }
    }
}

impl From<FkViolation> for Error {
    fn from(violation: FkViolation) -> Self {
        Error::ForeignKey(Box::new(violation))
    }
}
