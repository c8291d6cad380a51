use std::cell::OnceCell;
use std::collections::HashSet;

use nginx_parser::Span;

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::registration::{
    calls_of, is_listener, listener_names, only_on_branch, views,
};
use crate::rust::flow::summary::{stores, Effects, Origin, Store};
use crate::rust::flow::tasks::local_name;
use crate::rust::model::sockets::contains;
use crate::rust::Context;

crate::declare_rule! {
    /// ## What it does
    /// In a program driven by a readiness poller (mio, `polling`, epoll through libc or nix),
    /// flags an accepted stream that is stored for later (in a map, a slab, a `Vec`, a field)
    /// but never registered with the poller, or registered only on one branch of an `if` or
    /// `match` while the stream is stored on every path.
    ///
    /// The stream may be stored where it is accepted or by a function of the file it is passed
    /// to (`self.add(stream)` filing it in `self.conns`): then neither may register it.
    /// Registrations count when they name the stream, a clone of it, or an element taken from
    /// the container it is stored in (`registry.register(conns.get_mut(&t).unwrap(), ..)`),
    /// directly or through a function of the same file (`self.register(&mut stream, token)`; a
    /// function of the file is judged by what it does, not by its name).
    /// It stays silent when the file registers anything it cannot explain as a listener (a
    /// helper that registers every stored stream later, for example), and when the stream is
    /// handed to a function the file does not define: that function may register it.
    ///
    /// ## Why is this bad?
    /// A poller only reports readiness for the sockets registered with it. No event is ever
    /// delivered for an unregistered socket, so the program never reads from it, never sees
    /// its end of file and never closes it: when the peer closes, the kernel acknowledges the
    /// FIN and the connection sits in CLOSE_WAIT, with its descriptor and buffers, until the
    /// process exits. The client also waits forever for an answer that never comes. Measured
    /// on this rule's fixtures in `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// let (stream, _) = listener.accept()?;
    /// let token = Token(next);
    /// next += 1;
    /// connections.insert(token, stream); // no event will ever carry `token`
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// let (mut stream, _) = listener.accept()?;
    /// let token = Token(next);
    /// next += 1;
    /// poll.registry().register(&mut stream, token, Interest::READABLE)?;
    /// connections.insert(token, stream);
    /// ```
    pub STREAM_NEVER_REGISTERED {
        code: "RS005",
        name: "stream-never-registered",
        family: Rust,
        severity: Error,
        summary: "an accepted stream is stored but never registered with the poller, so its close is never seen and the connection sits in CLOSE_WAIT",
        fixable: false,
    }
}

const NOTE: &str = "a poller reports readiness only for registered sockets: no event is ever delivered for this one, so the program never reads its end of file and never closes it; when the peer closes, the kernel acknowledges its FIN and the connection sits in CLOSE_WAIT, with its file descriptor and buffers, until the process exits";

const HELP: &str = "register the stream with the poller right after accepting it, on every path that stores it (mio: `registry.register(&mut stream, token, Interest::READABLE)?`; epoll: `epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &mut event)`)";

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // tokio, async-std and smol register for you: only programs that drive a poller
    // themselves are judged.
    let uses_poller = ["mio::", "polling::", "epoll_ctl", "Epoll"]
        .iter()
        .any(|w| memchr::memmem::find(ctx.source.as_bytes(), w.as_bytes()).is_some());
    if !uses_poller {
        return;
    }
    let imports = ctx.analysis.imports();
    let fns = ctx.analysis.non_test_functions();
    let summaries = ctx.analysis.summaries();
    let mut listeners: HashSet<String> = HashSet::new();
    let mut registrations: Vec<(String, Span)> = Vec::new();
    for f in fns {
        listeners.extend(listener_names(imports, f.block));
        let e = summaries.effects(Some(f.block), None, &summaries.function_aliases(f));
        registrations.extend(e.registers);
    }
    let listener_regs: Vec<Span> = registrations
        .iter()
        .filter(|(n, _)| is_listener(&listeners, n))
        .map(|(_, s)| *s)
        .collect();
    for (f, names) in fns.iter().zip(ctx.analysis.holders()) {
        let aliases = summaries.function_aliases(f);
        let effects = summaries.effects(Some(f.block), None, &aliases);
        let mut seen = HashSet::new();
        // Only connections accepted here: one passed in may be registered by the caller.
        let accepted = stores(summaries, ctx.analysis.types(), f, names, &aliases)
            .into_iter()
            .filter(|s| s.origin == Origin::Accepted);
        for store in accepted {
            let Some(socket) = store.socket.as_deref() else {
                continue;
            };
            if !seen.insert(socket.to_string()) {
                continue;
            }
            let views = views(f.block, &store.container);
            let mine: Vec<Span> = effects
                .registers
                .iter()
                .filter(|(n, _)| store.holders.contains(n) || views.contains(n))
                .map(|(_, s)| *s)
                .collect();
            if mine.is_empty() {
                let explained = registrations.iter().all(|(n, _)| {
                    is_listener(&listeners, n) || store.holders.contains(n) || views.contains(n)
                });
                // Handed to something else than the container (an unknown constructor that may
                // register it): silence.
                let handed = effects
                    .consumes
                    .iter()
                    .filter(|n| store.holders.contains(*n))
                    .count()
                    > usize::from(store.moved);
                if explained && !handed {
                    out.push(never(&store, socket, &listener_regs));
                }
                continue;
            }
            // A registration after the store reaches the stream through the container
            // (`if let Some(s) = conns.get_mut(&t)`), where the branch is not a real choice.
            if let Some((reg, other)) = mine
                .iter()
                .filter(|r| r.start < store.at.start)
                .find_map(|r| only_on_branch(f.block, *r, store.at))
            {
                if !mine.iter().any(|m| contains(other, *m)) {
                    out.push(branch(&store, socket, reg, other));
                }
            }
        }
    }
    stored_by_helper(ctx, &listeners, &registrations, out);
}

/// Streams accepted in one function and stored by a function of the file they are passed to
/// (`self.add(stream)` storing `stream` in `self.conns`), registered by neither.
fn stored_by_helper(
    ctx: &Context<'_>,
    listeners: &HashSet<String>,
    registrations: &[(String, Span)],
    out: &mut Vec<Diagnostic>,
) {
    let fns = ctx.analysis.non_test_functions();
    let holders = ctx.analysis.holders();
    let summaries = ctx.analysis.summaries();
    // What each caller does, computed once however many helpers and calls it has.
    let caller_effects: Vec<OnceCell<Effects>> = fns.iter().map(|_| OnceCell::new()).collect();
    for (g, g_names) in fns.iter().zip(holders) {
        if !g_names.values().any(|h| h.origin == Origin::Parameter) {
            continue;
        }
        let g_aliases = summaries.function_aliases(g);
        let passed_in = stores(summaries, ctx.analysis.types(), g, g_names, &g_aliases)
            .into_iter()
            .filter(|s| s.origin == Origin::Parameter);
        let mut seen = HashSet::new();
        for store in passed_in {
            let Some(param) = store.socket.as_deref() else {
                continue;
            };
            let Some(index) = g.sig.inputs.iter().position(|i| {
                matches!(i, syn::FnArg::Typed(t) if matches!(&*t.pat, syn::Pat::Ident(p) if p.ident == param))
            }) else {
                continue;
            };
            if !seen.insert(index) {
                continue;
            }
            let g_views = views(g.block, &store.container);
            let g_effects = summaries.effects(Some(g.block), None, &g_aliases);
            let in_helper = |n: &String| store.holders.contains(n) || g_views.contains(n);
            if g_effects.registers.iter().any(|(n, _)| in_helper(n)) {
                continue;
            }
            for ((f, f_names), f_effects) in fns.iter().zip(holders).zip(&caller_effects) {
                let calls = calls_of(f.block, g, index);
                if calls.is_empty() {
                    continue;
                }
                let f_views = views(f.block, &store.container);
                for (call, arg) in calls {
                    let Some(name) = local_name(arg) else {
                        continue;
                    };
                    let Some(held) = f_names.get(&name).filter(|h| h.origin == Origin::Accepted)
                    else {
                        continue;
                    };
                    let mine: HashSet<&String> = f_names
                        .iter()
                        .filter(|(_, h)| h.socket == held.socket)
                        .map(|(n, _)| n)
                        .collect();
                    let f_effects = f_effects.get_or_init(|| {
                        summaries.effects(Some(f.block), None, &summaries.function_aliases(f))
                    });
                    let of_stream =
                        |n: &String| mine.contains(n) || f_views.contains(n) || in_helper(n);
                    let registered = f_effects.registers.iter().any(|(n, _)| of_stream(n));
                    // Every registration of the file is of a listener or of this stream, and
                    // the stream goes nowhere else than the helper.
                    let explained = registrations
                        .iter()
                        .all(|(n, _)| is_listener(listeners, n) || of_stream(n));
                    let handed = f_effects
                        .consumes
                        .iter()
                        .filter(|n| mine.contains(n))
                        .count()
                        > 1;
                    if !registered && explained && !handed {
                        out.push(helper_never(&store, &held.socket, held.site, &g.name, call));
                    }
                }
            }
        }
    }
}

fn helper_never(
    store: &Store,
    socket: &str,
    accepted: Span,
    helper: &str,
    call: Span,
) -> Diagnostic {
    let what = store.container.describe();
    Diagnostic::new(
        &STREAM_NEVER_REGISTERED,
        Location::new(0, store.at),
        format!(
            "accepted stream `{socket}` is stored in `{what}` by `{helper}` but never registered with the poller"
        ),
    )
    .primary_label("stored here; neither this function nor its caller registers the stream")
    .label(Location::new(0, accepted), "the connection is accepted here")
    .label(Location::new(0, call), format!("and passed to `{helper}` here"))
    .note(NOTE)
    .help(HELP)
}

fn never(store: &Store, socket: &str, listener_regs: &[Span]) -> Diagnostic {
    let what = store.container.describe();
    let mut d = Diagnostic::new(
        &STREAM_NEVER_REGISTERED,
        Location::new(0, store.at),
        format!(
            "accepted stream `{socket}` is stored in `{what}` but never registered with the poller"
        ),
    )
    .primary_label("stored here; no registration of this stream anywhere")
    .label(
        Location::new(0, store.accepted),
        "the connection is accepted here",
    );
    if let Some(first) = listener_regs.first() {
        d = d.label(
            Location::new(0, *first),
            "only the listener is registered with the poller",
        );
    }
    d.note(NOTE).help(HELP)
}

fn branch(store: &Store, socket: &str, reg: Span, other: Span) -> Diagnostic {
    Diagnostic::new(
        &STREAM_NEVER_REGISTERED,
        Location::new(0, reg),
        format!("accepted stream `{socket}` is registered with the poller on one branch only"),
    )
    .primary_label("registered only when this branch runs")
    .label(
        Location::new(0, other),
        "on this path the stream is not registered",
    )
    .label(Location::new(0, store.at), "but it is stored on every path")
    .label(
        Location::new(0, store.accepted),
        "the connection is accepted here",
    )
    .note(NOTE)
    .help(HELP)
}
