//! Rebuild when migrations or embedded assets change (they are compiled into the binary).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=assets");
}
