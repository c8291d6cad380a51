use std::collections::HashSet;

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Expr, Pat, Stmt};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::control::{Flow, LoopKind};
use crate::rust::flow::eof::frames::{self, FrameFinding};
use crate::rust::flow::eof::paths::{judge, judge_select, Form, Verdict};
use crate::rust::flow::eof::poll_reads::{self, PollFinding};
use crate::rust::flow::eof::{read_site, EofHelpers, EofSummary, ReadSite, Streams};
use crate::rust::flow::select::select_branches;
use crate::rust::model::channels;
use crate::rust::model::sockets::Function;
use crate::rust::syntax::patterns::is_ok_zero;
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags a loop that reads from a connection and carries on when the read reports end of
    /// stream: `Ok(0)` from `read` / `read_buf` / `try_read` (std, tokio, mio), 0 from
    /// `read_line` / `read_until`, and so loops forever once the peer has closed:
    /// - `Ok(n) => handle(&buf[..n])` in a `loop` with no zero check, or `Ok(0) => continue`;
    /// - `let n = stream.read(&mut buf)?;` whose `n` is never tested, `if n == 0 { continue }`;
    /// - `reader.read_line(&mut line)?;` whose count and line are never tested;
    /// - `while missing > 0 { missing -= stream.read(&mut buf)?; }`, and
    ///   `loop { total += stream.read(..)?; if total == want { break } }`: at end of stream the
    ///   total stops changing, so a test of it alone that was false stays false;
    /// - a call of a function of the file that turns end of stream into success (its `Ok(0)`
    ///   arm returns `Ok(..)`, or it returns the count itself), in a loop that treats the result
    ///   as data; a method called on a connection wrapper (`conn.receive(&mut buf)` with `conn:
    ///   &mut NetworkConnection<T>`) is looked up in the crate by that type;
    /// - a read branch of a `select!` that is the loop's whole body and takes `Ok(0)` as data,
    ///   when the other branches cannot leave the loop (a `?` there fires only on their own
    ///   errors, which the peer's close does not bring);
    /// - a hand-written poll loop (`impl Future`, `Stream`, `AsyncRead` over a socket) that
    ///   polls `poll_read` and goes round again on `Poll::Ready(Ok(()))` with nothing added to
    ///   `buf.filled()` (tokio), or on `Poll::Ready(Ok(0))` (futures-io `poll_read`,
    ///   `poll_read_buf`): no test of what was filled, `if rb.filled().is_empty() { continue }`,
    ///   or `loop { ready!(io.poll_read(cx, buf))?; if buf.filled().len() > before { return .. } }`.
    ///
    /// A connection is a value whose declared type reads one: an accepted socket, a
    /// `TcpStream` / `UnixStream` or one of its halves, a generic parameter, `impl Trait` or
    /// `dyn Trait` bounded by `Read` / `BufRead` / `AsyncRead` / `AsyncBufRead` (a library's
    /// loop that spins at end of stream spins for every connection its users pass), a wrapper
    /// or container of one (`BufReader<S>`, `Box<dyn Read>`, `HashMap<Token, TcpStream>`), a
    /// field whose declared type is one (judged with the bounds of the struct's `impl` blocks),
    /// a closure parameter declared as one, or a call of a function of the file whose read is on
    /// a parameter declared as one; reads on files, stdin and values whose type says nothing
    /// are not checked (docs/rust-analysis.md, "The type model"). The loop is not flagged when anything
    /// on the end-of-stream path may leave it (`break`, `return`, `?` on something other than
    /// the read, a write of the empty data or a send on a channel, a flag assignment, a test
    /// of the count or the line), hands the connection to other code, or when the loop is a
    /// `for` loop. A send on a channel (`tx.send(buf[..n].to_vec()).await?`, a sender by its
    /// declared type or its `channel()` constructor) fails only when the receiver is gone, so
    /// its `?` is no way out at end of stream; a `try_send` is (a full channel fails it). Tests are
    /// not checked.
    ///
    /// ## Why is this bad?
    /// When the peer closes its side, its kernel sends FIN; this kernel acknowledges it and the
    /// connection moves to CLOSE_WAIT, where it stays until this process closes the socket.
    /// From then on every read returns 0 at once, so a loop that does not stop on 0 never ends
    /// and never drops the socket: the connection stays in CLOSE_WAIT and its descriptor and
    /// buffers are held until the process exits. The loop also burns a CPU: a blocking read
    /// at end of stream does not block, so the thread spins at 100%; a tokio task spins on a
    /// runtime worker (each read completes at once, so the task only yields when its
    /// cooperative budget runs out); in a mio handler that drains a non-blocking socket until
    /// `WouldBlock`, `WouldBlock` never comes, so the event-loop thread spins inside one
    /// connection's handler and every other connection of that loop hangs. The lab measured
    /// this on the fixtures (20 clients that send a line and close): 20 connections in
    /// CLOSE_WAIT, one spinning thread per connection (tokio: both workers), and a mio loop that
    /// answers no other client once one peer has closed; see `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// loop {
    ///     match stream.read(&mut buf) {
    ///         // at end of stream n is 0: this loop spins and never closes the connection
    ///         Ok(n) => process(&buf[..n]),
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// loop {
    ///     match stream.read(&mut buf) {
    ///         Ok(0) => break, // the peer closed: leave the loop and drop the stream
    ///         Ok(n) => process(&buf[..n]),
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// ```
    pub EOF_IGNORED {
        code: "RS001",
        name: "eof-ignored",
        family: Rust,
        severity: Error,
        summary: "a read loop carries on at end of stream (Ok(0)), so it spins and the connection it never closes sits in CLOSE_WAIT",
        fixable: false,
    }
}

const CLOSE_WAIT: &str = "once the peer closes, the kernel acknowledges its FIN and the connection waits in CLOSE_WAIT for this process to close its side; every later read returns 0 at once, so this loop never ends and never drops the socket: the connection, its descriptor and its buffers are held until the process exits";

const HELP: &str = "treat 0 bytes as the end of the connection: `Ok(0) => break` (or `if n == 0 { break }` / `return`), so the loop ends and the socket is dropped, which closes it";

const HELPER_HELP: &str = "make the helper report end of stream as something its callers must handle (`Ok(None)`, or an `UnexpectedEof` error), and leave this loop on it, so the socket is dropped";

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = ctx.analysis.imports();
    let fns = ctx.analysis.functions();
    let fields = ctx.analysis.types().reader_fields();
    let helpers = ctx.analysis.eof_helpers();
    let test_only = test_only(fns);
    let sender_fields = std::cell::OnceCell::new();
    let sender_fields = || sender_fields.get_or_init(|| channels::sender_fields(imports, ctx.file));
    let mut seen = HashSet::new();
    for f in fns
        .iter()
        .filter(|f| !f.is_test && !test_only.contains(&f.name))
    {
        let streams = Streams::of(imports, f, ctx.analysis.types(), false);
        for found in poll_reads::find(&streams, f.block) {
            out.push(poll_diagnostic(&found));
        }
        for found in frames::find(&streams, f.block) {
            let accepted = streams
                .accepted
                .get(found.root.as_deref().unwrap_or_default());
            out.push(frame_diagnostic(&found, accepted));
        }
        let mut finder = Sites {
            streams: &streams,
            helpers,
            found: Vec::new(),
            selects: Vec::new(),
        };
        finder.visit_block(f.block);
        if finder.found.is_empty() && finder.selects.is_empty() {
            continue;
        }
        let flow = Flow::of(f.block);
        // The channel senders of the function, for the loops that need them (a send on one
        // cannot end a loop at end of stream).
        let senders = std::cell::OnceCell::new();
        for mac in finder.selects {
            let branches = select_branches(mac).unwrap_or_default();
            for (i, b) in branches.iter().enumerate() {
                let Some(mut site) = read_site(&streams, helpers, &b.future) else {
                    continue;
                };
                // `select!` awaits its futures.
                site.awaited = true;
                let Some(lp) = flow.enclosing_loop(site.span) else {
                    continue;
                };
                let accepted = streams
                    .accepted
                    .get(site.root.as_deref().unwrap_or_default());
                let senders =
                    senders.get_or_init(|| channels::senders(imports, sender_fields(), f));
                if let Some(v) =
                    judge_select(&site, &branches, i, lp, node_span(mac), fields, senders)
                {
                    out.push(diagnostic(&site, &v, lp.keyword, accepted));
                }
            }
        }
        for (site, form) in finder.found {
            let Some(lp) = flow.enclosing_loop(site.span) else {
                continue;
            };
            if lp.kind == LoopKind::For || !seen.insert(site.span) {
                continue;
            }
            let senders = senders.get_or_init(|| channels::senders(imports, sender_fields(), f));
            if let Some(v) = judge(&site, &form, lp, fields, senders) {
                out.push(diagnostic(
                    &site,
                    &v,
                    lp.keyword,
                    streams
                        .accepted
                        .get(site.root.as_deref().unwrap_or_default()),
                ));
            }
        }
    }
}

fn diagnostic(site: &ReadSite, v: &Verdict, keyword: Span, accepted: Option<&Span>) -> Diagnostic {
    let what = match site.helper {
        None => format!("`{}`", site.name),
        Some(_) => format!("`{}()`", site.name),
    };
    let mut d = Diagnostic::new(
        &EOF_IGNORED,
        Location::new(0, v.at),
        format!("end of stream from {what} is not handled: this loop never stops once the peer has closed"),
    )
    .primary_label(v.label.clone());
    if site.span != v.at {
        let read_label = match site.helper {
            Some(EofSummary::Value(_)) => {
                "returns `Ok(..)` at end of stream, like a successful read".to_string()
            }
            Some(EofSummary::Count) => {
                "returns the read's byte count, 0 once the peer has closed".to_string()
            }
            None if matches!(site.name.as_str(), "read_line" | "read_until") => {
                "returns 0 and appends nothing, at once, every time, once the peer has closed"
                    .to_string()
            }
            None => "returns 0 bytes at once, every time, once the peer has closed".to_string(),
        };
        d = d.label(Location::new(0, site.span), read_label);
    }
    if let Some(EofSummary::Value(arm)) = site.helper {
        d = d.label(arm, "end of stream becomes success here");
    }
    d = d.label(
        Location::new(0, keyword),
        "nothing on the end-of-stream path leaves this loop",
    );
    if let Some(test) = v.frozen_test {
        d = d.label(
            Location::new(0, test),
            "end of stream changes nothing this test reads: it decides the same way every round",
        );
    }
    if let Some(a) = accepted {
        d = d.label(Location::new(0, *a), "the connection is accepted here");
    }
    let spin = if v.would_block {
        "the read is non-blocking and drained until WouldBlock, but at end of stream it returns Ok(0), never WouldBlock: the thread spins inside this handler and never returns to poll, so every other connection on this event loop hangs"
    } else if site.awaited {
        "the awaited read completes at once with 0 bytes, so the task spins on a runtime worker thread at 100% CPU, yielding only when tokio's cooperative budget runs out"
    } else {
        "a blocking read at end of stream does not block, so the thread spins at 100% CPU"
    };
    let help = match site.helper {
        Some(EofSummary::Value(_)) => HELPER_HELP,
        _ => HELP,
    };
    d.note(format!("{CLOSE_WAIT}; {spin}")).help(help)
}

/// A loop that reads frames or lines and goes round again at their end of stream
/// ([`frames`]).
fn frame_diagnostic(f: &FrameFinding, accepted: Option<&Span>) -> Diagnostic {
    let eof = if f.method == "next" {
        "`None`"
    } else {
        "`Ok(None)`"
    };
    let mut d = Diagnostic::new(
        &EOF_IGNORED,
        Location::new(0, f.at),
        format!("end of stream from `{}` is not handled: this loop never stops once the peer has closed", f.method),
    )
    .primary_label(f.label.clone());
    if f.call != f.at {
        d = d.label(
            Location::new(0, f.call),
            format!("returns {eof} at once, every time, once the peer has closed"),
        );
    }
    d = d.label(
        Location::new(0, f.keyword),
        "nothing on the end-of-stream path leaves this loop",
    );
    if let Some(a) = accepted {
        d = d.label(Location::new(0, *a), "the connection is accepted here");
    }
    d.note(format!("once the peer closes, the kernel acknowledges its FIN and the connection waits in CLOSE_WAIT for this process to close its side; a stream of frames or lines over the connection then ends with {eof}, and asked again it answers {eof} again at once, so this loop never ends: the task spins at 100% CPU and never drops the stream, and the connection, its descriptor and its buffers are held until the process exits"))
        .help(match f.method.as_str() {
            "next" => "leave the loop on `None` (`while let Some(frame) = frames.next().await`, or a `None => break` arm), so the stream and its connection are dropped".to_string(),
            m => format!("leave the loop on `Ok(None)` (`while let Some(item) = stream.{m}().await?`, or an `Ok(None) => break` arm), so the stream and its connection are dropped"),
        })
}

/// A poll loop that goes round again when `poll_read` reports end of stream
/// ([`poll_reads`]).
fn poll_diagnostic(f: &PollFinding) -> Diagnostic {
    let (eof, short) = if f.counts {
        ("`Poll::Ready(Ok(0))`", "`Poll::Ready(Ok(0))`")
    } else {
        (
            "`Poll::Ready(Ok(()))` with nothing added to the buffer",
            "`Poll::Ready(Ok(()))` with nothing filled",
        )
    };
    let mut d = Diagnostic::new(
        &EOF_IGNORED,
        Location::new(0, f.at),
        format!(
            "end of stream from `{}` is not handled: this loop never stops once the peer has closed",
            f.name
        ),
    )
    .primary_label(f.label.clone());
    if f.poll != f.at {
        d = d.label(
            Location::new(0, f.poll),
            format!("once the peer has closed, every poll returns {short}, at once"),
        );
    }
    d.label(
        Location::new(0, f.keyword),
        "nothing on the end-of-stream path leaves this loop or returns `Poll::Pending`",
    )
    .note(format!(
        "{eof} is how `{}` reports end of stream; once the peer has closed it comes back at once on every poll, so this loop never returns `Poll::Pending` on its own: the task spins on a runtime worker thread at 100% CPU (tokio's socket hands out `Pending` only when the task's cooperative budget runs out, and the task is polled again at once), never finishes, and never drops the socket, which stays in CLOSE_WAIT with its descriptor and buffers until the process exits",
        f.name
    ))
    .help(if f.counts {
        "treat 0 bytes as the end of the stream: `if n == 0 { return Poll::Ready(Ok(0)) }` (or end your stream with `Poll::Ready(None)`), so the owner sees the end and drops the connection"
    } else {
        "compare what was filled before and after the poll (`if buf.filled().len() == before` / `rb.filled().is_empty()`) and treat no new bytes as the end: return `Poll::Ready(Ok(()))` with nothing filled (or end your stream with `Poll::Ready(None)`), so the owner sees the end and drops the connection"
    })
}

/// Collects the reads of a body with the form their result is consumed in.
struct Sites<'s, 'f> {
    streams: &'s Streams<'f>,
    helpers: &'s EofHelpers<'s>,
    found: Vec<(ReadSite, Form<'s>)>,
    /// `select!` macros, whose branches are parsed apart.
    selects: Vec<&'s syn::Macro>,
}

impl<'s> Sites<'s, '_> {
    fn site(&self, e: &Expr) -> Option<ReadSite> {
        read_site(self.streams, self.helpers, e)
    }
}

impl<'ast: 's, 's> Visit<'ast> for Sites<'s, '_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if m.path.segments.last().is_some_and(|s| s.ident == "select") {
            self.selects.push(m);
        }
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let Some(init) = &l.init {
            if let Expr::Match(m) = &*init.expr {
                let zero_arm = m.arms.iter().any(|a| is_ok_zero(&a.pat));
                if let (Some(site), false) = (self.site(&m.expr), zero_arm) {
                    // `let n = match read { Ok(n) => n, Err(..) => .. }`: the value is `n`.
                    let skip = m.arms.iter().skip(1).map(node_span).collect();
                    self.found.push((site, Form::Bound { pat: &l.pat, skip }));
                }
            } else if let Some(site) = self.site(&init.expr) {
                let form = match &l.pat {
                    Pat::Wild(_) => Form::Discarded,
                    p => Form::Bound {
                        pat: p,
                        skip: Vec::new(),
                    },
                };
                self.found.push((site, form));
            }
        }
        visit::visit_local(self, l);
    }
    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        if let Stmt::Expr(e, Some(_)) = stmt {
            if let Some(site) = self.site(e) {
                self.found.push((site, Form::Discarded));
            }
        }
        visit::visit_stmt(self, stmt);
    }
    fn visit_expr(&mut self, e: &'ast Expr) {
        match e {
            Expr::Match(m) => {
                if let Some(site) = self.site(&m.expr) {
                    self.found.push((site, Form::Match(m)));
                }
            }
            Expr::While(w) => {
                if let Expr::Let(l) = &*w.cond {
                    if let Some(site) = self.site(&l.expr) {
                        self.found.push((site, Form::WhileLet(&l.pat)));
                    }
                }
            }
            Expr::If(i) => {
                if let Expr::Let(l) = &*i.cond {
                    if let Some(site) = self.site(&l.expr) {
                        self.found.push((site, Form::IfLet(&l.pat, i)));
                    }
                }
            }
            Expr::Binary(b)
                if matches!(b.op, syn::BinOp::SubAssign(_) | syn::BinOp::AddAssign(_)) =>
            {
                if let Some(site) = self.site(&b.right) {
                    self.found.push((site, Form::Counter(b)));
                }
            }
            _ => {}
        }
        visit::visit_expr(self, e);
    }
}

/// Functions of the file called from its tests and from nothing else: test helpers
/// (`read_until_pending` in a `tests/` file), whose peers are the tests themselves.
fn test_only(fns: &[Function<'_>]) -> HashSet<String> {
    struct Calls(HashSet<String>);
    impl<'ast> Visit<'ast> for Calls {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let Expr::Path(p) = &*c.func {
                if let Some(last) = p.path.segments.last() {
                    self.0.insert(last.ident.to_string());
                }
            }
            visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            self.0.insert(m.method.to_string());
            visit::visit_expr_method_call(self, m);
        }
    }
    let called_from = |test: bool| {
        let mut calls = Calls(HashSet::new());
        for f in fns.iter().filter(|f| f.is_test == test) {
            calls.visit_block(f.block);
        }
        calls.0
    };
    let (from_tests, from_code) = (called_from(true), called_from(false));
    from_tests.difference(&from_code).cloned().collect()
}
