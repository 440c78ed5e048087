//! A key value as fk-safe carries it between rows: from a parent's
//! `RETURNING` to its children's foreign-key columns, and into the values a
//! violation reports.

/// A generated key, as fk-safe carries it from a parent's `RETURNING` to its
/// children's foreign-key columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyValue {
    /// An integer key (SQLite rowid, PostgreSQL serial, identity or bigint).
    Int(i64),
    /// A text key (a code, a UUID kept as text).
    Text(String),
    /// A UUID key (PostgreSQL `uuid`; a 16-byte BLOB on SQLite).
    #[cfg(feature = "uuid")]
    Uuid(uuid::Uuid),
    /// A composite key, its parts in key-column order.
    Composite(Vec<KeyValue>),
}

impl KeyValue {
    /// The value of key column `index`: a composite key's column, or, for
    /// a single-column key, the key itself at column 0.
    pub fn column(&self, index: usize) -> Option<&KeyValue> {
        match self {
            KeyValue::Composite(parts) => parts.get(index),
            single if index == 0 => Some(single),
            _ => None,
        }
    }
}

impl std::fmt::Display for KeyValue {
    /// The key as the database prints it with `CAST(key AS TEXT)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyValue::Int(value) => write!(f, "{value}"),
            KeyValue::Text(value) => f.write_str(value),
            #[cfg(feature = "uuid")]
            KeyValue::Uuid(value) => write!(f, "{}", value.hyphenated()),
            KeyValue::Composite(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        write!(f, "{NATURAL_KEY_SEPARATOR}")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// The separator between the parts of a composite natural key (U+001F, the
/// unit separator, which no sane key contains).
pub(crate) const NATURAL_KEY_SEPARATOR: char = '\u{1f}';
