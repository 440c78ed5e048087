//! Which database the command reads, and opening it read-only.
//!
//! A SQLite path that does not exist is refused here: SQLite would create
//! an empty database there and the report would call it clean.

use std::path::{Path, PathBuf};

use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

use crate::error::CliError;

/// The database named on the command line (or by `DATABASE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `postgres://` or `postgresql://` URL, passed to libpq as given.
    Postgres(String),
    /// An existing SQLite file.
    Sqlite {
        /// The file, as the user named it (for messages).
        path: PathBuf,
        /// The URI it is opened with: the canonical path, `mode=ro`.
        uri: String,
    },
}

impl Target {
    /// Reads `DATABASE`: a PostgreSQL URL, `sqlite://path`, a SQLite
    /// `file:` URI or a plain path. Checks that a SQLite file exists, is a
    /// file, and that nothing asks to open it other than read-only.
    pub fn parse(database: &str) -> Result<Target, CliError> {
        if database.is_empty() {
            return Err(CliError::Usage(
                "the database is empty: give a postgres:// URL or a SQLite file".into(),
            ));
        }
        let lower = database.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Target::Postgres(database.to_string()));
        }
        if let Some(rest) = strip_prefix_ignore_case(database, "sqlite://") {
            // Diesel's reading: `sqlite://x` is the SQLite URI `file:x`.
            return Target::sqlite_uri(database, rest);
        }
        if let Some(rest) = strip_prefix_ignore_case(database, "file:") {
            return Target::sqlite_uri(database, rest);
        }
        if let Some((scheme, _)) = database.split_once("://") {
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Err(CliError::Usage(format!(
                    "unsupported database `{scheme}://..`: fk-safe reads PostgreSQL \
                     (postgres://, postgresql://) and SQLite (a file path, sqlite://path or file:path)"
                )));
            }
        }
        Target::sqlite_file(database, Path::new(database), Vec::new())
    }

    /// `file:` URI (or `sqlite://`) after its scheme: a path, percent-
    /// encoded, with an optional `//` or `//localhost` authority and query.
    fn sqlite_uri(original: &str, rest: &str) -> Result<Target, CliError> {
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let path = path.split_once('#').map_or(path, |(path, _)| path);
        let path = if let Some(after) = path.strip_prefix("//") {
            // `file://host/path`: only no host or localhost means this machine.
            let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                return Err(CliError::Usage(format!(
                    "`{original}` names the host `{host}`: a SQLite file must be on this machine"
                )));
            }
            path
        } else {
            path
        };
        let path = percent_decode(path).ok_or_else(|| {
            CliError::Usage(format!(
                "`{original}` is not a valid SQLite URI (bad %-escape or not UTF-8)"
            ))
        })?;
        let mut kept = Vec::new();
        for parameter in query.into_iter().flat_map(|q| q.split('&')) {
            if parameter.is_empty() {
                continue;
            }
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            if key == "mode" {
                if value != "ro" {
                    return Err(CliError::Usage(format!(
                        "`{original}` asks for mode={value}: fk-safe opens SQLite read-only \
                         (mode=ro) and never writes; remove the mode parameter"
                    )));
                }
                continue;
            }
            kept.push(parameter.to_string());
        }
        Target::sqlite_file(original, Path::new(&path), kept)
    }

    fn sqlite_file(
        original: &str,
        path: &Path,
        parameters: Vec<String>,
    ) -> Result<Target, CliError> {
        if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
            return Err(CliError::Usage(format!(
                "`{original}` is not a file: an in-memory or temporary SQLite database \
                 is always empty; give the path of an existing SQLite file"
            )));
        }
        let missing = |reason: &str| {
            CliError::Usage(format!(
                "no SQLite database at `{}`: {reason} (fk-safe does not create one; \
                 for PostgreSQL give a postgres:// URL)",
                path.display()
            ))
        };
        let canonical = match std::fs::canonicalize(path) {
            Ok(canonical) => canonical,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(missing("the file does not exist"))
            }
            Err(error) => return Err(missing(&format!("it cannot be read ({error})"))),
        };
        if !canonical.is_file() {
            return Err(missing("it is not a file"));
        }
        let Some(text) = canonical.to_str() else {
            return Err(CliError::Usage(format!(
                "the path `{}` is not valid UTF-8, which a SQLite URI needs",
                path.display()
            )));
        };
        let mut uri = format!("file:{}?mode=ro", percent_encode(text));
        for parameter in parameters {
            uri.push('&');
            uri.push_str(&parameter);
        }
        Ok(Target::Sqlite {
            path: path.to_path_buf(),
            uri,
        })
    }

    /// `postgresql` or `sqlite`, as the JSON document names the backend.
    pub fn backend(&self) -> &'static str {
        match self {
            Target::Postgres(_) => "postgresql",
            Target::Sqlite { .. } => "sqlite",
        }
    }

    /// What to call the database in messages: the SQLite path, or the
    /// PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres(url) => redact_password(url),
            Target::Sqlite { path, .. } => path.display().to_string(),
        }
    }
}

/// An open, read-only connection.
pub enum Db {
    /// PostgreSQL; every scan runs in a `REPEATABLE READ READ ONLY`
    /// transaction.
    Postgres(PgConnection),
    /// SQLite, opened with `mode=ro`.
    Sqlite(SqliteConnection),
}

impl Db {
    /// Connects to `target`.
    pub fn open(target: &Target) -> Result<Db, CliError> {
        let failed = |source: ConnectionError| CliError::Connect {
            database: target.describe(),
            source,
        };
        Ok(match target {
            Target::Postgres(url) => Db::Postgres(PgConnection::establish(url).map_err(failed)?),
            Target::Sqlite { uri, .. } => {
                Db::Sqlite(SqliteConnection::establish(uri).map_err(failed)?)
            }
        })
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Escapes everything but unreserved characters and `/`, so that `?`, `#`
/// and `%` in a file name stay part of the path in the URI.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `postgres://user:secret@host/db?password=x` as
/// `postgres://user:***@host/db?password=***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => parameter.to_string(),
                })
                .collect();
            format!("{path}?{}", parameters.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            Target::parse("postgres://127.0.0.1/x").unwrap(),
            Target::Postgres("postgres://127.0.0.1/x".into())
        );
        assert_eq!(
            Target::parse("PostgreSQL://h/x").unwrap().backend(),
            "postgresql"
        );
        assert!(matches!(
            Target::parse("mysql://root@localhost/test"),
            Err(CliError::Usage(m)) if m.contains("unsupported database `mysql://..`")
        ));
    }

    #[test]
    fn missing_or_memory_sqlite_is_refused() {
        for database in [
            "/no/such/file.sqlite3",
            "sqlite:///no/such/file.sqlite3",
            "file:/no/such/file.sqlite3",
            ":memory:",
            "file::memory:",
            "sqlite://",
        ] {
            assert!(
                matches!(Target::parse(database), Err(CliError::Usage(_))),
                "{database}"
            );
        }
    }

    #[test]
    fn an_existing_file_opens_read_only_with_its_name_escaped() {
        let dir = std::env::temp_dir().join(format!("fk-safe-cli-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a ?#%ü.db");
        std::fs::write(&file, b"").unwrap();
        let Target::Sqlite { uri, .. } = Target::parse(file.to_str().unwrap()).unwrap() else {
            panic!("not SQLite")
        };
        assert!(uri.ends_with("/a%20%3F%23%25%C3%BC.db?mode=ro"), "{uri}");
        let encoded = format!(
            "file:{}?cache=private",
            percent_encode(file.to_str().unwrap())
        );
        let Target::Sqlite { uri: again, .. } = Target::parse(&encoded).unwrap() else {
            panic!("not SQLite")
        };
        assert_eq!(again, format!("{uri}&cache=private"));
        assert!(matches!(
            Target::parse(&format!("{encoded}&mode=rwc")),
            Err(CliError::Usage(m)) if m.contains("mode=rwc")
        ));
        assert!(matches!(
            Target::parse(dir.to_str().unwrap()),
            Err(CliError::Usage(m)) if m.contains("not a file")
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact_password("postgres://u:s3cret@h:5/db?x=1"),
            "postgres://u:***@h:5/db?x=1"
        );
        assert_eq!(redact_password("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact_password("postgres://h/db?user=u&password=s3cret"),
            "postgres://h/db?user=u&password=***"
        );
    }
}
