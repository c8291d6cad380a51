use std::collections::HashMap;

use syn::visit::Visit;
use syn::{Expr, ExprCall, ExprMethodCall, ExprStruct, Member};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::syntax::calls::{
    file_constants, is_zero_duration, is_zero_int, path_ends_with, unwrap_some,
};
use crate::rust::syntax::enclosing::{track_enclosing_fns, EnclosingFns};
use crate::rust::syntax::patterns::only_err;
use crate::rust::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a socket's linger time set to zero: `set_linger(Some(Duration::ZERO))` in any
    /// spelling (`Duration::from_secs(0)`, `from_millis(0)`, `Duration::new(0, 0)`, a constant
    /// holding one of those) on socket2, tokio or std sockets, tokio's `set_zero_linger()`,
    /// rustix's `set_socket_linger(fd, Some(Duration::ZERO))`, and a `libc::linger` value with
    /// `l_onoff` set and `l_linger: 0` (for `setsockopt(SO_LINGER)` through libc or nix).
    /// Inside a function that itself implements a linger setter (`fn set_zero_linger`), setting
    /// the option is that function's job: its callers are flagged instead.
    /// Test code (`#[test]`, `#[tokio::test]`... functions and `#[cfg(test)]` modules) is not
    /// checked: tests switch this on purpose, to exercise it. Nor is an error path (an `Err(..)`
    /// match arm, `if let Err(..)`, the `else` of `let Ok(..) = .. else`, a `map_err` or
    /// `or_else` closure): resetting a connection that failed (a handshake that did not verify,
    /// a peer that broke the protocol) is what RST is for, and there is no response to lose.
    ///
    /// ## Why is this bad?
    /// With SO_LINGER on and a zero timeout, `close()` does not send FIN: the kernel discards
    /// any unsent data and sends RST. The peer sees "connection reset by peer" (possibly before
    /// reading the last response), and the closing side skips TIME_WAIT. That is why it is
    /// tempting when TIME_WAIT piles up, and why it is dangerous: TIME_WAIT exists so that
    /// delayed segments of the old connection are not accepted by a new connection with the
    /// same addresses and ports, and so that a lost final ACK can be retransmitted. Removing it
    /// trades a bounded cost (a socket held for 60 s) for silent data loss and resets that are
    /// hard to diagnose. The cure for TIME_WAIT on a server is to stop closing first (keep
    /// connections alive, let clients close), not to reset connections. Measured on this rule's
    /// fixtures in `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// use std::time::Duration;
    /// let socket = socket2::SockRef::from(&stream);
    /// socket.set_linger(Some(Duration::ZERO))?;
    /// drop(stream); // sends RST, not FIN
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// // Leave SO_LINGER off (the default): close() sends FIN and the kernel delivers
    /// // unsent data. Keep connections alive so the client, not the server, closes first.
    /// drop(stream);
    /// ```
    pub ZERO_LINGER {
        code: "RS007",
        name: "zero-linger",
        family: Rust,
        severity: Warning,
        summary: "a zero linger time makes close() send RST instead of FIN, discarding data and skipping TIME_WAIT",
        fixable: false,
    }
}

struct Finder<'a> {
    consts: HashMap<String, &'a Expr>,
    /// Inside a function that implements a linger setter itself (`fn set_zero_linger`), where
    /// setting the option is the function's documented job, not a choice of the caller.
    fns: EnclosingFns,
    /// How many error paths (see the rule's doc) the visitor is inside.
    error_paths: usize,
    out: Vec<(proc_macro2::Span, &'static str)>,
}

fn is_linger_setter(name: &str) -> bool {
    name.starts_with("set_") && name.contains("linger")
}

impl<'a> Finder<'a> {
    fn push(&mut self, span: proc_macro2::Span, what: &'static str) {
        if !self.fns.any_is(is_linger_setter) && self.error_paths == 0 {
            self.out.push((span, what));
        }
    }
}

impl<'a> Visit<'a> for Finder<'a> {
    track_enclosing_fns!('a, fns);

    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        let error = only_err(&arm.pat);
        self.error_paths += usize::from(error);
        syn::visit::visit_arm(self, arm);
        self.error_paths -= usize::from(error);
    }

    fn visit_expr_if(&mut self, e: &'a syn::ExprIf) {
        let error = matches!(&*e.cond, Expr::Let(l) if only_err(&l.pat));
        self.visit_expr(&e.cond);
        self.error_paths += usize::from(error);
        self.visit_block(&e.then_branch);
        self.error_paths -= usize::from(error);
        if let Some((_, other)) = &e.else_branch {
            self.visit_expr(other);
        }
    }

    fn visit_local(&mut self, local: &'a syn::Local) {
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.error_paths += 1;
                self.visit_expr(diverge);
                self.error_paths -= 1;
            }
        }
    }

    fn visit_expr_method_call(&mut self, call: &'a ExprMethodCall) {
        let method = call.method.to_string();
        if matches!(method.as_str(), "map_err" | "or_else") {
            self.visit_expr(&call.receiver);
            self.error_paths += 1;
            for arg in &call.args {
                self.visit_expr(arg);
            }
            self.error_paths -= 1;
            return;
        }
        if method == "set_linger" && call.args.len() == 1 {
            if let Some(inner) = unwrap_some(&call.args[0]) {
                if is_zero_duration(inner, &self.consts) {
                    self.push(
                        call.method
                            .span()
                            .join(call.paren_token.span.join())
                            .unwrap_or(call.method.span()),
                        "set_linger(Some(0))",
                    );
                }
            }
        } else if method == "set_zero_linger" && call.args.is_empty() {
            self.push(call.method.span(), "set_zero_linger()");
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'a ExprCall) {
        if path_ends_with(&call.func, &["set_socket_linger"]) && call.args.len() == 2 {
            if let Some(inner) = unwrap_some(&call.args[1]) {
                if is_zero_duration(inner, &self.consts) {
                    self.push(
                        syn::spanned::Spanned::span(call),
                        "set_socket_linger(.., Some(0))",
                    );
                }
            }
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_struct(&mut self, s: &'a ExprStruct) {
        if s.path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == "linger")
        {
            let field = |name: &str| {
                s.fields
                    .iter()
                    .find(|f| matches!(&f.member, Member::Named(i) if i == name))
                    .map(|f| &f.expr)
            };
            if let (Some(on), Some(time)) = (field("l_onoff"), field("l_linger")) {
                if !is_zero_int(on) && is_zero_int(time) {
                    self.push(
                        syn::spanned::Spanned::span(s),
                        "linger { l_onoff: 1, l_linger: 0 }",
                    );
                }
            }
        }
        syn::visit::visit_expr_struct(self, s);
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut finder = Finder {
        consts: file_constants(ctx.file),
        fns: EnclosingFns::default(),
        error_paths: 0,
        out: Vec::new(),
    };
    finder.visit_file(ctx.file);
    for (span, what) in finder.out {
        let span = crate::rust::span_of(span);
        if ctx.analysis.in_test(span) {
            continue;
        }
        // Quote the code as written when it is short and on one line.
        let written = ctx
            .source
            .get(span.range())
            .filter(|t| t.len() <= 60 && !t.contains('\n'))
            .unwrap_or(what);
        out.push(
            Diagnostic::new(&ZERO_LINGER, Location::new(0, span), format!("`{written}`: closing this socket will send RST instead of FIN"))
                .primary_label("linger time of zero")
                .note("a zero linger makes close() discard unsent data and reset the connection; the peer sees \"connection reset by peer\", and the TIME_WAIT that protects a new connection on the same ports from stray old segments is skipped")
                .help("leave SO_LINGER off; if TIME_WAIT piles up on this side, make the peer close first (keep connections alive) rather than resetting them"),
        );
    }
}
