//! The examples refuse a DATABASE_URL they cannot use, naming the ones they
//! can, and exit non-zero, instead of running on SQLite without a word.

use std::path::PathBuf;
use std::process::Command;

/// The example binaries, built by Cargo into the target directory of this
/// test (`cargo test` builds examples; a lone `--test` run builds them here).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    // The same profile and features as this test, so that the binary is the
    // one `cargo test` built (and is not rebuilt differently).
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let features: Vec<&str> = [
        ("postgres", cfg!(feature = "postgres")),
        ("sqlite", cfg!(feature = "sqlite")),
        ("uuid", cfg!(feature = "uuid")),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(feature, _)| *feature)
    .collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--example", name, "--profile", &profile])
        .args(["--no-default-features", "--features", &features.join(",")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build --example");
    assert!(status.success(), "cargo build --example {name} failed");
    dir.join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn a_url_the_examples_cannot_use_is_an_error() {
    for name in ["quickstart", "seed", "bulk_load"] {
        let exe = example(name);
        let output = Command::new(&exe)
            .env("DATABASE_URL", "mysql://root:secret@127.0.0.1/shop")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} exited 0: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "{name} ran anyway: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        for usable in ["sqlite://", "postgres://", "postgresql://"] {
            assert!(stderr.contains(usable), "{name}: {stderr}");
        }
        assert!(
            !stderr.contains("secret"),
            "{name} repeats the password: {stderr}"
        );
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn a_sqlite_url_is_the_database_they_use() {
    let dir = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for name in ["quickstart", "seed", "bulk_load"] {
        let path = dir.join(format!(
            "fk_safe_{name}_{}_{nanos}.sqlite3",
            std::process::id()
        ));
        let output = Command::new(example(name))
            .env("DATABASE_URL", format!("sqlite://{}", path.display()))
            .output()
            .expect("run the example");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&path.display().to_string()),
            "{name}: {stdout}"
        );
        assert!(path.exists(), "{name} did not write {}", path.display());
        if name != "seed" {
            // A second run would write into an existing database: refused.
            let again = Command::new(example(name))
                .env("DATABASE_URL", path.display().to_string())
                .output()
                .expect("run the example");
            assert!(!again.status.success());
            assert!(String::from_utf8_lossy(&again.stderr).contains("existing SQLite file"));
        }
        let _ = std::fs::remove_file(&path);
    }
}
