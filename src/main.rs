//! The `gs` command line (cli.md).
#![forbid(unsafe_code)]

fn main() {
    println!("gs {}", env!("CARGO_PKG_VERSION"));
}
