use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::Expr;

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::accept_loops::{
    borrows_self, dropped_between, exits_on_error, keeps_running, raw_listener_exits, runs_method,
    self_field, shared_names, Share,
};
use crate::rust::flow::listeners::{destructured, kept_open, verdict, Binds, Verdict, ACCEPTING};
use crate::rust::flow::mio_tokens::{register_token, HandledTokens};
use crate::rust::flow::tasks::{local_name, mentions, task_body, Body, Spawns};
use crate::rust::model::sockets::{
    contains, structs, token_matches, uses, uses_in_file, Function, Imports, Target, Use, UseKind,
};
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags a listening socket that nothing accepts from:
    /// - a listener bound in a function (`TcpListener::bind` / `UnixListener::bind` of std,
    ///   tokio, mio, async-std, async-net or smol, or a socket2 `Socket` after `listen`) that the
    ///   function keeps open (it loops or awaits afterwards) without ever calling `accept`,
    ///   `incoming` or `poll_accept` on it, handing it to another function, returning it,
    ///   dropping it or storing it;
    /// - a listener stored in a private field of a struct of the file that no code of the file
    ///   accepts from or hands over;
    /// - a mio listener registered with a token (`registry.register(&mut listener, SERVER, ..)`)
    ///   that no arm of the file's `match event.token()` handles;
    /// - an accept loop that leaves on its first accept error (`listener.accept()?`, an `Err`
    ///   arm that breaks or returns, `while let Ok(..) = listener.accept()`, `let s = s?` over
    ///   `incoming()`) while another owner keeps the listener open: the loop runs in a spawned
    ///   task or thread on an `Arc` clone (`let l = Arc::clone(&listener)`, or a clone of
    ///   `self.listener`) and the spawner keeps running with the original, or it is a `&self`
    ///   method run by a task on a clone of the `Arc` that holds the struct;
    /// - an accept loop on a raw listening descriptor (`accept4(fd, ..)` of libc or nix, in the
    ///   function or in a task it spawns) that leaves on its first accept error (an `Err` arm
    ///   that breaks or returns, `?`, `if conn < 0 { return .. }`) when the function never
    ///   closes the descriptor: a raw fd is a number, so ending the loop closes nothing. A
    ///   descriptor borrowed from a listener (`let fd = listener.as_raw_fd()`) is its owner's
    ///   to close.
    ///
    /// A loop that owns its listener (moved in, not shared), one that logs the error and
    /// continues, and one whose error propagates to `main` are not flagged: when they end, the
    /// listener is closed.
    ///
    /// A listener given to anything (`axum::serve(listener, app)`, `TcpListenerStream::new`, a
    /// function of the crate), moved into a task, or used in a way the analysis cannot follow
    /// counts as accepted from. Tests are not checked.
    ///
    /// ## Why is this bad?
    /// The kernel does not wait for `accept()`: it completes every handshake on a listening
    /// socket and queues the connection in the backlog. Clients see a successful connect, send
    /// their request and wait; when they give up and close, the kernel acknowledges their FIN
    /// and the queued connection moves to CLOSE_WAIT, where it stays, because this process never
    /// accepts it and so never closes it. The connections and their buffers are held until the
    /// listener is closed, which for a server's listener means until the process exits. Once
    /// the backlog is full, the kernel drops new connection attempts: clients time out instead
    /// of being refused, which is slower to notice and to diagnose. (No descriptor is allocated
    /// before `accept()`, so unlike a leaked socket this does not end in EMFILE.)
    ///
    /// An accept loop that stops at the first error strands its listener the same way, and it
    /// stops under load: `accept()` fails transiently with EMFILE/ENFILE when descriptors run
    /// out and with ECONNABORTED when a client resets before it is accepted. If the loop was
    /// the listener's last owner the listener closes and clients are refused; when an `Arc`
    /// or a struct keeps it open, the backlog fills with connections nobody will accept.
    /// Measured on this rule's fixtures in `docs/evidence.md`: 20 connections in CLOSE_WAIT,
    /// none of them holding a descriptor of the process (they sit in the backlog).
    ///
    /// ## Example
    /// ```rust
    /// match event.token() {
    ///     // the listener was registered with SERVER, but no arm handles it:
    ///     // new connections are never accepted
    ///     token => handle_client(token),
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// match event.token() {
    ///     SERVER => loop {
    ///         match listener.accept() {
    ///             Ok((stream, _)) => register(stream),
    ///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
    ///             Err(e) => return Err(e),
    ///         }
    ///     },
    ///     token => handle_client(token),
    /// }
    /// ```
    pub LISTENER_NEVER_ACCEPTED {
        code: "RS004",
        name: "listener-never-accepted",
        family: Rust,
        severity: Error,
        summary: "a bound listener is never accepted from, so the kernel queues connections that sit in CLOSE_WAIT when clients give up",
        fixable: false,
    }
}

const NOTE: &str = "the kernel completes the handshake of every connection to a listening socket and queues it for accept(); clients send their request and wait, and when they give up, their FIN is acknowledged by the kernel and the queued connection sits in CLOSE_WAIT, because this process never accepts it and so never closes it; the connections and their buffers are held until the listener is closed (for a listener that lives as long as the process, until it exits), and once the backlog is full the kernel drops new connection attempts, so clients time out instead of being refused";

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = ctx.analysis.imports();
    let fns = ctx.analysis.functions();
    let (structs, _) = structs(ctx.file);
    // Fields that hold a listener, with where it is stored and bound.
    let mut fields: Vec<(Span, String, String, Span)> = Vec::new();
    let mut locals: HashMap<usize, Vec<(String, Span)>> = HashMap::new();
    for (i, f) in fns.iter().enumerate().filter(|(_, f)| !f.is_test) {
        let mut binds = Binds {
            imports,
            locals: Vec::new(),
            stored: Vec::new(),
        };
        binds.visit_block(f.block);
        fields.extend(binds.stored);
        // `let _guard = ..`: a listener kept on purpose (a reserved port), not forgotten.
        for (name, ctor, after, socket2) in binds
            .locals
            .into_iter()
            .filter(|(n, ..)| !n.starts_with('_'))
        {
            let uses: Vec<Use> = uses(imports, f.block, &Target::Local(name.clone()))
                .into_iter()
                .filter(|u| u.span.start >= after)
                .collect();
            if socket2
                && !uses
                    .iter()
                    .any(|u| matches!(&u.kind, UseKind::Receiver { method } if method == "listen"))
            {
                continue;
            }
            locals.entry(i).or_default().push((name.clone(), ctor));
            let verdicts: Vec<Verdict> = uses.iter().map(verdict).collect();
            if verdicts.contains(&Verdict::Handled) {
                continue;
            }
            if let Some(Verdict::Stored(at, ty, field)) = verdicts
                .into_iter()
                .find(|v| matches!(v, Verdict::Stored(..)))
            {
                fields.push((at, ty, field, ctor));
                continue;
            }
            if let Some(kept) = kept_open(f, after) {
                out.push(
                    Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, ctor), format!("listener `{name}` is bound but never accepted from"))
                        .primary_label(format!("`{name}` is bound here; nothing calls `accept` on it or hands it over"))
                        .label(Location::new(0, kept), format!("`{}` keeps running here with the listener open", f.name))
                        .note(NOTE)
                        .help("accept from the listener (or hand it to the server that does), or drop it as soon as it is not needed"),
                );
            }
        }
    }
    let mut reported = HashSet::new();
    for (at, ty, field, ctor) in &fields {
        let Some(def) = structs.get(ty) else { continue };
        if def
            .fields
            .iter()
            .any(|(n, _, public)| n == field && *public)
            || !reported.insert(field.clone())
        {
            continue;
        }
        let handled = uses_in_file(imports, fns, &Target::Field(field.clone()))
            .iter()
            .any(|u| verdict(u) != Verdict::Neutral)
            || destructured(ctx.file, field);
        if !handled {
            out.push(
                Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, *at), format!("the listener stored in `{ty}::{field}` is never accepted from"))
                    .primary_label(format!("stored here; no code of this file accepts from `.{field}` or hands it over"))
                    .label(Location::new(0, *ctor), "the listener is bound here")
                    .note(NOTE)
                    .help(format!("accept from `self.{field}` in the event loop (or hand it to the server that does), or do not keep a listener nobody serves")),
            );
        }
    }
    mio_tokens(ctx, imports, fns, &locals, &fields, out);
    accept_exits(fns, out);
    // Only a file that names `accept` can call libc's or nix's.
    if memchr::memmem::find(ctx.source.as_bytes(), b"accept").is_some() {
        raw_accept_exits(imports, fns, out);
    }
}

/// The mio case: a listener registered with a token no `match event.token()` arm handles.
fn mio_tokens(
    ctx: &Context<'_>,
    imports: &Imports,
    fns: &[Function<'_>],
    locals: &HashMap<usize, Vec<(String, Span)>>,
    fields: &[(Span, String, String, Span)],
    out: &mut Vec<Diagnostic>,
) {
    let matches = token_matches(ctx.file);
    if matches.is_empty() {
        return;
    }
    let handled = HandledTokens::of(ctx.file, ctx.source, &matches);
    for (i, f) in fns.iter().enumerate().filter(|(_, f)| !f.is_test) {
        let mut targets: Vec<(Target, String)> = locals
            .get(&i)
            .into_iter()
            .flatten()
            .map(|(n, _)| (Target::Local(n.clone()), format!("`{n}`")))
            .collect();
        targets.extend(
            fields
                .iter()
                .map(|(_, _, field, _)| (Target::Field(field.clone()), format!("`self.{field}`"))),
        );
        for (target, shown) in targets {
            for u in uses(imports, f.block, &target) {
                let UseKind::Argument {
                    callee, index: 0, ..
                } = &u.kind
                else {
                    continue;
                };
                if !callee.named(&["register", "reregister"]) {
                    continue;
                }
                let Some(token) = register_token(f.block, u.context) else {
                    continue;
                };
                if handled.handles(&token) {
                    continue;
                }
                // A listener also accepted outside every token match is served regardless of tokens.
                let accepted_elsewhere = uses_in_file(imports, fns, &target).iter().any(|a| matches!(&a.kind, UseKind::Receiver { method } if ACCEPTING.contains(&method.as_str())) && !matches.iter().any(|m| contains(node_span(*m), a.span)));
                if accepted_elsewhere {
                    continue;
                }
                let written = ctx
                    .source
                    .get(node_span(&token).range())
                    .unwrap_or("token")
                    .to_string();
                out.push(
                    Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, node_span(&token)), format!("listener {shown} is registered with token `{written}`, but no `match` on event tokens handles `{written}`"))
                        .primary_label(format!("the listener's readiness events carry `{written}`"))
                        .label(Location::new(0, node_span(&*matches[0].expr)), format!("no arm of this match handles `{written}`, so new connections are never accepted"))
                        .note(NOTE)
                        .help(format!("add an arm for `{written}` that accepts until `WouldBlock`, or register the listener with the token the event loop expects")),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// An accept loop that ends on its first error while another owner keeps the listener open

const ACCEPT_EXIT_NOTE: &str = "accept() fails transiently, and exactly under load: EMFILE/ENFILE when the process runs out of file descriptors, ECONNABORTED when a client resets before it is accepted, ENOBUFS/ENOMEM; when such an error ends the loop, the listener is not closed, because another owner still holds it, so the kernel keeps completing handshakes into the backlog: clients send their request and wait, and when they give up, their connections sit in CLOSE_WAIT until the process exits";

/// A shared listener's accept loop, in a spawned task or in a `&self` method that one runs,
/// that leaves on an accept error while the listener stays open elsewhere.
fn accept_exits(fns: &[Function<'_>], out: &mut Vec<Diagnostic>) {
    // `&self` methods whose accept loop on `self.<field>` leaves on an error, by name.
    let methods: HashMap<String, (Span, Span, String)> = fns
        .iter()
        .filter(|f| !f.is_test && borrows_self(f))
        .filter_map(|f| {
            let (exit, accept, field) =
                exits_on_error(Body::Block(f.block), &|e| self_field(e).is_some())?;
            Some((f.name.clone(), (exit, accept, field?)))
        })
        .collect();
    for f in fns.iter().filter(|f| !f.is_test) {
        let mut shared: Vec<(String, Share)> = shared_names(f.block).into_iter().collect();
        shared.sort_by_key(|(_, share)| share.made.start);
        if shared.is_empty() {
            continue;
        }
        let mut spawns = Spawns(Vec::new());
        spawns.visit_block(f.block);
        for (spawn, arg) in spawns.0 {
            let Some(body) = task_body(arg) else { continue };
            let captured = mentions(body);
            for (clone, share) in &shared {
                if !captured.iter().any(|(n, _)| n == clone) {
                    continue;
                }
                let is_clone = |e: &Expr| local_name(e).as_deref() == Some(clone.as_str());
                let found = match exits_on_error(body, &is_clone) {
                    Some((exit, accept, _)) => Some((exit, accept, format!("`{clone}`"))),
                    _ => runs_method(body, clone, &methods)
                        .map(|(exit, accept, field)| (exit, accept, format!("`self.{field}`"))),
                };
                let Some((exit, accept, shown)) = found else {
                    continue;
                };
                let owner = &share.owner;
                let mut d = Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, exit), format!("the accept loop on {shown} ends on the first accept error, but the listener stays open"))
                    .primary_label("an accept error leaves the loop here")
                    .label(Location::new(0, accept), "connections are accepted here");
                if owner.starts_with("self.") {
                    d = d.label(
                        Location::new(0, share.made),
                        format!("`{clone}` is a clone of `{owner}`, which stays in the struct"),
                    );
                } else if let Some(at) = keeps_running(f, node_span(arg))
                    .filter(|at| !dropped_between(f.block, owner, node_span(arg).end, at.start))
                {
                    d = d
                        .label(
                            Location::new(0, share.made),
                            format!("`{clone}` is a clone of `{owner}`"),
                        )
                        .label(
                            Location::new(0, at),
                            format!("`{}` keeps running here and still holds `{owner}`", f.name),
                        );
                } else {
                    continue;
                }
                out.push(
                    d.label(Location::new(0, spawn), "the accept loop runs in this task")
                        .note(ACCEPT_EXIT_NOTE)
                        .help("log the error and keep accepting (pause briefly on EMFILE/ENFILE), or make the loop the listener's only owner (move it in, no `Arc`), so that it is closed when the loop ends"),
                );
            }
        }
    }
}

const RAW_EXIT_NOTE: &str = "accept() fails transiently, and exactly under load: EMFILE/ENFILE when the process runs out of file descriptors, ECONNABORTED when a client resets before it is accepted, ENOBUFS/ENOMEM; a raw descriptor is a number, so leaving the loop does not close the listener, and the kernel keeps completing handshakes into its backlog: clients send their request and wait, and when they give up, their connections sit in CLOSE_WAIT until the descriptor is closed or the process exits";

/// An accept loop on a raw listening descriptor that leaves on its first accept error.
fn raw_accept_exits(imports: &Imports, fns: &[Function<'_>], out: &mut Vec<Diagnostic>) {
    for f in fns.iter().filter(|f| !f.is_test) {
        for (exit, accept, name) in raw_listener_exits(imports, f) {
            out.push(
                Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, exit), format!("the accept loop on `{name}` ends on the first accept error, but nothing closes the listening descriptor"))
                    .primary_label("an accept error leaves the loop here")
                    .label(Location::new(0, accept), format!("connections are accepted from the raw descriptor `{name}` here"))
                    .note(RAW_EXIT_NOTE)
                    .help(format!("log the error and keep accepting (pause briefly on EMFILE/ENFILE); if the loop must end, close `{name}` when it does")),
            );
        }
    }
}
