//! What the CLOSE_WAIT rules know about sockets, shared by every rule that follows one: which
//! calls produce a listener or an accepted socket (std, tokio, mio, async-std, async-net/smol,
//! socket2, nix, libc), how a name written in the file resolves through its `use` items, which
//! functions a file defines, which names in a function hold an accepted socket, and how each
//! later mention of a value is used (a method receiver, an argument, stored in a struct,
//! returned...). The rules decide what each use means; the policy they share is in
//! docs/rust-analysis.md: a use the analysis cannot explain counts as the value being handed
//! over (closed, accepted), because silence is better than noise.
//!
//! No types are known: a value is followed by name within one function body (closures and async
//! blocks included, nested items excluded), flow-insensitively.

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, BinOp, Block, Expr, Member, Pat, Signature, Stmt, UseTree};

use crate::rust::{node_span, span_of};

/// Crates whose paths the analysis recognises; a path rooted elsewhere (`crate::`, another
/// crate) is somebody else's type, whatever its name.
const NET_CRATES: &[&str] = &[
    "std",
    "core",
    "tokio",
    "mio",
    "async_std",
    "async_net",
    "smol",
    "socket2",
    "nix",
    "libc",
];

/// Crates with a `TcpListener::bind` / `UnixListener::bind` (at any module depth, re-exports
/// included: `tokio::net::TcpListener`, `smol::net::unix::UnixListener`...).
const LISTENER_CRATES: &[&str] = &["std", "tokio", "mio", "async_std", "async_net", "smol"];

/// The functions that return a freshly accepted raw fd.
const RAW_ACCEPT: &[&[&str]] = &[
    &["libc", "accept"],
    &["libc", "accept4"],
    &["nix", "sys", "socket", "accept"],
    &["nix", "sys", "socket", "accept4"],
];

/// libc / nix functions that use a raw fd without taking it over: passing an fd to them does
/// not close it.
const FD_BORROWING: &[&str] = &[
    "read",
    "write",
    "recv",
    "recvfrom",
    "recvmsg",
    "send",
    "sendto",
    "sendmsg",
    "readv",
    "writev",
    "pread",
    "pwrite",
    "setsockopt",
    "getsockopt",
    "fcntl",
    "ioctl",
    "getpeername",
    "getsockname",
    "shutdown",
    "sendfile",
    "fstat",
    "dup",
    "isatty",
];

/// Functions that take a raw fd over: closing it, or wrapping it in an owner that will.
const FD_CLOSING: &[&str] = &["close", "from_raw_fd", "from_raw_socket", "closesocket"];

/// Methods through which an owned value flows unchanged (a `Result` or `Option` unwrapped, a
/// tokio socket turned into its std twin).
const VALUE_METHODS: &[&str] = &[
    "unwrap",
    "expect",
    "unwrap_unchecked",
    "context",
    "with_context",
    "wrap_err",
    "wrap_err_with",
    "map_err",
    "ok",
    "into_std",
];

/// Methods that reach the value inside a wrapper without taking it (`self.listener.as_ref()`,
/// `conn.lock().unwrap()`): a use of the result is a use of the value.
const ACCESS_METHODS: &[&str] = &[
    "as_ref",
    "as_mut",
    "unwrap",
    "expect",
    "lock",
    "borrow",
    "borrow_mut",
    "get_ref",
    "get_mut",
    "as_deref",
    "as_deref_mut",
    "deref",
    "deref_mut",
    "ok",
];

/// Iterator and stream adapters that keep the items of `incoming()` accepted sockets.
const STREAM_ADAPTERS: &[&str] = &[
    "flatten",
    "filter_map",
    "take",
    "skip",
    "by_ref",
    "fuse",
    "peekable",
    "take_while",
    "filter",
];

/// Macros that only format their arguments.
const PRINT_MACROS: &[&str] = &[
    "println",
    "print",
    "eprintln",
    "eprint",
    "format",
    "format_args",
    "write",
    "writeln",
    "panic",
    "info",
    "debug",
    "warn",
    "error",
    "trace",
    "event",
    "log",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "unreachable",
    "todo",
];

/// A macro's name: the last segment of its path (`info` for `log::info!`).
pub fn macro_name(mac: &syn::Macro) -> String {
    mac.path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// Whether a macro (by its last path segment) only formats its arguments.
pub fn is_print_macro(name: &str) -> bool {
    PRINT_MACROS.contains(&name)
}

// ---------------------------------------------------------------------------------------------
// Names: `use` items and the items a file defines

/// The `use` items of a file (at any depth), to turn a path as written into the path it names.
#[derive(Default)]
pub struct Imports {
    names: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    /// Names of items the file defines: a glob does not explain them.
    local: HashSet<String>,
    /// The file's own functions that hand a freshly accepted raw fd to their caller
    /// (`fn accept_with_retry(fd: i32) -> Result<i32>` around nix's `accept`): a call of one is
    /// an accept, written like any other call, so it is known here with the paths.
    raw_accept_wrappers: HashSet<String>,
}

impl Imports {
    pub fn of(file: &syn::File) -> Imports {
        let mut imports = Imports::default();
        let mut candidates = Vec::new();
        Collect(&mut imports, &mut candidates).visit_file(file);
        imports.raw_accept_wrappers = candidates
            .into_iter()
            .filter(|(_, block)| calls_raw_accept(&imports, block))
            .map(|(name, _)| name)
            .collect();
        imports
    }

    /// Whether a callee is one of the file's functions that return a freshly accepted raw fd
    /// (`helper(..)`, `Self::helper(..)`).
    fn calls_raw_accept_wrapper(&self, func: &Expr) -> bool {
        let Expr::Path(p) = func else { return false };
        let segments: Vec<_> = p.path.segments.iter().collect();
        let name = match segments.as_slice() {
            [f] => &f.ident,
            [ty, f] if ty.ident == "Self" => &f.ident,
            _ => return false,
        };
        self.raw_accept_wrappers.contains(&name.to_string())
    }

    /// Every full path `segments` may name: the imported one when its first segment was
    /// imported by name, else the path as written plus one candidate per glob import.
    pub fn resolve(&self, segments: &[String]) -> Vec<Vec<String>> {
        let Some(first) = segments.first() else {
            return Vec::new();
        };
        if let Some(full) = self.names.get(first) {
            return vec![full.iter().chain(&segments[1..]).cloned().collect()];
        }
        let mut out = vec![segments.to_vec()];
        let rooted = matches!(first.as_str(), "crate" | "self" | "super" | "alloc")
            || NET_CRATES.contains(&first.as_str());
        if !rooted && !self.local.contains(first) {
            out.extend(
                self.globs
                    .iter()
                    .map(|g| g.iter().chain(segments).cloned().collect()),
            );
        }
        out
    }

    /// Whether the file defines an item (function, type, trait, module) of this name.
    pub fn defines(&self, name: &str) -> bool {
        self.local.contains(name)
    }

    /// The candidates of a path expression (`libc::accept`, `forget`), or none.
    pub fn resolve_expr(&self, expr: &Expr) -> Vec<Vec<String>> {
        match expr {
            Expr::Path(p) => self.resolve(
                &p.path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect::<Vec<_>>(),
            ),
            Expr::Paren(p) => self.resolve_expr(&p.expr),
            _ => Vec::new(),
        }
    }

    /// Whether a callee names one of `wanted` (full paths).
    pub fn calls(&self, func: &Expr, wanted: &[&[&str]]) -> bool {
        self.resolve_expr(func).iter().any(|c| {
            wanted
                .iter()
                .any(|w| c.iter().map(String::as_str).eq(w.iter().copied()))
        })
    }

    /// Whether a callee's path ends with `tail` (`Box::leak`, `ManuallyDrop::new`): for std
    /// items that the prelude or any module path can reach.
    pub fn calls_tail(&self, func: &Expr, tail: &[&str]) -> bool {
        self.resolve_expr(func).iter().any(|c| {
            c.len() >= tail.len()
                && c[c.len() - tail.len()..]
                    .iter()
                    .map(String::as_str)
                    .eq(tail.iter().copied())
        })
    }
}

/// Collects the `use` paths and the names the file defines, and the functions that may wrap a
/// raw accept (those whose return type is a raw fd: `RawFd`, `c_int`, `i32`, in a `Result` or
/// not), with their bodies, to look into once every path resolves.
struct Collect<'i, 'a>(&'i mut Imports, &'i mut Vec<(String, &'a Block)>);

impl<'a> Collect<'_, 'a> {
    fn candidate(&mut self, sig: &Signature, block: &'a Block) {
        let syn::ReturnType::Type(_, ty) = &sig.output else {
            return;
        };
        let raw = idents_in_type(ty)
            .iter()
            .any(|n| matches!(n.as_str(), "RawFd" | "c_int" | "i32"));
        if raw {
            self.1.push((sig.ident.to_string(), block));
        }
    }
}

/// Whether a body calls `libc::accept`/`accept4` or nix's (in any nested expression).
fn calls_raw_accept(imports: &Imports, block: &Block) -> bool {
    struct Finder<'i>(&'i Imports, bool);
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            self.1 |= self.0.calls(&c.func, RAW_ACCEPT);
            visit::visit_expr_call(self, c);
        }
    }
    let mut f = Finder(imports, false);
    f.visit_block(block);
    f.1
}

impl<'ast> Visit<'ast> for Collect<'_, 'ast> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut stack: Vec<(Vec<String>, &UseTree)> = vec![(Vec::new(), &u.tree)];
        while let Some((prefix, tree)) = stack.pop() {
            match tree {
                UseTree::Path(p) => {
                    let mut next = prefix.clone();
                    next.push(p.ident.to_string());
                    stack.push((next, &p.tree));
                }
                UseTree::Name(n) if n.ident == "self" => {
                    if let Some(last) = prefix.last() {
                        self.0.names.insert(last.clone(), prefix.clone());
                    }
                }
                UseTree::Name(n) => {
                    let mut full = prefix.clone();
                    full.push(n.ident.to_string());
                    self.0.names.insert(n.ident.to_string(), full);
                }
                UseTree::Rename(r) => {
                    let mut full = prefix.clone();
                    if r.ident != "self" {
                        full.push(r.ident.to_string());
                    }
                    self.0.names.insert(r.rename.to_string(), full);
                }
                UseTree::Glob(_) => self.0.globs.push(prefix),
                UseTree::Group(g) => stack.extend(g.items.iter().map(|t| (prefix.clone(), t))),
            }
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.0.local.insert(f.sig.ident.to_string());
        self.candidate(&f.sig, &f.block);
        visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.candidate(&f.sig, &f.block);
        visit::visit_impl_item_fn(self, f);
    }
    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        self.0.local.insert(s.ident.to_string());
    }
    fn visit_item_enum(&mut self, e: &'ast syn::ItemEnum) {
        self.0.local.insert(e.ident.to_string());
    }
    fn visit_item_type(&mut self, t: &'ast syn::ItemType) {
        self.0.local.insert(t.ident.to_string());
    }
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.0.local.insert(m.ident.to_string());
        visit::visit_item_mod(self, m);
    }
}

// ---------------------------------------------------------------------------------------------
// Functions

/// One function body of a file.
#[derive(Clone)]
pub struct Function<'a> {
    pub name: String,
    pub sig: &'a Signature,
    pub block: &'a Block,
    /// A `#[test]` (or `#[tokio::test]`, `#[bench]`...) function, or one inside `#[cfg(test)]`.
    pub is_test: bool,
    /// The `Self` type's last segment for a method.
    pub self_ty: Option<String>,
    /// The generics of the `impl` block a method is in (its own are in `sig`).
    pub impl_generics: Option<&'a syn::Generics>,
}

impl<'a> Function<'a> {
    /// The generics in scope in the body: the `impl` block's, then the function's own.
    pub fn generics(&self) -> Vec<&'a syn::Generics> {
        self.impl_generics
            .into_iter()
            .chain([&self.sig.generics])
            .collect()
    }
}

/// Every function of the file with a body: free functions, methods, trait default methods, and
/// functions nested in other bodies or modules.
pub fn functions(file: &syn::File) -> Vec<Function<'_>> {
    let mut finder = Functions::default();
    finder.visit_file(file);
    finder.out
}

#[derive(Default)]
struct Functions<'a> {
    out: Vec<Function<'a>>,
    test_depth: usize,
    self_ty: Vec<Option<String>>,
    impl_generics: Vec<&'a syn::Generics>,
}

/// Whether attributes mark a test: `#[test]`, `#[tokio::test]`, `#[bench]`, `#[rstest]`...
pub fn is_test_attr(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().segments.last().is_some_and(|s| {
            matches!(
                s.ident.to_string().as_str(),
                "test" | "bench" | "rstest" | "test_case" | "quickcheck"
            )
        })
    })
}

/// Whether attributes include `#[cfg(test)]` (or a `cfg` that mentions `test`).
pub fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && match &a.meta {
                syn::Meta::List(l) => l
                    .tokens
                    .clone()
                    .into_iter()
                    .any(|t| matches!(t, TokenTree::Ident(i) if i == "test")),
                _ => false,
            }
    })
}

impl<'a> Functions<'a> {
    fn push(&mut self, attrs: &[Attribute], sig: &'a Signature, block: &'a Block) {
        self.out.push(Function {
            name: sig.ident.to_string(),
            sig,
            block,
            is_test: self.test_depth > 0 || is_test_attr(attrs) || is_cfg_test(attrs),
            self_ty: self.self_ty.last().cloned().flatten(),
            impl_generics: self.impl_generics.last().copied(),
        });
    }
}

impl<'a> Visit<'a> for Functions<'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.push(&f.attrs, &f.sig, &f.block);
        visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.push(&f.attrs, &f.sig, &f.block);
        visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'a syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.push(&f.attrs, &f.sig, block);
        }
        visit::visit_trait_item_fn(self, f);
    }
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let ty = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.self_ty.push(ty);
        self.impl_generics.push(&i.generics);
        visit::visit_item_impl(self, i);
        self.impl_generics.pop();
        self.self_ty.pop();
    }
    fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
        let test = is_cfg_test(&m.attrs);
        self.test_depth += usize::from(test);
        visit::visit_item_mod(self, m);
        self.test_depth -= usize::from(test);
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// The single tail expression of a block with no other statement.
fn only_tail(block: &Block) -> Option<&Expr> {
    match block.stmts.as_slice() {
        [Stmt::Expr(e, None)] => Some(e),
        _ => None,
    }
}

/// The expression whose value `expr` is, for ownership: through parentheses, `?`, `.await`,
/// `unsafe { .. }` and one-expression blocks, and value-preserving methods (`unwrap`, `expect`,
/// `context`, `map_err`, `into_std`...).
pub fn through_wrappers(mut expr: &Expr) -> &Expr {
    loop {
        expr = match expr {
            Expr::Paren(p) => &p.expr,
            Expr::Group(g) => &g.expr,
            Expr::Try(t) => &t.expr,
            Expr::Await(a) => &a.base,
            Expr::Unsafe(u) => match only_tail(&u.block) {
                Some(e) => e,
                None => return expr,
            },
            Expr::Block(b) if b.label.is_none() => match only_tail(&b.block) {
                Some(e) => e,
                None => return expr,
            },
            Expr::MethodCall(m) if VALUE_METHODS.contains(&m.method.to_string().as_str()) => {
                &m.receiver
            }
            _ => return expr,
        };
    }
}

/// The expression `expr` reaches without moving it: through `&`, `&mut`, `*`, casts,
/// parentheses, `?`, `.await`, and accessors (`as_ref`, `lock`, `unwrap`...).
pub fn through_access(mut expr: &Expr) -> &Expr {
    loop {
        expr = match expr {
            Expr::Paren(p) => &p.expr,
            Expr::Group(g) => &g.expr,
            Expr::Reference(r) => &r.expr,
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => &u.expr,
            Expr::Cast(c) => &c.expr,
            Expr::Try(t) => &t.expr,
            Expr::Await(a) => &a.base,
            Expr::MethodCall(m)
                if m.args.is_empty() && ACCESS_METHODS.contains(&m.method.to_string().as_str()) =>
            {
                &m.receiver
            }
            _ => return expr,
        };
    }
}

/// The span of a method call from its name to its closing parenthesis (`accept()`).
pub fn method_span(call: &syn::ExprMethodCall) -> Span {
    span_of(call.method.span()).cover(span_of(call.paren_token.span.join()))
}

/// A call that binds a listener: `TcpListener::bind(..)` / `UnixListener::bind(..)` of std,
/// tokio, mio, async-std, async-net or smol (also `mio`'s `UnixListener::bind_addr`). Returns the
/// span of the call.
pub fn listener_ctor(imports: &Imports, expr: &Expr) -> Option<Span> {
    let Expr::Call(call) = through_wrappers(expr) else {
        return None;
    };
    let hit = imports.resolve_expr(&call.func).iter().any(|c| {
        let n = c.len();
        n >= 3
            && LISTENER_CRATES.contains(&c[0].as_str())
            && matches!(c[n - 2].as_str(), "TcpListener" | "UnixListener")
            && matches!(c[n - 1].as_str(), "bind" | "bind_addr")
    });
    hit.then(|| node_span(call))
}

/// socket2's `Socket::new(..)` / `Socket::new_raw(..)`: a listener once `listen` is called on it.
pub fn socket2_ctor(imports: &Imports, expr: &Expr) -> Option<Span> {
    let Expr::Call(call) = through_wrappers(expr) else {
        return None;
    };
    let hit = imports.resolve_expr(&call.func).iter().any(|c| {
        c.len() == 3
            && c[0] == "socket2"
            && c[1] == "Socket"
            && matches!(c[2].as_str(), "new" | "new_raw")
    });
    hit.then(|| node_span(call))
}

/// Whether `#[cfg(..)]` attributes leave Linux out (`not(target_os = "linux")`,
/// `target_os = "macos"`, `windows`): code that platforms without `accept4` compile instead.
pub fn excludes_linux(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        let syn::Meta::List(list) = &a.meta else {
            return false;
        };
        if !list.path.is_ident("cfg") {
            return false;
        }
        let cfg: String = list
            .tokens
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let linux = cfg.contains("\"linux\"") || cfg.contains("\"android\"");
        (cfg.starts_with("not(") && linux)
            || (cfg.starts_with("target_os=") && !linux)
            || cfg == "windows"
    })
}

/// Whether an operator assigns (`+=`, `|=`, `<<=`...).
pub fn is_compound_assign(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

/// Whether a callee is `libc::accept`/`accept4` or nix's `accept`/`accept4`.
pub fn is_raw_accept(imports: &Imports, func: &Expr) -> bool {
    imports.calls(func, RAW_ACCEPT)
}

/// Whether a call returns a freshly accepted raw fd: a raw accept, or a function of the file
/// that returns one of its own (the fd is then its caller's to close).
pub fn returns_accepted_fd(imports: &Imports, func: &Expr) -> bool {
    is_raw_accept(imports, func) || imports.calls_raw_accept_wrapper(func)
}

/// Whether a callee takes a raw fd over (`libc::close`, `nix::unistd::close`, `from_raw_fd`
/// of any type).
pub fn is_fd_closing(imports: &Imports, func: &Expr) -> bool {
    imports
        .resolve_expr(func)
        .iter()
        .any(|c| c.last().is_some_and(|l| FD_CLOSING.contains(&l.as_str())))
}

/// Whether a callee is a libc/nix function that uses a raw fd without closing it, or mio's
/// `SourceFd(&fd)` wrapper.
pub fn is_fd_borrowing(imports: &Imports, func: &Expr) -> bool {
    imports.resolve_expr(func).iter().any(|c| {
        let last = c[c.len() - 1].as_str();
        (c.len() >= 2 && matches!(c[0].as_str(), "libc" | "nix") && FD_BORROWING.contains(&last))
            || last == "SourceFd"
    })
}

/// What an expression holds, as far as accepting goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `(socket, address)` from `accept()`.
    Pair,
    /// An accepted socket (or a `Result` of one, as `incoming()` yields).
    Socket,
    /// A raw fd from `libc::accept` / nix `accept`.
    RawFd,
    /// The `incoming()` iterator or stream.
    Stream,
}

/// A value that comes from accepting: its shape and the accept call it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub shape: Shape,
    pub site: Span,
}

/// Names bound in one function to what accepting produced.
pub type AcceptedNames = HashMap<String, Accepted>;

/// What `expr` holds if it comes from accepting, directly (`listener.accept()?`,
/// `libc::accept(..)`, `incoming.next().await`) or through a name bound to such a value.
pub fn accepted_value(imports: &Imports, names: &AcceptedNames, expr: &Expr) -> Option<Accepted> {
    match through_wrappers(expr) {
        Expr::MethodCall(m) => {
            let method = m.method.to_string();
            let span = method_span(m);
            match (method.as_str(), m.args.len()) {
                ("accept" | "accept_raw", 0) | ("accept4", 1) => Some(Accepted {
                    shape: Shape::Pair,
                    site: span,
                }),
                ("incoming", 0) => Some(Accepted {
                    shape: Shape::Stream,
                    site: span,
                }),
                ("next", 0) => accepted_value(imports, names, &m.receiver)
                    .filter(|a| a.shape == Shape::Stream)
                    .map(|a| Accepted {
                        shape: Shape::Socket,
                        ..a
                    }),
                (adapter, _) if STREAM_ADAPTERS.contains(&adapter) => {
                    accepted_value(imports, names, &m.receiver).filter(|a| a.shape == Shape::Stream)
                }
                _ => None,
            }
        }
        Expr::Call(c) if returns_accepted_fd(imports, &c.func) => Some(Accepted {
            shape: Shape::RawFd,
            site: node_span(c),
        }),
        Expr::Field(f) if matches!(&f.member, Member::Unnamed(i) if i.index == 0) => {
            accepted_value(imports, names, &f.base)
                .filter(|a| a.shape == Shape::Pair)
                .map(|a| Accepted {
                    shape: Shape::Socket,
                    ..a
                })
        }
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            names.get(&p.path.segments[0].ident.to_string()).copied()
        }
        Expr::Match(m) => accepted_value(imports, names, &m.expr),
        _ => None,
    }
}

/// The pattern inside `Ok(..)`, `Some(..)`, `(..)`, `x: T`, `ref`/`&`.
fn unwrap_pat(mut pat: &Pat) -> &Pat {
    loop {
        pat = match pat {
            Pat::TupleStruct(t)
                if t.elems.len() == 1
                    && t.path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "Ok" || s.ident == "Some") =>
            {
                &t.elems[0]
            }
            Pat::Paren(p) => &p.pat,
            Pat::Type(t) => &t.pat,
            Pat::Reference(r) => &r.pat,
            _ => return pat,
        };
    }
}

/// Binds the names of `pat` that receive the socket of `value`.
fn bind(pat: &Pat, value: Accepted, names: &mut AcceptedNames) {
    let pat = unwrap_pat(pat);
    match (pat, value.shape) {
        (Pat::Tuple(t), Shape::Pair) => {
            if let Some(Pat::Ident(i)) = t.elems.first().map(unwrap_pat) {
                names.insert(
                    i.ident.to_string(),
                    Accepted {
                        shape: Shape::Socket,
                        ..value
                    },
                );
            }
        }
        (Pat::Ident(i), _) if i.subpat.is_none() => {
            names.insert(i.ident.to_string(), value);
        }
        _ => {}
    }
}

/// The names of a function body bound to accepted sockets, raw accepted fds, `accept()` pairs
/// and `incoming()` streams: `let (s, _) = l.accept()?`, `for s in l.incoming()`, `let s = s?`,
/// `while let Some(s) = incoming.next().await`, `match l.accept() { Ok((s, _)) => .. }`,
/// `let fd = libc::accept(..)`.
pub fn accepted_names(imports: &Imports, block: &Block) -> AcceptedNames {
    let mut finder = Binder {
        imports,
        names: HashMap::new(),
    };
    // A second pass picks up names whose first use precedes their binding in source order
    // (loop-carried values).
    finder.visit_block(block);
    finder.visit_block(block);
    finder.names
}

struct Binder<'i> {
    imports: &'i Imports,
    names: AcceptedNames,
}

impl<'ast> Visit<'ast> for Binder<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
            if let Some(v) = accepted_value(self.imports, &self.names, &init.expr) {
                bind(&local.pat, v, &mut self.names);
            }
        }
    }
    fn visit_expr_let(&mut self, l: &'ast syn::ExprLet) {
        self.visit_expr(&l.expr);
        if let Some(v) = accepted_value(self.imports, &self.names, &l.expr) {
            bind(&l.pat, v, &mut self.names);
        }
    }
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        self.visit_expr(&m.expr);
        if let Some(v) = accepted_value(self.imports, &self.names, &m.expr) {
            for arm in &m.arms {
                bind(&arm.pat, v, &mut self.names);
            }
        }
        for arm in &m.arms {
            self.visit_arm(arm);
        }
    }
    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_expr(&f.expr);
        if let Some(v) =
            accepted_value(self.imports, &self.names, &f.expr).filter(|v| v.shape == Shape::Stream)
        {
            bind(
                &f.pat,
                Accepted {
                    shape: Shape::Socket,
                    ..v
                },
                &mut self.names,
            );
        }
        self.visit_block(&f.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Uses

/// What a rule follows: a local name, or a struct field by name (`x.listener`, any `x`).
#[derive(Clone, Debug)]
pub enum Target {
    Local(String),
    Field(String),
}

impl Target {
    fn is(&self, expr: &Expr) -> bool {
        match (self, expr) {
            (Target::Local(name), Expr::Path(p)) => {
                p.qself.is_none() && p.path.segments.len() == 1 && p.path.segments[0].ident == name
            }
            (Target::Field(name), Expr::Field(f)) => {
                matches!(&f.member, Member::Named(i) if i == name)
            }
            _ => false,
        }
    }

    /// The mention `expr` is, reached without moving (see [`through_access`]).
    fn mention(&self, expr: &Expr) -> Option<Span> {
        let inner = through_access(expr);
        self.is(inner).then(|| node_span(inner))
    }
}

/// The callee a value is passed to.
#[derive(Clone, Debug)]
pub enum Callee {
    /// Every path the function may name (see [`Imports::resolve`]).
    Path(Vec<Vec<String>>),
    Method(String),
    /// A closure call or another expression.
    Other,
}

impl Callee {
    /// Whether the callee's last path segment (or method name) is one of `names`.
    pub fn named(&self, names: &[&str]) -> bool {
        match self {
            Callee::Path(cands) => cands
                .iter()
                .any(|c| c.last().is_some_and(|l| names.contains(&l.as_str()))),
            Callee::Method(m) => names.contains(&m.as_str()),
            Callee::Other => false,
        }
    }
}

/// How one mention of a value is used.
#[derive(Clone, Debug)]
pub enum UseKind {
    /// `x.method(..)` (through accessors: `x.as_ref().unwrap().method(..)`); a use inside a macro
    /// that cannot be parsed as expressions is reported this way when a method follows it.
    Receiver { method: String },
    /// `f(x)`, `r.m(x)`, at argument position `index`; `raw` is true when the callee is a libc or
    /// nix function that only borrows a raw fd, `closing` when it closes or takes over one.
    Argument {
        callee: Callee,
        index: usize,
        borrowing: bool,
        closing: bool,
    },
    /// `S { field: x }`: the struct's last path segment and the field.
    StoredIn { ty: String, field: String },
    /// An argument of a macro, by the macro's last path segment.
    MacroArg { name: String },
    /// `return x`, or the function's tail expression.
    Returned,
    /// `let y = x`, `if let .. = x`, `match x`, `y = x`.
    Moved,
    /// `x = ..`.
    Reassigned,
    /// An operand of a binary operator (`fd < 0`), or an index (`conns[fd]`).
    Operand,
    /// Anything else (a tuple element, a closure's result...): the rules treat it as a hand-over.
    Other,
}

/// One mention of a followed value.
#[derive(Clone, Debug)]
pub struct Use {
    /// The mention itself.
    pub span: Span,
    /// The expression that uses it (the call, the struct literal...), for labels.
    pub context: Span,
    pub kind: UseKind,
}

/// Every mention of `target` in a function body (closures included, nested items excluded),
/// each with how it is used, in source order.
pub fn uses(imports: &Imports, block: &Block, target: &Target) -> Vec<Use> {
    let mut finder = UseFinder {
        imports,
        target,
        kinds: HashMap::new(),
        mentions: Vec::new(),
    };
    finder.visit_block(block);
    if let Some(Stmt::Expr(tail, None)) = block.stmts.last() {
        finder.record(tail, node_span(tail), UseKind::Returned);
    }
    finder.finish()
}

struct UseFinder<'i> {
    imports: &'i Imports,
    target: &'i Target,
    /// Mention start → (context, kind). The outermost context is visited first and wins.
    kinds: HashMap<u32, (Span, UseKind)>,
    mentions: Vec<Span>,
}

impl UseFinder<'_> {
    fn record(&mut self, expr: &Expr, context: Span, kind: UseKind) {
        if let Some(span) = self.target.mention(expr) {
            self.kinds.entry(span.start).or_insert((context, kind));
        }
    }

    fn finish(self) -> Vec<Use> {
        let mut mentions = self.mentions;
        mentions.sort();
        mentions.dedup();
        let mut kinds = self.kinds;
        mentions
            .into_iter()
            .map(|span| {
                let (context, kind) = kinds.remove(&span.start).unwrap_or((span, UseKind::Other));
                Use {
                    span,
                    context,
                    kind,
                }
            })
            .collect()
    }

    fn callee(&self, func: &Expr) -> Callee {
        match func {
            Expr::Path(_) => Callee::Path(self.imports.resolve_expr(func)),
            _ => Callee::Other,
        }
    }

    /// A macro: its arguments as expressions when they parse so (`println!`, `vec!`,
    /// `assert!`), else a token scan (`tokio::select!`, `matches!`).
    fn visit_mac(&mut self, mac: &syn::Macro) {
        let name = macro_name(mac);
        let context = node_span(mac);
        if let Ok(args) = mac.parse_body_with(Punctuated::<Expr, syn::Token![,]>::parse_terminated)
        {
            for arg in &args {
                self.record(arg, context, UseKind::MacroArg { name: name.clone() });
                self.visit_expr(arg);
            }
            return;
        }
        let flat = flatten(mac.tokens.clone());
        for (i, tok) in flat.iter().enumerate() {
            let hit = match (self.target, tok) {
                (Target::Local(n), Flat::Ident(id, _)) => {
                    id == n && !matches!(i.checked_sub(1).map(|j| &flat[j]), Some(Flat::Punct('.')))
                }
                (Target::Field(n), Flat::Ident(id, _)) => {
                    id == n && matches!(i.checked_sub(1).map(|j| &flat[j]), Some(Flat::Punct('.')))
                }
                _ => false,
            };
            let Flat::Ident(_, span) = tok else {
                continue;
            };
            if !hit {
                continue;
            }
            self.mentions.push(*span);
            let method = match (flat.get(i + 1), flat.get(i + 2), flat.get(i + 3)) {
                (
                    Some(Flat::Punct('.')),
                    Some(Flat::Ident(m, _)),
                    Some(Flat::Open(Delimiter::Parenthesis)),
                ) => Some(m.clone()),
                _ => None,
            };
            let kind = match method {
                Some(method) => UseKind::Receiver { method },
                None => UseKind::MacroArg { name: name.clone() },
            };
            self.kinds.entry(span.start).or_insert((context, kind));
        }
    }
}

impl<'ast> Visit<'ast> for UseFinder<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_expr(&mut self, expr: &'ast Expr) {
        let context = node_span(expr);
        match expr {
            Expr::MethodCall(m) => {
                let method = m.method.to_string();
                if !(m.args.is_empty() && ACCESS_METHODS.contains(&method.as_str())) {
                    self.record(
                        &m.receiver,
                        method_span(m),
                        UseKind::Receiver {
                            method: method.clone(),
                        },
                    );
                }
                for (index, arg) in m.args.iter().enumerate() {
                    self.record(
                        arg,
                        context,
                        UseKind::Argument {
                            callee: Callee::Method(method.clone()),
                            index,
                            borrowing: false,
                            closing: false,
                        },
                    );
                }
            }
            Expr::Call(c) => {
                let callee = self.callee(&c.func);
                let borrowing = is_fd_borrowing(self.imports, &c.func);
                let closing = is_fd_closing(self.imports, &c.func);
                for (index, arg) in c.args.iter().enumerate() {
                    self.record(
                        arg,
                        context,
                        UseKind::Argument {
                            callee: callee.clone(),
                            index,
                            borrowing,
                            closing,
                        },
                    );
                }
            }
            Expr::Struct(s) => {
                let ty = s
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                for fv in &s.fields {
                    let field = match &fv.member {
                        Member::Named(i) => i.to_string(),
                        Member::Unnamed(i) => i.index.to_string(),
                    };
                    self.record(
                        &fv.expr,
                        node_span(fv),
                        UseKind::StoredIn {
                            ty: ty.clone(),
                            field,
                        },
                    );
                }
            }
            Expr::Return(r) => {
                if let Some(e) = &r.expr {
                    self.record(e, context, UseKind::Returned);
                }
            }
            Expr::Assign(a) => {
                self.record(&a.right, context, UseKind::Moved);
                self.record(&a.left, context, UseKind::Reassigned);
            }
            Expr::Binary(b) => {
                let assign_op = is_compound_assign(&b.op);
                self.record(
                    &b.left,
                    context,
                    if assign_op {
                        UseKind::Reassigned
                    } else {
                        UseKind::Operand
                    },
                );
                self.record(&b.right, context, UseKind::Operand);
            }
            Expr::Index(i) => self.record(&i.index, context, UseKind::Operand),
            Expr::Let(l) => self.record(&l.expr, context, UseKind::Moved),
            Expr::Match(m) => self.record(&m.expr, context, UseKind::Moved),
            Expr::Macro(m) => {
                self.visit_mac(&m.mac);
                return;
            }
            _ => {}
        }
        if self.target.is(expr) {
            self.mentions.push(node_span(expr));
        }
        visit::visit_expr(self, expr);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init {
            self.record(&init.expr, node_span(local), UseKind::Moved);
        }
        visit::visit_local(self, local);
    }

    fn visit_stmt_macro(&mut self, m: &'ast syn::StmtMacro) {
        self.visit_mac(&m.mac);
    }
}

/// A macro's tokens, flattened: group delimiters become `Open` markers.
enum Flat {
    Ident(String, Span),
    Punct(char),
    Open(Delimiter),
    Other,
}

fn flatten(tokens: TokenStream) -> Vec<Flat> {
    let mut out = Vec::new();
    let mut stack = vec![tokens.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(tt) = top.next() else {
            stack.pop();
            continue;
        };
        match tt {
            TokenTree::Ident(i) => out.push(Flat::Ident(i.to_string(), span_of(i.span()))),
            TokenTree::Punct(p) => out.push(Flat::Punct(p.as_char())),
            TokenTree::Group(g) => {
                out.push(Flat::Open(g.delimiter()));
                stack.push(g.stream().into_iter());
            }
            TokenTree::Literal(_) => out.push(Flat::Other),
        }
    }
    out
}

/// Every mention of `target` in every function of the file.
pub fn uses_in_file(imports: &Imports, fns: &[Function<'_>], target: &Target) -> Vec<Use> {
    let mut out: Vec<Use> = fns
        .iter()
        .flat_map(|f| uses(imports, f.block, target))
        .collect();
    out.sort_by_key(|u| u.span);
    out.dedup_by_key(|u| u.span);
    out
}

/// A struct defined in the file, with its fields (name, type as written, `pub` or not).
pub struct StructDef<'a> {
    pub item: &'a syn::ItemStruct,
    pub fields: Vec<(String, String, bool)>,
}

/// The structs of a file by name, and the names of the types with an `impl Drop`.
pub fn structs(file: &syn::File) -> (HashMap<String, StructDef<'_>>, HashSet<String>) {
    #[derive(Default)]
    struct Finder<'a> {
        structs: HashMap<String, StructDef<'a>>,
        drops: HashSet<String>,
    }
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_item_struct(&mut self, s: &'a syn::ItemStruct) {
            let fields = s
                .fields
                .iter()
                .filter_map(|f| {
                    let ty = type_name(&f.ty);
                    Some((
                        f.ident.as_ref()?.to_string(),
                        ty,
                        !matches!(f.vis, syn::Visibility::Inherited),
                    ))
                })
                .collect();
            self.structs
                .insert(s.ident.to_string(), StructDef { item: s, fields });
        }
        fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
            let is_drop = i
                .trait_
                .as_ref()
                .is_some_and(|(p, _)| p.segments.last().is_some_and(|s| s.ident == "Drop"));
            if is_drop {
                if let syn::Type::Path(p) = &*i.self_ty {
                    if let Some(s) = p.path.segments.last() {
                        self.drops.insert(s.ident.to_string());
                    }
                }
            }
            visit::visit_item_impl(self, i);
        }
    }
    let mut f = Finder::default();
    f.visit_file(file);
    (f.structs, f.drops)
}

/// The last segment of a path type (`RawFd` for `std::os::fd::RawFd`), through `Option<..>`
/// is not looked into.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        syn::Type::Paren(p) => type_name(&p.elem),
        syn::Type::Group(g) => type_name(&g.elem),
        _ => String::new(),
    }
}

/// Whether a field type (its last path segment) is a raw fd or socket handle (`RawFd`, `i32`,
/// `c_int`, `RawSocket`).
pub fn is_raw_fd_type(ty: &str) -> bool {
    matches!(ty, "RawFd" | "i32" | "c_int" | "RawSocket" | "SOCKET")
}

/// Every `match` in the file whose scrutinee is an event's token (`event.token()`, or a
/// name containing `token`), with the arms' patterns and guards.
pub fn token_matches(file: &syn::File) -> Vec<&syn::ExprMatch> {
    #[derive(Default)]
    struct Finder<'a>(Vec<&'a syn::ExprMatch>);
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            let scrutinee = through_access(&m.expr);
            let is_token = match scrutinee {
                Expr::MethodCall(c) => c.method == "token" && c.args.is_empty(),
                Expr::Path(p) => {
                    p.path.segments.len() == 1
                        && p.path.segments[0]
                            .ident
                            .to_string()
                            .to_lowercase()
                            .contains("token")
                }
                Expr::Field(f) => {
                    matches!(&f.member, Member::Named(i) if i.to_string().contains("token"))
                }
                _ => false,
            };
            if is_token {
                self.0.push(m);
            }
            visit::visit_expr_match(self, m);
        }
    }
    let mut f = Finder::default();
    f.visit_file(file);
    f.0
}

/// Whether `inner` lies within `outer`.
pub fn contains(outer: Span, inner: Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// A pattern without its type ascriptions (`s` in `let s: TcpStream`).
pub fn strip_pat_type(pat: &Pat) -> &Pat {
    match pat {
        Pat::Type(t) => strip_pat_type(&t.pat),
        other => other,
    }
}

/// Every identifier in a pattern (constants in `SERVER | CLIENT =>`), macros included.
pub fn idents_in_pat(pat: &Pat) -> Vec<String> {
    let mut f = Idents::default();
    f.visit_pat(pat);
    f.0
}

/// Every identifier in an expression (a guard: `t if t == SERVER`), macros included.
pub fn idents_in_expr(expr: &Expr) -> Vec<String> {
    let mut f = Idents::default();
    f.visit_expr(expr);
    f.0
}

/// Every identifier in a type (`Result<RawFd>` gives `Result`, `RawFd`).
pub fn idents_in_type(ty: &syn::Type) -> Vec<String> {
    let mut f = Idents::default();
    f.visit_type(ty);
    f.0
}

/// Every identifier in a macro's tokens (`matches!(token, SERVER | CLIENT)`).
pub fn idents_in_macro(mac: &syn::Macro) -> Vec<String> {
    let mut f = Idents::default();
    f.visit_macro(mac);
    f.0
}

#[derive(Default)]
struct Idents(Vec<String>);

impl<'ast> Visit<'ast> for Idents {
    fn visit_ident(&mut self, i: &'ast proc_macro2::Ident) {
        self.0.push(i.to_string());
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.0.extend(
            flatten(m.tokens.clone())
                .into_iter()
                .filter_map(|t| match t {
                    Flat::Ident(i, _) => Some(i),
                    _ => None,
                }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(src: &str) -> syn::File {
        syn::parse_str(src).unwrap()
    }

    fn fn_names(src: &str) -> Vec<String> {
        let f = file(src);
        let imports = Imports::of(&f);
        let fns = functions(&f);
        let mut names: Vec<String> = accepted_names(&imports, fns[0].block)
            .into_iter()
            .filter(|(_, a)| matches!(a.shape, Shape::Socket | Shape::RawFd))
            .map(|(n, _)| n)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn accepted_sockets_are_followed_by_name() {
        assert_eq!(
            fn_names("fn f(l: TcpListener) { let (s, _) = l.accept().unwrap(); }"),
            ["s"]
        );
        assert_eq!(
            fn_names("fn f(l: TcpListener) { for st in l.incoming() { let st2 = st?; } }"),
            ["st", "st2"]
        );
        assert_eq!(fn_names("async fn f(l: TcpListener) { let mut inc = l.incoming(); while let Some(s) = inc.next().await { let s = s?; } }"), ["s"]);
        assert_eq!(fn_names("async fn f(l: TcpListener) { match l.accept().await { Ok((s, _)) => {}, Err(_) => {} } }"), ["s"]);
        assert_eq!(fn_names("use libc::accept; fn f(l: i32) { let fd = unsafe { accept(l, null_mut(), null_mut()) }; }"), ["fd"]);
        assert_eq!(
            fn_names("use nix::sys::socket; fn f(l: i32) { let fd = socket::accept(l)?; }"),
            ["fd"]
        );
        assert!(
            fn_names("fn accept(x: i32) -> i32 { x } fn f(l: i32) { let fd = accept(l); }")
                .is_empty()
        );
    }

    #[test]
    fn imports_resolve_renames_groups_and_globs() {
        let f = file("use std::net::{TcpListener as L, self as n}; use tokio::net::*; fn f() {}");
        let i = Imports::of(&f);
        assert_eq!(
            i.resolve(&["L".into(), "bind".into()]),
            vec![vec!["std", "net", "TcpListener", "bind"]]
        );
        assert_eq!(
            i.resolve(&["n".into(), "TcpListener".into()]),
            vec![vec!["std", "net", "TcpListener"]]
        );
        assert!(i.resolve(&["UnixListener".into()]).contains(&vec![
            "tokio".to_string(),
            "net".into(),
            "UnixListener".into()
        ]));
    }

    #[test]
    fn uses_are_classified() {
        let f = file("fn f() { let l = x(); println!(\"{}\", l.local_addr()?); l.set_nonblocking(true); drop(l); S { inner: l }; tokio::select! { r = l.accept() => {} } }");
        let i = Imports::of(&f);
        let fns = functions(&f);
        let kinds: Vec<String> = uses(&i, fns[0].block, &Target::Local("l".into()))
            .into_iter()
            .map(|u| {
                format!("{:?}", u.kind)
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            ["Receiver", "Receiver", "Argument", "StoredIn", "Receiver"]
        );
    }
}
