//! The binary deploys alone: libpq (with its OpenSSL) and SQLite are linked in, so a bare
//! Debian or Ubuntu server needs no database client library (checked with `ldd`).

use crate::helpers::TestResult;

#[test]
fn the_binary_needs_no_database_client_library() -> TestResult {
    let out = std::process::Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_sipas"))
        .output()?;
    assert!(out.status.success(), "ldd failed");
    let libraries = String::from_utf8(out.stdout)?;
    for absent in [
        "libpq",
        "libssl",
        "libcrypto",
        "libgssapi",
        "libldap",
        "libkrb5",
        "libsqlite",
    ] {
        assert!(
            !libraries.contains(absent),
            "{absent} is linked dynamically:\n{libraries}"
        );
    }
    assert!(libraries.contains("libc.so"), "{libraries}");
    Ok(())
}
