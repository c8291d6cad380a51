use std::collections::{HashMap, HashSet};

use syn::visit::Visit;

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::eof::propagation::{err_only_removals, matching_store};
use crate::rust::flow::removal::{
    breaks, destructured_fields, long_lived_local, returned, stmts_after, Reads,
};
use crate::rust::flow::summary::{stores, Container, Origin, Store, Summaries};
use crate::rust::model::sockets::{structs, Function};
use crate::rust::syntax::patterns::{is_ok_zero, may_be_err};
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags a connection (or a clone, a split half, an `Arc` or a struct holding it) that is
    /// stored in a long-lived container, a field, a `static` or a local map or `Vec` that
    /// outlives the accept loop, when the code that handles the connection's end never takes
    /// it out again. A stored value is a connection when it was accepted in the storing
    /// function, when it is a parameter whose declared type owns one (`fn add(&mut self,
    /// socket: TcpStream)`), or when the container's declared type holds connections
    /// (`connections: HashMap<Token, Connection>` with `struct Connection { socket: TcpStream,
    /// .. }`; the type model, docs/rust-analysis.md). The rule fires when:
    /// - nothing in the file removes from the container at all (`remove`, `retain`,
    ///   `swap_remove`, `drain`, `clear`, `take`, `mem::take`, assigning a new container);
    /// - or a read's error arm removes the connection but its `Ok(0)` arm (end of file: the
    ///   peer closed) does not, the classic mio bug;
    /// - or the same bug one call away: a read handler of the crate returns `Ok(())` at end of
    ///   stream, as it does on `WouldBlock`, and the event loop that calls it on a stored
    ///   connection removes the connection only when the result is an `Err` (`is_err()`,
    ///   `if let Err(..)`, a `match` whose `Ok` arm does nothing).
    ///
    /// Removals reached through a function or method of the same file
    /// (`self.close_connection(token)`) count, one call deep, and so does a returned flag or
    /// an assignment in the `Ok(0)` arm (`closed = true`) that the caller may act on. A
    /// container handed to a function the file does not define, a public field and a
    /// parameter's container are not judged: the analysis sees one file and prefers silence.
    ///
    /// ## Why is this bad?
    /// When the peer closes, the kernel acknowledges its FIN and the connection moves to
    /// CLOSE_WAIT, where it stays until the application closes its socket. A socket held in a
    /// container is closed only when it is removed and dropped; a connection whose end is
    /// never handled stays in CLOSE_WAIT with its file descriptor and buffers until the process
    /// exits. A busy server piles them up until `accept()` fails with EMFILE. (Writing to such
    /// a connection, as a broadcast does, draws a reset from the peer: that ends the
    /// CLOSE_WAIT, not the leak; the descriptor stays held.) Measured on this rule's fixtures
    /// in `docs/evidence.md`: 20 of 20 connections in CLOSE_WAIT with silent clients; with a
    /// broadcast, 1 in CLOSE_WAIT but all 20 descriptors still held.
    ///
    /// ## Example
    /// ```rust
    /// match conn.read(&mut buf) {
    ///     Ok(0) => break, // the peer closed, but the stream stays in `connections`
    ///     Ok(n) => handle(&buf[..n]),
    ///     Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
    ///     Err(_) => {
    ///         connections.remove(&token);
    ///         break;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// match conn.read(&mut buf) {
    ///     Ok(n) if n > 0 => handle(&buf[..n]),
    ///     Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
    ///     Ok(_) | Err(_) => {
    ///         connections.remove(&token); // dropping the stream closes it
    ///         break;
    ///     }
    /// }
    /// ```
    pub STORED_NEVER_REMOVED {
        code: "RS002",
        name: "stored-never-removed",
        family: Rust,
        severity: Error,
        summary: "an accepted stream is stored in a container that never drops it when the peer closes, so its connection sits in CLOSE_WAIT",
        fixable: false,
    }
}

const NOTE: &str = "when the peer closes, the kernel acknowledges its FIN and the connection moves to CLOSE_WAIT until this process closes its socket; a stream held in a container is closed only when it is removed and dropped, so this connection, its file descriptor and its buffers are held until the process exits";

const HELP_NEVER: &str = "remove the connection from the container when a read returns `Ok(0)` or an error (`conns.remove(&token)`), or sweep closed connections with `retain`";

const HELP_EOF: &str = "remove the connection on `Ok(0)` as on errors: handle both in one arm (`Ok(0) | Err(_) => { conns.remove(&token); }`), or return a flag the caller acts on";

const HELP_SUCCESS: &str = "return a value the caller must act on at end of stream (`Ok(false)`, `Ok(Status::Closed)`, or `Err(io::ErrorKind::UnexpectedEof.into())`) and remove the connection on it";

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let types = ctx.analysis.types();
    let fns = ctx.analysis.non_test_functions();
    // Stores are of connections a function accepts or takes as a parameter, or into a
    // container declared to hold them: a file with none of these stores none, and needs no
    // summaries (most files the reader bounds let through the prefilter).
    // (A local declared to hold connections is looked for only past this check: a visit of
    // every body of every parsed file cost 3-4 % of the corpus run, and such a local is filled
    // from an accept or a parameter, which this check sees.)
    let names = ctx.analysis.holders();
    if types.owning_fields().is_empty() && names.iter().all(HashMap::is_empty) {
        return;
    }
    let summaries = ctx.analysis.summaries();
    let mut all_stores: Vec<(usize, Store)> = Vec::new();
    for (i, (f, names)) in fns.iter().zip(names).enumerate() {
        let aliases = summaries.function_aliases(f);
        all_stores.extend(
            stores(summaries, types, f, names, &aliases)
                .into_iter()
                .map(|s| (i, s)),
        );
    }
    if all_stores.is_empty() {
        return;
    }
    // What the whole file does to fields and statics.
    let mut removed: HashSet<Container> = HashSet::new();
    let mut handed: HashSet<Container> = HashSet::new();
    for f in fns {
        let e = summaries.effects(Some(f.block), None, &summaries.function_aliases(f));
        removed.extend(e.removes.into_iter().map(|(c, _)| c));
        handed.extend(e.hands_over);
    }
    let (structs, _) = structs(ctx.file);
    let destructured = destructured_fields(ctx.file);
    let private_field = |name: &str| {
        if destructured.contains(name) {
            return false;
        }
        let mut defs = structs
            .values()
            .flat_map(|s| &s.fields)
            .filter(|(n, _, _)| n == name)
            .peekable();
        defs.peek().is_some() && defs.all(|(_, _, public)| !public)
    };
    let mut reported = HashSet::new();
    for (i, store) in &all_stores {
        let f = &fns[*i];
        let judged = match &store.container {
            Container::Field(n) => private_field(n),
            Container::Static(_) => true,
            Container::Local(n) => long_lived_local(f.block, n, store.at),
            Container::Param(_) => false,
        };
        let local_fate = || {
            let e = summaries.effects(Some(f.block), None, &summaries.function_aliases(f));
            e.removes.iter().any(|(c, _)| *c == store.container)
                || e.hands_over.contains(&store.container)
                || returned(f.block, &store.container)
        };
        let kept = match &store.container {
            Container::Local(_) => local_fate(),
            c => removed.contains(c) || handed.contains(c),
        };
        let removed_elsewhere = || match &store.container {
            Container::Field(n) => ctx.analysis.field_removed_in_crate(n),
            _ => false,
        };
        if judged && !kept && !removed_elsewhere() && reported.insert(store.container.clone()) {
            let what = store.container.describe();
            let stored = match (&store.origin, &store.socket) {
                (Origin::Accepted, Some(name)) => format!("accepted stream `{name}`"),
                (Origin::Parameter, Some(name)) => format!("connection `{name}`"),
                _ => "a connection".to_string(),
            };
            let mut d = Diagnostic::new(
                &STORED_NEVER_REMOVED,
                Location::new(0, store.at),
                format!("{stored} is stored in `{what}` and never removed"),
            )
            .primary_label(format!(
                "stored here; nothing in this file removes it from `{what}`"
            ));
            if let Some(label) = origin_label(store) {
                d = d.label(Location::new(0, store.accepted), label);
            }
            out.push(
                d.label(
                    Location::new(0, store.container_span),
                    container_label(store, &what),
                )
                .note(NOTE)
                .help(HELP_NEVER),
            );
        }
    }
    let mut helper_arms = HashSet::new();
    for f in fns {
        eof_arms(summaries, f, &all_stores, out);
        eof_as_success(ctx, f, &all_stores, &mut helper_arms, out);
    }
}

/// Where the stored connection came in, when the store knows it.
fn origin_label(store: &Store) -> Option<&'static str> {
    match store.origin {
        Origin::Accepted => Some("the connection is accepted here"),
        Origin::Parameter => Some("the connection is passed in here"),
        Origin::Container => None,
    }
}

fn container_label(store: &Store, what: &str) -> String {
    match store.origin {
        Origin::Container => format!("`{what}` is declared to hold connections, and outlives them"),
        _ => format!("`{what}` outlives the connection"),
    }
}

/// A helper returns `Ok(())` at end of stream and the caller removes only on `Err`; one finding
/// per helper arm (`reported`), however many event loops call it.
fn eof_as_success(
    ctx: &Context<'_>,
    f: &Function<'_>,
    stores: &[(usize, Store)],
    reported: &mut HashSet<Location>,
    out: &mut Vec<Diagnostic>,
) {
    let (summaries, fns) = (ctx.analysis.summaries(), ctx.analysis.non_test_functions());
    for found in err_only_removals(summaries, ctx.analysis.eof_helpers(), fns, f) {
        let Some(store) = matching_store(summaries, fns, f, &found.container, stores) else {
            continue;
        };
        if !reported.insert(found.eof) {
            continue;
        }
        let (helper, what) = (found.helper, store.container.describe());
        out.push(
            Diagnostic::new(
                &STORED_NEVER_REMOVED,
                found.eof,
                format!("end of stream is reported as success by `{helper}()`, so the connection is never removed from `{what}`"),
            )
            .primary_label("the peer closed, and this returns `Ok` as if more data could come")
            .label(
                Location::new(0, found.call),
                "the result is only checked for `Err`",
            )
            .label(
                Location::new(0, found.removal),
                "the connection is removed only on `Err`",
            )
            .label(Location::new(0, store.at), "the connection is stored here")
            .note(NOTE)
            .help(HELP_SUCCESS),
        );
    }
}

/// The classic mio bug: a read's `Err` arm removes the connection from a container that holds
/// accepted streams, its `Ok(0)` arm does nothing that ends it.
fn eof_arms(
    summaries: &Summaries<'_>,
    f: &Function<'_>,
    stores: &[(usize, Store)],
    out: &mut Vec<Diagnostic>,
) {
    let aliases = summaries.function_aliases(f);
    let mut reads = Reads::default();
    reads.visit_block(f.block);
    for (m, loops) in reads.found {
        let Some(eof) = m
            .arms
            .iter()
            .find(|a| is_ok_zero(&a.pat) && !may_be_err(&a.pat))
        else {
            continue;
        };
        let removal = m
            .arms
            .iter()
            .filter(|a| may_be_err(&a.pat))
            .flat_map(|a| summaries.effects(None, Some(&a.body), &aliases).removes)
            .find_map(|(c, at)| {
                stores
                    .iter()
                    .find(|(_, s)| {
                        s.container == c
                            || matches!(
                                (&c, &s.container),
                                (
                                    Container::Param(_),
                                    Container::Local(_) | Container::Param(_)
                                )
                            )
                    })
                    .map(|(_, s)| (at, s))
            });
        let Some((removed_at, store)) = removal else {
            continue;
        };
        if summaries
            .effects(None, Some(&eof.body), &aliases)
            .may_end_connection()
        {
            continue;
        }
        if breaks(&eof.body) {
            if let Some(inner) = loops.last() {
                let after = stmts_after(f.block, *inner);
                if summaries
                    .effects_of_stmts(&after, &aliases)
                    .may_end_connection()
                {
                    continue;
                }
            }
        }
        let what = store.container.describe();
        let mut d = Diagnostic::new(
            &STORED_NEVER_REMOVED,
            Location::new(0, node_span(&eof.pat)),
            format!(
                "the connection is removed from `{what}` on error but not when the peer closes"
            ),
        )
        .primary_label("`Ok(0)`: the peer closed, and the stream stays in the container")
        .label(
            Location::new(0, removed_at),
            "the error path removes it here",
        )
        .label(Location::new(0, store.at), "the connection is stored here");
        if let Some(label) = origin_label(store) {
            d = d.label(Location::new(0, store.accepted), label);
        }
        out.push(d.note(NOTE).help(HELP_EOF));
    }
}
