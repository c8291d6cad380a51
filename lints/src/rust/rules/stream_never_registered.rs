use std::collections::HashSet;

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Pat};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::sockets::{contains, functions, listener_ctor, Function, Imports};
use crate::rust::summary::{root_name, stores, Container, Store, Summaries};
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// In a program driven by a readiness poller (mio, `polling`, epoll through libc or nix),
    /// flags an accepted stream that is stored for later (in a map, a slab, a `Vec`, a field)
    /// but never registered with the poller, or registered only on one branch of an `if` or
    /// `match` while the stream is stored on every path.
    ///
    /// Registrations count when they name the stream, a clone of it, or an element taken from
    /// the container it is stored in (`registry.register(conns.get_mut(&t).unwrap(), ..)`),
    /// directly or through a function of the same file (`self.register(&mut stream, token)`).
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
        .any(|w| ctx.source.contains(w));
    if !uses_poller {
        return;
    }
    let imports = Imports::of(ctx.file);
    let fns: Vec<Function<'_>> = functions(ctx.file)
        .into_iter()
        .filter(|f| !f.is_test)
        .collect();
    let summaries = Summaries::of(ctx.file, &imports, &fns);
    let mut listeners: HashSet<String> = HashSet::new();
    let mut registrations: Vec<(String, Span)> = Vec::new();
    for f in &fns {
        listeners.extend(listener_names(&imports, f.block));
        let e = summaries.effects(Some(f.block), None, &summaries.function_aliases(f));
        registrations.extend(e.registers);
    }
    let listener_regs: Vec<Span> = registrations
        .iter()
        .filter(|(n, _)| is_listener(&listeners, n))
        .map(|(_, s)| *s)
        .collect();
    for f in &fns {
        let aliases = summaries.function_aliases(f);
        let effects = summaries.effects(Some(f.block), None, &aliases);
        let mut seen = HashSet::new();
        for store in stores(&summaries, &imports, f, &aliases) {
            if !seen.insert(store.socket.clone()) {
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
                    out.push(never(&store, &listener_regs));
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
                    out.push(branch(&store, reg, other));
                }
            }
        }
    }
}

fn never(store: &Store, listener_regs: &[Span]) -> Diagnostic {
    let what = store.container.describe();
    let mut d = Diagnostic::new(
        &STREAM_NEVER_REGISTERED,
        Location::new(0, store.at),
        format!(
            "accepted stream `{}` is stored in `{what}` but never registered with the poller",
            store.socket
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

fn branch(store: &Store, reg: Span, other: Span) -> Diagnostic {
    Diagnostic::new(
        &STREAM_NEVER_REGISTERED,
        Location::new(0, reg),
        format!(
            "accepted stream `{}` is registered with the poller on one branch only",
            store.socket
        ),
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

/// Whether a registered root name is a listener (bound from `TcpListener::bind`, or named
/// like one) or a waker.
fn is_listener(listeners: &HashSet<String>, name: &str) -> bool {
    let lower = name.to_lowercase();
    listeners.contains(name)
        || ["listener", "server", "acceptor", "waker"]
            .iter()
            .any(|w| lower.contains(w))
}

/// Names bound to a listener in a body: `let l = TcpListener::bind(..)`, `from_std(..)`.
fn listener_names(imports: &Imports, block: &Block) -> Vec<String> {
    struct Finder<'i> {
        imports: &'i Imports,
        out: Vec<String>,
    }
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let (Some(init), Pat::Ident(i)) = (&l.init, strip(&l.pat)) {
                let from_std = matches!(crate::rust::sockets::through_wrappers(&init.expr),
                    Expr::Call(c) if matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "from_std")));
                if from_std || listener_ctor(self.imports, &init.expr).is_some() {
                    self.out.push(i.ident.to_string());
                }
            }
            visit::visit_local(self, l);
        }
    }
    let mut f = Finder {
        imports,
        out: Vec::new(),
    };
    f.visit_block(block);
    f.out
}

fn strip(p: &Pat) -> &Pat {
    match p {
        Pat::Type(t) => strip(&t.pat),
        other => other,
    }
}

/// Names bound to an element of the container (`if let Some(c) = conns.get_mut(&t)`,
/// `for (t, c) in conns.iter_mut()`), plus the container's own name.
fn views(block: &Block, container: &Container) -> HashSet<String> {
    let base = match container {
        Container::Field(n) | Container::Static(n) | Container::Local(n) => n.clone(),
        Container::Param(_) => return HashSet::new(),
    };
    struct Finder {
        base: String,
        out: HashSet<String>,
    }
    impl Finder {
        fn bind(&mut self, pat: &Pat, init: &Expr) {
            if root_name(init).as_deref() == Some(self.base.as_str()) {
                let mut names = Vec::new();
                pat_names(pat, &mut names);
                self.out.extend(names);
            }
        }
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Some(init) = &l.init {
                self.bind(&l.pat, &init.expr);
            }
            visit::visit_local(self, l);
        }
        fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
            self.bind(&l.pat, &l.expr);
            visit::visit_expr_let(self, l);
        }
        fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
            self.bind(&f.pat, &f.expr);
            visit::visit_expr_for_loop(self, f);
        }
    }
    let mut f = Finder {
        out: HashSet::from([base.clone()]),
        base,
    };
    f.visit_block(block);
    f.out
}

fn pat_names(pat: &Pat, out: &mut Vec<String>) {
    let mut f = Names(out);
    f.visit_pat(pat);
}

struct Names<'o>(&'o mut Vec<String>);

impl<'a> Visit<'a> for Names<'_> {
    fn visit_pat_ident(&mut self, i: &'a syn::PatIdent) {
        self.0.push(i.ident.to_string());
        visit::visit_pat_ident(self, i);
    }
}

/// The registration `reg` lies in one branch of an `if` / `match` that does not contain the
/// store: returns the registration and the branch (or the whole `if`, when it has no `else`)
/// on which the stream goes unregistered, unless that branch leaves (`return`, `continue`,
/// `break`, `?`, a panic).
fn only_on_branch(block: &Block, reg: Span, store: Span) -> Option<(Span, Span)> {
    struct Finder {
        reg: Span,
        store: Span,
        found: Option<(Span, Span)>,
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            let then = node_span(&i.then_branch);
            if contains(then, self.reg) && !contains(node_span(i), self.store) {
                let other = match &i.else_branch {
                    None => Some(node_span(&*i.cond)),
                    Some((_, e)) if !leaves(e) => Some(node_span(&**e)),
                    Some(_) => None,
                };
                if let Some(o) = other {
                    self.found = Some((self.reg, o));
                }
            }
            visit::visit_expr_if(self, i);
        }
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            if !contains(node_span(m), self.store) {
                if let Some(arm) = m
                    .arms
                    .iter()
                    .find(|a| contains(node_span(&*a.body), self.reg))
                {
                    let _ = arm;
                    if let Some(other) = m
                        .arms
                        .iter()
                        .find(|a| !contains(node_span(&*a.body), self.reg) && !leaves(&a.body))
                    {
                        self.found = Some((self.reg, node_span(&other.pat)));
                    }
                }
            }
            visit::visit_expr_match(self, m);
        }
    }
    let mut f = Finder {
        reg,
        store,
        found: None,
    };
    f.visit_block(block);
    f.found
}

/// Whether a branch leaves the enclosing code instead of falling through to the store.
fn leaves(e: &Expr) -> bool {
    #[derive(Default)]
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr(&mut self, e: &'a Expr) {
            match e {
                Expr::Return(_) | Expr::Continue(_) | Expr::Break(_) | Expr::Try(_) => {
                    self.0 = true
                }
                Expr::Macro(m)
                    if m.mac.path.segments.last().is_some_and(|s| {
                        matches!(
                            s.ident.to_string().as_str(),
                            "panic" | "unreachable" | "todo" | "unimplemented"
                        )
                    }) =>
                {
                    self.0 = true
                }
                _ => visit::visit_expr(self, e),
            }
        }
    }
    let mut f = Finder::default();
    f.visit_expr(e);
    f.0
}
