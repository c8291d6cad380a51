//! The model of the code the Rust rules judge: what a type is (does it hold a connection that can
//! be read), built once per file from its declarations and shared by the rules.

pub mod types;
