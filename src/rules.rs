//! The contest's rules, in plain Rust. Organizers edit this file.
