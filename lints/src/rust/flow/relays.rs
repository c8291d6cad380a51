//! Relays between two connections, for `relay-half-close-unbounded`: a `copy_bidirectional`
//! (tokio), or two copies (`io::copy` of std, tokio, futures, async-std, smol) whose reader is
//! each other's writer and that run at once: joined (`join!`, `try_join!`, `join(a, b)`), or
//! one of them in a spawned task or thread. And whether anything bounds the time one direction
//! may go on after the other has ended.
//!
//! Values are followed to the connection they come from: halves of `split()`/`into_split()`/
//! `io::split(..)`, `try_clone()`, `&mut x`, wrappers built with `::new(x)`, `self.field`.
//! Futures bound to a name (`let up = async { copy(..) }`) take the place where the name is
//! used (`try_join!(up, down)`, `tokio::spawn(up)`).
//!
//! Bounded, and so never a relay to report: a copy or a relay inside a `timeout(..)` call or a
//! `.timeout(..)` method, or a future used in one; one inside `select!` (the first end drops
//! the other direction); a function that mentions a read timeout (`set_read_timeout`,
//! `TimeoutStream`, `TimeoutReader`), shuts a connection down for reading
//! (`Shutdown::Both`/`Shutdown::Read` make the other copy's read end), or aborts a task.

use std::collections::HashMap;

use nginx_parser::Span;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Member, Pat};

use crate::rust::flow::tasks::SPAWNERS;
use crate::rust::model::sockets::{idents_in_macro, idents_in_pat, through_access, Imports};
use crate::rust::node_span;

/// One relay of a function.
pub struct Relay {
    /// The `copy_bidirectional` call, or the first copy of the pair in source order.
    pub span: Span,
    /// The other copy of a pair.
    pub other: Option<Span>,
}

/// Where an expression runs, from the function body inward.
#[derive(Clone, Debug, PartialEq)]
enum Frame {
    /// Inside a spawned task or thread (the spawn call's id).
    Spawn(usize),
    /// The `arm`-th future of a join (the join's id).
    Join(usize, usize),
    /// A future bound to this name, placed where the name is used.
    Named(String),
    /// Inside a timeout or a `select!`: ends before, or with, its other branches.
    Bounded,
}

struct Copy {
    span: Span,
    reader: String,
    writer: String,
    frames: Vec<Frame>,
}

/// The relays of one function body (nested closures and async blocks included, nested `fn`
/// items not: they are functions of their own) that nothing bounds.
pub fn unbounded_relays(imports: &Imports, block: &Block) -> Vec<Relay> {
    let mut finder = Finder {
        imports,
        frames: Vec::new(),
        next_id: 0,
        roots: HashMap::new(),
        copies: Vec::new(),
        bidirectional: Vec::new(),
        named: HashMap::new(),
        bounded_everywhere: false,
    };
    finder.visit_block(block);
    if finder.bounded_everywhere {
        return Vec::new();
    }
    let resolve = |frames: &[Frame]| -> Vec<Frame> {
        let mut out = Vec::new();
        for frame in frames {
            match frame {
                Frame::Named(name) => out.extend(finder.named.get(name).cloned()),
                other => out.push(other.clone()),
            }
        }
        out
    };
    let mut relays: Vec<Relay> = finder
        .bidirectional
        .iter()
        .filter(|(_, frames)| !resolve(frames).contains(&Frame::Bounded))
        .map(|(span, _)| Relay {
            span: *span,
            other: None,
        })
        .collect();
    let copies: Vec<(&Copy, Vec<Frame>)> = finder
        .copies
        .iter()
        .map(|c| (c, resolve(&c.frames)))
        .collect();
    for (i, (a, a_frames)) in copies.iter().enumerate() {
        for (b, b_frames) in &copies[i + 1..] {
            let reciprocal = a.reader == b.writer && a.writer == b.reader && a.reader != a.writer;
            if reciprocal
                && concurrent(a_frames, b_frames)
                && !a_frames.contains(&Frame::Bounded)
                && !b_frames.contains(&Frame::Bounded)
            {
                relays.push(Relay {
                    span: a.span,
                    other: Some(b.span),
                });
            }
        }
    }
    relays
}

/// Whether two places of one function run at the same time: where they part, one of them is
/// in a spawned task, or they are two arms of one join.
fn concurrent(a: &[Frame], b: &[Frame]) -> bool {
    let shared = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if let (Some(Frame::Join(x, i)), Some(Frame::Join(y, j))) = (a.get(shared), b.get(shared)) {
        if x == y && i != j {
            return true;
        }
    }
    a[shared..]
        .iter()
        .chain(&b[shared..])
        .any(|f| matches!(f, Frame::Spawn(_)))
}

/// Copy functions, as full paths.
const COPIES: &[&[&str]] = &[
    &["std", "io", "copy"],
    &["tokio", "io", "copy"],
    &["tokio", "io", "copy_buf"],
    &["futures", "io", "copy"],
    &["futures", "io", "copy_buf"],
    &["futures_util", "io", "copy"],
    &["async_std", "io", "copy"],
    &["smol", "io", "copy"],
    &["futures_lite", "io", "copy"],
];

const BIDIRECTIONAL: &[&[&str]] = &[
    &["tokio", "io", "copy_bidirectional"],
    &["tokio", "io", "copy_bidirectional_with_sizes"],
];

/// Futures combinators that wait for all their arguments.
const JOINS: &[&str] = &[
    "join",
    "try_join",
    "join3",
    "try_join3",
    "join4",
    "try_join4",
];

/// Methods and calls whose value is the same connection (or a part of it).
const SAME_CONNECTION_METHODS: &[&str] = &[
    "split",
    "into_split",
    "try_clone",
    "clone",
    "get_mut",
    "get_ref",
    "by_ref",
    "compat",
];

/// Names whose mention bounds every relay of the function: read timeouts, and shutting a
/// connection down for reading (the other copy's read returns at once).
const BOUNDING_NAMES: &[&str] = &[
    "set_read_timeout",
    "set_timeout",
    "TimeoutStream",
    "TimeoutReader",
    "abort",
];

struct Finder<'a> {
    imports: &'a Imports,
    frames: Vec<Frame>,
    next_id: usize,
    /// Local name -> the connection it is (a part of).
    roots: HashMap<String, String>,
    copies: Vec<Copy>,
    bidirectional: Vec<(Span, Vec<Frame>)>,
    /// Futures bound to a name -> the frame where the name is used.
    named: HashMap<String, Frame>,
    bounded_everywhere: bool,
}

impl Finder<'_> {
    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    fn within(&mut self, frame: Frame, f: impl FnOnce(&mut Self)) {
        self.frames.push(frame);
        f(self);
        self.frames.pop();
    }

    /// The connection an expression is, or a part of.
    fn root(&self, expr: &Expr) -> Option<String> {
        match through_access(expr) {
            Expr::Path(p) => {
                let name = p.path.get_ident()?.to_string();
                Some(self.roots.get(&name).cloned().unwrap_or(name))
            }
            Expr::Field(f) => match (&*f.base, &f.member) {
                (Expr::Path(p), Member::Named(field)) if p.path.is_ident("self") => {
                    Some(format!("self.{field}"))
                }
                _ => None,
            },
            Expr::MethodCall(m)
                if SAME_CONNECTION_METHODS.contains(&m.method.to_string().as_str()) =>
            {
                self.root(&m.receiver)
            }
            Expr::Call(c) if c.args.len() == 1 => {
                let Expr::Path(p) = &*c.func else {
                    return None;
                };
                let last = p.path.segments.last()?.ident.to_string();
                matches!(last.as_str(), "new" | "split" | "from_std" | "from")
                    .then(|| self.root(&c.args[0]))?
            }
            _ => None,
        }
    }

    /// A future given to a join, a spawn or a timeout by its name takes that place.
    fn place_named(&mut self, arg: &Expr, frame: Frame) {
        if let Expr::Path(p) = through_access(arg) {
            if let Some(name) = p.path.get_ident() {
                self.named.insert(name.to_string(), frame);
            }
        }
    }

    fn visit_join_args<'e>(&mut self, args: impl IntoIterator<Item = &'e Expr>) {
        let id = self.id();
        for (arm, arg) in args.into_iter().enumerate() {
            self.place_named(arg, Frame::Join(id, arm));
            self.within(Frame::Join(id, arm), |v| v.visit_expr(arg));
        }
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_local(&mut self, local: &'ast syn::Local) {
        let Some(init) = &local.init else {
            return visit::visit_local(self, local);
        };
        let name = match crate::rust::model::sockets::strip_pat_type(&local.pat) {
            Pat::Ident(i) => Some(i.ident.to_string()),
            _ => None,
        };
        match &name {
            Some(name) => self.within(Frame::Named(name.clone()), |v| v.visit_expr(&init.expr)),
            None => self.visit_expr(&init.expr),
        }
        if let Some((_, diverge)) = &init.diverge {
            self.visit_expr(diverge);
        }
        if let Some(root) = self.root(&init.expr) {
            for ident in idents_in_pat(&local.pat) {
                if ident != root {
                    self.roots.insert(ident, root.clone());
                }
            }
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        let Expr::Path(path) = &*call.func else {
            return visit::visit_expr_call(self, call);
        };
        let last = path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        // Resolving a path allocates: only for the names that may be copies.
        let copy_like = last.starts_with("copy");
        if copy_like && call.args.len() >= 2 && self.imports.calls(&call.func, COPIES) {
            if let (Some(reader), Some(writer)) =
                (self.root(&call.args[0]), self.root(&call.args[1]))
            {
                self.copies.push(Copy {
                    span: node_span(call),
                    reader,
                    writer,
                    frames: self.frames.clone(),
                });
            }
        } else if copy_like && self.imports.calls(&call.func, BIDIRECTIONAL) {
            self.bidirectional
                .push((node_span(call), self.frames.clone()));
        } else if SPAWNERS.contains(&last.as_str()) {
            let id = self.id();
            for arg in &call.args {
                self.place_named(arg, Frame::Spawn(id));
            }
            return self.within(Frame::Spawn(id), |v| visit::visit_expr_call(v, call));
        } else if JOINS.contains(&last.as_str()) && call.args.len() >= 2 {
            return self.visit_join_args(&call.args);
        } else if matches!(last.as_str(), "timeout" | "timeout_at") {
            for arg in &call.args {
                self.place_named(arg, Frame::Bounded);
            }
            return self.within(Frame::Bounded, |v| visit::visit_expr_call(v, call));
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let method = m.method.to_string();
        if BOUNDING_NAMES.contains(&method.as_str()) {
            self.bounded_everywhere = true;
        }
        if SPAWNERS.contains(&method.as_str()) && m.args.len() == 1 {
            let id = self.id();
            self.place_named(&m.args[0], Frame::Spawn(id));
            self.visit_expr(&m.receiver);
            return self.within(Frame::Spawn(id), |v| v.visit_expr(&m.args[0]));
        }
        if method == "timeout" {
            self.place_named(&m.receiver, Frame::Bounded);
            return self.within(Frame::Bounded, |v| visit::visit_expr_method_call(v, m));
        }
        visit::visit_expr_method_call(self, m);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<&syn::Ident> = path.segments.iter().map(|s| &s.ident).collect();
        let shuts_reading = segments
            .windows(2)
            .any(|w| w[0] == "Shutdown" && (w[1] == "Both" || w[1] == "Read"));
        if shuts_reading
            || segments
                .iter()
                .any(|i| BOUNDING_NAMES.iter().any(|n| *i == n))
        {
            self.bounded_everywhere = true;
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let Some(last) = mac.path.segments.last().map(|s| s.ident.to_string()) else {
            return;
        };
        match last.as_str() {
            "join" | "try_join" => {
                let parser = Punctuated::<Expr, syn::Token![,]>::parse_terminated;
                if let Ok(args) = mac.parse_body_with(parser) {
                    self.visit_join_args(&args);
                }
            }
            // The first branch to finish ends the others: a copy in a branch, or a named
            // future polled by one, is bounded by the other branches.
            "select" | "select_biased" => {
                for name in idents_in_macro(mac) {
                    self.named.insert(name, Frame::Bounded);
                }
            }
            _ => {}
        }
    }
}
