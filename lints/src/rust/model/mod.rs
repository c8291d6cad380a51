//! The model of the code the Rust rules judge: which calls and types make a socket, a listener
//! or a connection that can be read ([`sockets`]: the known APIs by name; [`types`]: what a
//! declared type is, with generics, bounds, wrappers, containers and the file's own structs;
//! [`channels`]: which values are a channel's sending end).
//! Built once per file and shared by every rule; it depends only on [`super::syntax`].

pub mod channels;
pub mod sockets;
pub mod types;
