//! Configuration: `gs.toml`, built-in defaults and `GS_SECTION__KEY` overrides (cli.md).
//! Placeholder while the store compiles.
