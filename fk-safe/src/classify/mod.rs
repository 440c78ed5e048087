//! Classification: a Diesel error in, a foreign-key violation (or the same
//! error, untouched) out. No I/O happens here; each backend recognises its
//! own error shapes, because a `diesel::result::Error` does not say which
//! database produced it.

pub(crate) mod postgres;
mod shape;
mod sqlite;

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

use crate::fk::{Database, Declaration, FkViolation, ViolationKind};
use shape::{ErrorShape, Recognised};

/// Turns a foreign-key failure into an [`FkViolation`]; gives every other
/// error back unchanged.
pub(crate) fn classify(error: DieselError) -> Result<FkViolation, DieselError> {
    let recognised = match &error {
        DieselError::DatabaseError(kind, info) => recognise_any(kind, info.as_ref()),
        _ => None,
    };
    match recognised {
        Some((backend, found)) => {
            let mut violation = FkViolation::new(
                found.kind.unwrap_or(ViolationKind::Undetermined),
                backend,
                error,
            );
            violation.declare(Declaration {
                constraint: found.constraint,
                child_table: found.child_table,
                ..Declaration::default()
            });
            violation.set_detail(found.detail);
            Ok(violation)
        }
        None => Err(error),
    }
}

fn recognise_any(
    kind: &DatabaseErrorKind,
    info: &dyn DatabaseErrorInformation,
) -> Option<(Database, Recognised)> {
    fn attempt<S: ErrorShape>(
        kind: &DatabaseErrorKind,
        info: &dyn DatabaseErrorInformation,
    ) -> Option<(Database, Recognised)> {
        S::recognise(kind, info).map(|r| (S::BACKEND, r))
    }
    attempt::<postgres::PostgresShape>(kind, info)
        .or_else(|| attempt::<sqlite::SqliteShape>(kind, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Info {
        message: String,
        details: Option<String>,
        table: Option<String>,
        constraint: Option<String>,
    }

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            &self.message
        }
        fn details(&self) -> Option<&str> {
            self.details.as_deref()
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            self.table.as_deref()
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint.as_deref()
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn pg(kind: DatabaseErrorKind, message: &str, detail: &str) -> DieselError {
        DieselError::DatabaseError(
            kind,
            Box::new(Info {
                message: message.into(),
                details: Some(detail.into()),
                table: Some("orders".into()),
                constraint: Some("orders_customer_id_fkey".into()),
            }),
        )
    }

    #[test]
    fn postgres_insert_is_missing_parent() {
        let v = classify(pg(
            DatabaseErrorKind::ForeignKeyViolation,
            r#"insert or update on table "orders" violates foreign key constraint "orders_customer_id_fkey""#,
            r#"Key (customer_id)=(999) is not present in table "customers"."#,
        ))
        .unwrap();
        assert_eq!(v.kind(), ViolationKind::MissingParent);
        assert_eq!(v.database(), Database::Postgres);
        assert_eq!(v.child_table(), Some("orders"));
        assert_eq!(v.constraint(), Some("orders_customer_id_fkey"));
        // Columns and values need the catalog; classification never guesses them.
        assert!(v.child_columns().is_empty());
        assert!(v.key_values().is_none());
    }

    #[test]
    fn postgres_delete_is_still_referenced() {
        let v = classify(pg(
            DatabaseErrorKind::ForeignKeyViolation,
            r#"update or delete on table "customers" violates foreign key constraint "orders_customer_id_fkey" on table "orders""#,
            r#"Key (id)=(1) is still referenced from table "orders"."#,
        ))
        .unwrap();
        assert_eq!(v.kind(), ViolationKind::StillReferenced);
    }

    #[test]
    fn postgres_restrict_is_still_referenced_whatever_the_language() {
        let v = classify(pg(DatabaseErrorKind::RestrictViolation, "irgendwas", "")).unwrap();
        assert_eq!(v.kind(), ViolationKind::StillReferenced);
    }

    #[test]
    fn postgres_translated_message_is_undetermined_until_explained() {
        let v = classify(pg(
            DatabaseErrorKind::ForeignKeyViolation,
            "Einfügen oder Aktualisieren in Tabelle »orders« verletzt Fremdschlüssel-Constraint »orders_customer_id_fkey«",
            "Schlüssel (customer_id)=(999) ist nicht in Tabelle »customers« vorhanden.",
        ))
        .unwrap();
        assert_eq!(v.kind(), ViolationKind::Undetermined);
    }

    #[test]
    fn sqlite_failures() {
        let plain = DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            Box::new("FOREIGN KEY constraint failed".to_string()),
        );
        let v = classify(plain).unwrap();
        assert_eq!(v.database(), Database::Sqlite);
        assert_eq!(v.kind(), ViolationKind::Undetermined);

        // RESTRICT (extended code 1811) reaches Diesel 2.3 as `Unknown`.
        let restrict = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("FOREIGN KEY constraint failed".to_string()),
        );
        assert_eq!(
            classify(restrict).unwrap().kind(),
            ViolationKind::StillReferenced
        );
    }

    #[test]
    fn other_errors_pass_through_unchanged() {
        let unique = DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("UNIQUE constraint failed: customers.email".to_string()),
        );
        assert!(matches!(
            classify(unique),
            Err(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        ));
        assert!(matches!(
            classify(DieselError::NotFound),
            Err(DieselError::NotFound)
        ));
        // A foreign-key kind with neither shape is not ours to explain.
        let odd = DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            Box::new("something else".to_string()),
        );
        assert!(classify(odd).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn kind() -> impl Strategy<Value = DatabaseErrorKind> {
            prop_oneof![
                Just(DatabaseErrorKind::ForeignKeyViolation),
                Just(DatabaseErrorKind::RestrictViolation),
                Just(DatabaseErrorKind::Unknown),
                Just(DatabaseErrorKind::UniqueViolation),
                Just(DatabaseErrorKind::CheckViolation),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Any error shape is classified or handed back, without panics,
            /// and a handed-back error is the very same error.
            #[test]
            fn any_error_shape(
                kind in kind(),
                message in any::<String>(),
                details in any::<Option<String>>(),
                table in any::<Option<String>>(),
                constraint in any::<Option<String>>(),
            ) {
                let error = DieselError::DatabaseError(kind, Box::new(Info {
                    message: message.clone(), details, table, constraint,
                }));
                match classify(error) {
                    Ok(violation) => {
                        let _ = violation.to_string();
                        prop_assert_eq!(violation.database_message(), message.as_str());
                    }
                    Err(DieselError::DatabaseError(_, info)) => prop_assert_eq!(info.message(), message.as_str()),
                    Err(other) => prop_assert!(false, "changed error: {:?}", other),
                }
            }
        }
    }
}
