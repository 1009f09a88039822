//! Shared helpers live in `util`; the test binary is `src/main.rs`.
