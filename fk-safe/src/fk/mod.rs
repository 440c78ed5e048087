//! The foreign-key model: what a constraint is ([`ForeignKey`]), what a key
//! value is ([`KeyValue`]), and what a violation says ([`FkViolation`]).
//! Everything above builds on these words; nothing here reads a database
//! or parses its text.

mod foreign_key;
mod key_value;
mod violation;

pub use foreign_key::{Deferrability, FkAction, ForeignKey, MatchType};
pub use key_value::KeyValue;
pub(crate) use key_value::NATURAL_KEY_SEPARATOR;
pub(crate) use violation::Declaration;
pub use violation::{Database, FkViolation, RowOrigin, ViolationKind};
