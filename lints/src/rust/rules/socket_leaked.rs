use std::collections::HashSet;

use syn::visit::Visit;

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::leaks::{inheritable_accepts, judge_raw, FdOwners, RawFd, Sinks};
use crate::rust::model::sockets::{accepted_names, Shape};
use crate::rust::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags an accepted connection that nothing will ever close:
    /// - the socket from `accept()` (std, tokio, mio, async-std, smol, socket2) or an
    ///   `incoming()` item passed to `std::mem::forget`, `Box::leak` or `ManuallyDrop::new`, or
    ///   given up with `into_raw_fd()` / `into_raw_socket()` / `Box::into_raw` whose result is
    ///   thrown away;
    /// - a raw fd, from `into_raw_fd()`, from `libc::accept` / `accept4` or nix's `accept`, or
    ///   from a function of the file that returns one of those (`fn accept_retrying(fd: i32)
    ///   -> Result<i32>`), that the function only reads, writes or shuts down, never closing it, wrapping it
    ///   (`from_raw_fd`), returning it, storing it or handing it to another function;
    /// - an accepted fd stored in a raw-fd field (`fd: RawFd`) of a struct of the file that has
    ///   no `Drop` impl, in a file that never closes a raw fd: by a struct literal, or through
    ///   an associated function of that struct that stores its parameter there
    ///   (`T::from_raw_fd(fd)` of the struct's own `impl FromRawFd`, which takes nothing over);
    /// - a connection accepted without close-on-exec: `libc::accept` or nix's `accept`, or
    ///   `accept4` whose flags do not include `SOCK_CLOEXEC`. A child process the program
    ///   starts inherits the descriptor and keeps the connection open after this process has
    ///   closed its copy (std and tokio always set the flag). Code compiled only where Linux
    ///   is left out (`#[cfg(not(target_os = "linux"))]`), where `accept4` may not exist, is
    ///   not judged for the flag.
    ///
    /// It stays silent when ownership goes anywhere it cannot see: a raw fd passed to any
    /// function other than a libc/nix call that only borrows it (`read`, `write`, `send`,
    /// `setsockopt`, `shutdown`...), returned or stored counts as closed, and `forget` is not a
    /// leak when the socket's fd was first handed to a new owner. Tests are not checked.
    ///
    /// ## Why is this bad?
    /// A socket is closed when its last owner is dropped. When the peer closes its side, its FIN
    /// is acknowledged by the kernel and the connection moves to CLOSE_WAIT, where it stays until
    /// this process calls close(). A leaked socket is never closed: the connection sits in
    /// CLOSE_WAIT, and its file descriptor and kernel buffers are held until the process exits.
    /// Every leaked connection costs one descriptor, so a busy server reaches its `ulimit -n`,
    /// `accept()` starts failing with EMFILE, and new clients are refused or time out. A raw fd
    /// that was `shutdown()` but never closed has sent its FIN, so its connection ends without
    /// CLOSE_WAIT, but the descriptor is held all the same. Both are measured on this rule's
    /// fixtures in `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// for stream in listener.incoming() {
    ///     let fd = stream?.into_raw_fd();
    ///     unsafe { libc::write(fd, RESPONSE.as_ptr().cast(), RESPONSE.len()) };
    ///     // nothing closes `fd`: the connection stays in CLOSE_WAIT
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// for stream in listener.incoming() {
    ///     let mut stream = stream?;
    ///     stream.write_all(RESPONSE)?;
    /// } // `stream` is dropped here, which closes the connection
    /// ```
    pub SOCKET_LEAKED {
        code: "RS003",
        name: "socket-leaked",
        family: Rust,
        severity: Error,
        summary: "an accepted socket is leaked (forgotten, or turned into a raw fd nothing closes), so its connection sits in CLOSE_WAIT",
        fixable: false,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = ctx.analysis.imports();
    let owners = FdOwners::of(imports, ctx.file);
    let mut leaks = Vec::new();
    // Only a file that names `accept` can call libc's or nix's.
    let raw_accepts = memchr::memmem::find(ctx.source.as_bytes(), b"accept").is_some();
    for f in ctx.analysis.non_test_functions() {
        if raw_accepts {
            leaks.extend(inheritable_accepts(imports, f));
        }
        let names = accepted_names(imports, f.block);
        if names.is_empty() {
            continue;
        }
        let mut sinks = Sinks {
            imports,
            names: &names,
            block: f.block,
            source: ctx.source,
            leaks: Vec::new(),
            raw: Vec::new(),
        };
        sinks.visit_block(f.block);
        leaks.append(&mut sinks.leaks);
        let mut raw = sinks.raw;
        raw.extend(
            names
                .iter()
                .filter(|(_, a)| a.shape == Shape::RawFd)
                .map(|(n, a)| RawFd {
                    name: n.clone(),
                    from: a.site,
                    accepted: a.site,
                    how: "accept",
                }),
        );
        for fd in raw {
            leaks.extend(judge_raw(imports, f.block, &fd, &owners));
        }
    }
    let mut seen = HashSet::new();
    for leak in leaks.into_iter().filter(|l| seen.insert(l.at)) {
        let mut d = Diagnostic::new(&SOCKET_LEAKED, Location::new(0, leak.at), leak.message)
            .primary_label(leak.label);
        if leak.accepted != leak.at {
            d = d.label(
                Location::new(0, leak.accepted),
                "the connection is accepted here",
            );
        }
        for (span, label) in leak.extra {
            d = d.label(Location::new(0, span), label);
        }
        out.push(d.note(leak.note).help(leak.help));
    }
}
