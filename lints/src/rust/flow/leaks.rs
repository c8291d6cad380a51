//! Where an accepted socket or its raw fd escapes every owner (`socket-leaked`): `forget`,
//! `Box::leak`, `ManuallyDrop::new`, a discarded `into_raw` / `into_raw_fd()`, and raw fds that
//! no use closes or hands over, or that a struct without `Drop` keeps. Each leak carries the
//! words of its diagnostic.

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Pat, Stmt};

use crate::rust::model::sockets::{
    accepted_value, is_fd_borrowing, is_fd_closing, is_print_macro, is_raw_fd_type, method_span,
    strip_pat_type, structs, through_access, through_wrappers, uses, AcceptedNames, Callee,
    Imports, Shape, StructDef, Target, Use, UseKind,
};
use crate::rust::node_span;

const NOTE: &str = "when the peer closes, the kernel acknowledges its FIN and the connection waits in CLOSE_WAIT for this process to close its side; a leaked socket is never closed, so the connection, its file descriptor and its buffers are held until the process exits, and once the descriptors run out accept() fails with EMFILE and new connections are refused";

const SHUTDOWN_NOTE: &str = "`shutdown` sent this side's FIN, so the connection itself ends normally, without CLOSE_WAIT; but the descriptor is never closed, so every connection holds one until the process exits, and once the descriptors run out accept() fails with EMFILE and new connections are refused";

const KEEP_HELP: &str = "let the socket be dropped when the connection is done (end of scope or `drop(stream)`); if it must outlive this function, store it in a value that is dropped when the connection ends";

/// One leak: where the socket escapes, what happens there, where it was accepted.
pub(crate) struct Leak {
    pub(crate) at: Span,
    pub(crate) message: String,
    pub(crate) label: String,
    pub(crate) accepted: Span,
    pub(crate) extra: Vec<(Span, String)>,
    pub(crate) note: &'static str,
    pub(crate) help: &'static str,
}

/// A raw fd to follow: named `name`, produced at `from` (the accept, or the `into_raw_fd()`).
pub(crate) struct RawFd {
    pub(crate) name: String,
    pub(crate) from: Span,
    pub(crate) accepted: Span,
    pub(crate) how: &'static str,
}

/// Finds the sockets of one function that escape their owner: `forget`, `Box::leak`,
/// `ManuallyDrop::new`, a `Box::into_raw` or `into_raw_fd()` whose result is thrown away; and
/// collects `let fd = stream.into_raw_fd()` bindings to follow as raw fds.
pub(crate) struct Sinks<'a> {
    pub(crate) imports: &'a Imports,
    pub(crate) names: &'a AcceptedNames,
    pub(crate) block: &'a Block,
    pub(crate) source: &'a str,
    pub(crate) leaks: Vec<Leak>,
    pub(crate) raw: Vec<RawFd>,
}

impl Sinks<'_> {
    /// The accepted socket (not a raw fd) an expression holds: its name as written (if a plain
    /// name) and its accept site.
    fn socket(&self, e: &Expr) -> Option<(Option<String>, Span)> {
        let a = accepted_value(self.imports, self.names, e).filter(|a| a.shape == Shape::Socket)?;
        let name = match through_wrappers(e) {
            Expr::Path(p) if p.path.segments.len() == 1 => {
                Some(p.path.segments[0].ident.to_string())
            }
            _ => None,
        };
        Some((name, a.site))
    }

    /// `Box::new(s)` of an accepted socket.
    fn boxed(&self, e: &Expr) -> Option<(Option<String>, Span)> {
        match through_wrappers(e) {
            Expr::Call(c)
                if c.args.len() == 1 && self.imports.calls_tail(&c.func, &["Box", "new"]) =>
            {
                self.socket(&c.args[0])
            }
            _ => None,
        }
    }

    /// `s.into_raw_fd()` / `IntoRawFd::into_raw_fd(s)` (or `Box::into_raw(Box::new(s))` when
    /// `boxes`) on an accepted socket: the call's span, the socket and its accept site.
    fn fd_taken_out(&self, e: &Expr, boxes: bool) -> Option<(Span, Option<String>, Span)> {
        let (span, (name, site)) = match through_wrappers(e) {
            Expr::MethodCall(m)
                if m.args.is_empty()
                    && matches!(
                        m.method.to_string().as_str(),
                        "into_raw_fd" | "into_raw_socket"
                    ) =>
            {
                (method_span(m), self.socket(&m.receiver)?)
            }
            Expr::Call(c)
                if c.args.len() == 1 && self.imports.calls_tail(&c.func, &["into_raw_fd"]) =>
            {
                (node_span(c), self.socket(&c.args[0])?)
            }
            Expr::Call(c)
                if boxes
                    && c.args.len() == 1
                    && self.imports.calls_tail(&c.func, &["Box", "into_raw"]) =>
            {
                (node_span(c), self.boxed(&c.args[0])?)
            }
            _ => return None,
        };
        Some((span, name, site))
    }

    /// Whether the socket's fd is handed to someone who may own it from then on:
    /// `take_ownership(stream.as_raw_fd())`, or a name bound to it and handed over. Then a
    /// `forget` is how ownership moves, not a leak.
    fn fd_handed_over(&self, socket: Option<&str>) -> bool {
        let Some(socket) = socket else { return false };
        let borrowed_fd = |e: &Expr| match through_access(e) {
            Expr::MethodCall(m) => {
                matches!(
                    m.method.to_string().as_str(),
                    "as_raw_fd" | "as_raw_socket" | "as_fd"
                ) && matches!(through_access(&m.receiver), Expr::Path(p) if p.path.is_ident(socket))
            }
            _ => false,
        };
        let mut finder = FdOf {
            imports: self.imports,
            is_fd: &borrowed_fd,
            handed: false,
            names: Vec::new(),
        };
        finder.visit_block(self.block);
        finder.handed
            || finder
                .names
                .iter()
                .any(|n| hands_over(&uses(self.imports, self.block, &Target::Local(n.clone()))))
    }

    fn leak(&mut self, at: Span, socket: (Option<String>, Span), how: &str) {
        if self.fd_handed_over(socket.0.as_deref()) {
            return;
        }
        let what = socket.0.map(|n| format!(" `{n}`")).unwrap_or_default();
        self.leaks.push(Leak {
            at,
            message: format!("accepted socket{what} is passed to `{how}` and never closed"),
            label: "the socket escapes here: its destructor never runs, so it is never closed"
                .to_string(),
            accepted: socket.1,
            extra: Vec::new(),
            note: NOTE,
            help: KEEP_HELP,
        });
    }
}

impl<'ast> Visit<'ast> for Sinks<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let [arg] = call.args.iter().collect::<Vec<_>>().as_slice() {
            let imports = self.imports;
            let hit = if imports.calls(
                &call.func,
                &[&["std", "mem", "forget"], &["core", "mem", "forget"]],
            ) {
                self.socket(arg).map(|s| (s, "std::mem::forget"))
            } else if imports.calls_tail(&call.func, &["ManuallyDrop", "new"]) {
                let released = [
                    "ManuallyDrop::drop",
                    "ManuallyDrop::into_inner",
                    "ManuallyDrop::take",
                ]
                .iter()
                .any(|r| memchr::memmem::find(self.source.as_bytes(), r.as_bytes()).is_some());
                self.socket(arg)
                    .filter(|_| !released)
                    .map(|s| (s, "ManuallyDrop::new"))
            } else if imports.calls_tail(&call.func, &["Box", "leak"])
                && memchr::memmem::find(self.source.as_bytes(), b"from_raw(").is_none()
            {
                self.boxed(arg).map(|s| (s, "Box::leak"))
            } else {
                None
            };
            if let Some((socket, how)) = hit {
                self.leak(node_span(call), socket, how);
            }
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        let init = match stmt {
            Stmt::Local(l) => l.init.as_ref().map(|i| &*i.expr),
            Stmt::Expr(e, Some(_)) => Some(e),
            _ => None,
        };
        let pat = match stmt {
            Stmt::Local(l) => match &l.pat {
                Pat::Type(t) => Some(&*t.pat),
                p => Some(p),
            },
            _ => None,
        };
        // Thrown away: `s.into_raw_fd();`, `let _ = Box::into_raw(Box::new(s));`.
        let discarded = matches!(pat, None | Some(Pat::Wild(_)));
        if let Some((at, name, accepted)) = init.and_then(|e| self.fd_taken_out(e, discarded)) {
            if discarded {
                if !self.fd_handed_over(name.as_deref()) {
                    self.leaks.push(Leak { at, message: "the raw fd of an accepted socket is thrown away, so nothing will close it".to_string(), label: "ownership is given up here and the result is discarded".to_string(), accepted, extra: Vec::new(), note: NOTE, help: "keep the socket and borrow its fd with `as_raw_fd()`; or close the fd (`libc::close`) or take it back with `from_raw_fd` when the connection is done" });
                }
            } else if let Some(Pat::Ident(i)) = pat {
                self.raw.push(RawFd {
                    name: i.ident.to_string(),
                    from: at,
                    accepted,
                    how: "into_raw_fd",
                });
            }
        }
        syn::visit::visit_stmt(self, stmt);
    }
}

/// Finds where a socket's borrowed fd goes: handed to a callee that may own it, or bound to names.
struct FdOf<'a> {
    imports: &'a Imports,
    is_fd: &'a dyn Fn(&Expr) -> bool,
    handed: bool,
    names: Vec<String>,
}

impl<'ast> Visit<'ast> for FdOf<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        self.handed |=
            !is_fd_borrowing(self.imports, &c.func) && c.args.iter().any(|a| (self.is_fd)(a));
        syn::visit::visit_expr_call(self, c);
    }
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        self.handed |= m.args.iter().any(|a| (self.is_fd)(a));
        syn::visit::visit_expr_method_call(self, m);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let (Pat::Ident(i), Some(init)) = (&l.pat, &l.init) {
            if (self.is_fd)(&init.expr) {
                self.names.push(i.ident.to_string());
            }
        }
        syn::visit::visit_local(self, l);
    }
}

/// Whether some use hands a raw fd over: to a function other than a libc/nix call that only
/// borrows it, to a macro that does more than format, returned, stored, moved to another name.
fn hands_over(uses: &[Use]) -> bool {
    uses.iter().any(|u| match &u.kind {
        UseKind::Argument {
            borrowing, closing, ..
        } => !borrowing || *closing,
        UseKind::MacroArg { name } => !is_print_macro(name),
        UseKind::Operand | UseKind::Reassigned => false,
        _ => true,
    })
}

/// What a file says about who owns a raw fd: its structs, the types with a `Drop` impl, whether
/// anything in it closes a raw fd, and the associated functions that store a parameter in a
/// raw-fd field of their type (`impl FromRawFd for T { fn from_raw_fd(fd) -> T { T { fd } } }`).
pub(crate) struct FdOwners<'a> {
    pub structs: HashMap<String, StructDef<'a>>,
    pub drops: HashSet<String>,
    pub file_closes: bool,
    /// (type, function) -> (parameter index, field).
    pub constructors: HashMap<(String, String), (usize, String)>,
}

impl<'a> FdOwners<'a> {
    pub(crate) fn of(imports: &Imports, file: &'a syn::File) -> FdOwners<'a> {
        let (structs, drops) = structs(file);
        let constructors = raw_fd_constructors(file, &structs);
        FdOwners {
            file_closes: file_closes_fds(imports, file, &constructors),
            structs,
            drops,
            constructors,
        }
    }
}

/// The constructor (type, and what it stores) that one of a callee's candidate paths
/// (`[.., "VsockStream", "from_raw_fd"]`) names, if any.
fn constructor_of<'c>(
    constructors: &'c HashMap<(String, String), (usize, String)>,
    candidates: &'c [Vec<String>],
) -> Option<(&'c str, &'c (usize, String))> {
    candidates.iter().find_map(|c| {
        let [.., ty, func] = c.as_slice() else {
            return None;
        };
        let found = constructors.get(&(ty.clone(), func.clone()))?;
        Some((ty.as_str(), found))
    })
}

/// The associated functions (no `self`) of the file's structs that build `Self { field: p }` or
/// `T { field: p }` (`p as RawFd` too) from a parameter `p`, `field` being a raw-fd field.
fn raw_fd_constructors(
    file: &syn::File,
    structs: &HashMap<String, StructDef<'_>>,
) -> HashMap<(String, String), (usize, String)> {
    struct Literals<'s> {
        ty: &'s str,
        params: &'s [String],
        found: Vec<(usize, String)>,
    }
    impl<'ast> Visit<'ast> for Literals<'_> {
        fn visit_expr_struct(&mut self, e: &'ast syn::ExprStruct) {
            let named = e
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Self" || s.ident == self.ty);
            if named {
                for f in &e.fields {
                    let (syn::Member::Named(field), mut value) = (&f.member, &f.expr) else {
                        continue;
                    };
                    while let Expr::Cast(c) = value {
                        value = &c.expr;
                    }
                    let Expr::Path(p) = value else { continue };
                    let Some(param) = p
                        .path
                        .get_ident()
                        .and_then(|i| self.params.iter().position(|n| i == n))
                    else {
                        continue;
                    };
                    self.found.push((param, field.to_string()));
                }
            }
            syn::visit::visit_expr_struct(self, e);
        }
    }
    let mut out = HashMap::new();
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        let syn::Type::Path(self_ty) = &*imp.self_ty else {
            continue;
        };
        let Some(ty) = self_ty.path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        let Some(def) = structs.get(&ty) else {
            continue;
        };
        for member in &imp.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            if f.sig.receiver().is_some() {
                continue;
            }
            let params: Vec<String> = f
                .sig
                .inputs
                .iter()
                .map(|arg| match arg {
                    syn::FnArg::Typed(t) => match strip_pat_type(&t.pat) {
                        Pat::Ident(i) => i.ident.to_string(),
                        _ => String::new(),
                    },
                    syn::FnArg::Receiver(_) => String::new(),
                })
                .collect();
            let mut literals = Literals {
                ty: &ty,
                params: &params,
                found: Vec::new(),
            };
            literals.visit_block(&f.block);
            for (param, field) in literals.found {
                let raw = def
                    .fields
                    .iter()
                    .any(|(n, t, _)| *n == field && is_raw_fd_type(t));
                if raw {
                    out.insert((ty.clone(), f.sig.ident.to_string()), (param, field));
                }
            }
        }
    }
    out
}

/// Follows a raw fd through its function: a leak when no use closes it or hands it over
/// ([`hands_over`]); or when it is stored in a raw-fd field of a struct of the file that has no
/// `Drop` impl while nothing in the file closes a raw fd (then that struct is the fd's only
/// owner, whatever copies of the number serve as keys elsewhere).
pub(crate) fn judge_raw(
    imports: &Imports,
    block: &Block,
    fd: &RawFd,
    owners: &FdOwners<'_>,
) -> Option<Leak> {
    let FdOwners {
        structs,
        drops,
        file_closes,
        constructors,
    } = owners;
    // Mentions inside the statement that binds the fd (`let fd = match accept(..) { Ok(fd) =>
    // fd, .. }`) are the binding itself, not uses of it.
    let bound = binding_end(block, &fd.name, fd.from).unwrap_or(fd.from.end);
    let uses: Vec<Use> = uses(imports, block, &Target::Local(fd.name.clone()))
        .into_iter()
        .filter(|u| u.span.start >= bound)
        .collect();
    let origin = if fd.how == "accept" {
        "accepted raw fd"
    } else {
        "raw fd of an accepted socket"
    };
    // `T::from_raw_fd(fd)` (any associated function of a file type that stores its parameter
    // in a raw-fd field) is `T { field: fd }` written elsewhere.
    let constructed = |u: &Use| match &u.kind {
        UseKind::Argument {
            callee: Callee::Path(candidates),
            index,
            ..
        } => {
            let (ty, (param, field)) = constructor_of(constructors, candidates)?;
            (param == index).then(|| (ty.to_string(), field.clone()))
        }
        _ => None,
    };
    let stored = uses.iter().find_map(|u| match &u.kind {
        UseKind::Argument { .. } => {
            let (ty, field) = constructed(u).filter(|(ty, _)| !drops.contains(ty))?;
            let def = structs.get(&ty)?;
            Some((u.context, ty, field, node_span(&def.item.ident)))
        }
        UseKind::StoredIn { ty, field } if !drops.contains(ty) => {
            let def = structs.get(ty).filter(|d| {
                d.fields
                    .iter()
                    .any(|(n, t, _)| n == field && is_raw_fd_type(t))
            })?;
            Some((
                u.context,
                ty.clone(),
                field.clone(),
                node_span(&def.item.ident),
            ))
        }
        _ => None,
    });
    let closed = uses.iter().any(|u| {
        matches!(u.kind, UseKind::Argument { closing: true, .. }) && constructed(u).is_none()
    });
    if let Some((at, ty, field, def)) = stored.filter(|_| !closed && !file_closes) {
        return Some(Leak {
            at,
            message: format!("{origin} `{}` is stored in `{ty}::{field}`, but `{ty}` has no `Drop` impl to close it", fd.name),
            label: format!("the fd is stored here; dropping the `{ty}` will not close it"),
            accepted: fd.accepted,
            extra: [given_up(fd), vec![(def, format!("no `impl Drop for {ty}` in this file, and nothing in it closes a raw fd"))]].concat(),
            note: NOTE,
            help: "store an owning type instead (`OwnedFd`, `TcpStream::from_raw_fd(fd)`), or add `impl Drop` that calls `libc::close` on the field",
        });
    }
    if hands_over(&uses) {
        return None;
    }
    let shut_down = matches!(uses.last().map(|u| &u.kind), Some(UseKind::Argument { callee, .. }) if callee.named(&["shutdown"]));
    Some(Leak {
        at: uses.last().map_or(fd.from, |u| u.span),
        message: format!("{origin} `{}` is never closed", fd.name),
        label: match uses.last().map(|u| &u.kind) {
            None => format!("`{}` is never used, closed or handed over", fd.name),
            Some(UseKind::Argument { callee, .. }) if callee.named(&["shutdown"]) => format!("last use of `{}`: `shutdown` sends FIN but does not close the fd, and nothing else does", fd.name),
            Some(_) => format!("last use of `{}`: nothing closes it", fd.name),
        },
        accepted: fd.accepted,
        extra: given_up(fd),
        note: if shut_down { SHUTDOWN_NOTE } else { NOTE },
        help: "close the fd when the connection is done (`libc::close(fd)`), or wrap it at once in an owner that closes on drop (`OwnedFd::from_raw_fd`, `TcpStream::from_raw_fd`)",
    })
}

/// Where the `let` that binds `name` from an initializer containing `site` ends.
fn binding_end(block: &Block, name: &str, site: Span) -> Option<u32> {
    struct Finder<'n> {
        name: &'n str,
        site: Span,
        end: Option<u32>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_local(&mut self, l: &'ast syn::Local) {
            let init = l.init.as_ref().map(|i| node_span(&*i.expr));
            let binds = crate::rust::flow::eof::pat_idents(&l.pat)
                .iter()
                .any(|n| n == self.name);
            if binds && init.is_some_and(|i| i.start <= self.site.start && self.site.end <= i.end) {
                self.end.get_or_insert(node_span(l).end);
            }
            syn::visit::visit_local(self, l);
        }
    }
    let mut f = Finder {
        name,
        site,
        end: None,
    };
    f.visit_block(block);
    f.end
}

/// The label on `into_raw_fd()` when the raw fd comes from one.
fn given_up(fd: &RawFd) -> Vec<(Span, String)> {
    if fd.from == fd.accepted {
        return Vec::new();
    }
    vec![(
        fd.from,
        format!("`{}()` takes the fd out of its owner here", fd.how),
    )]
}

/// Whether any function of the file closes or takes over a raw fd (`libc::close`,
/// `nix::unistd::close`, `from_raw_fd`).
fn file_closes_fds(
    imports: &Imports,
    file: &syn::File,
    constructors: &HashMap<(String, String), (usize, String)>,
) -> bool {
    struct Finder<'i> {
        imports: &'i Imports,
        constructors: &'i HashMap<(String, String), (usize, String)>,
        closes: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            // `T::from_raw_fd(fd)` into a file type that only stores the number closes nothing.
            let stores =
                constructor_of(self.constructors, &self.imports.resolve_expr(&c.func)).is_some();
            self.closes |= !stores && is_fd_closing(self.imports, &c.func);
            syn::visit::visit_expr_call(self, c);
        }
    }
    let mut f = Finder {
        imports,
        constructors,
        closes: false,
    };
    f.visit_file(file);
    f.closes
}

/// The outer attributes of the expressions that carry `#[cfg]` on a statement.
fn expr_attrs(e: &Expr) -> &[syn::Attribute] {
    match e {
        Expr::Block(b) => &b.attrs,
        Expr::Call(c) => &c.attrs,
        Expr::MethodCall(m) => &m.attrs,
        Expr::Match(m) => &m.attrs,
        Expr::If(i) => &i.attrs,
        Expr::Unsafe(u) => &u.attrs,
        Expr::Assign(a) => &a.attrs,
        _ => &[],
    }
}

const INHERIT_NOTE: &str = "a descriptor accepted without close-on-exec is inherited by every child process this process starts (`Command::spawn`, `fork` + `exec`); when this process closes its copy the connection stays open in the child, so the peer's FIN is acknowledged and the connection waits in CLOSE_WAIT until the child exits, and the client never sees this side close. std's and tokio's `accept` always set the flag; a library cannot know whether its users start child processes";

/// `libc::accept` / nix `accept` (never close-on-exec), and `accept4` whose flags do not
/// name `SOCK_CLOEXEC`, in `f`: the call and what to say about it. The caller decides, and is
/// judged instead, when `f` hands the raw fd back (its return type names `RawFd`, `OwnedFd`,
/// `c_int` or `i32`: nix's own `accept` wrapper) or takes the flags as a parameter.
pub(crate) fn inheritable_accepts(
    imports: &Imports,
    f: &crate::rust::model::sockets::Function<'_>,
) -> Vec<Leak> {
    struct Calls<'i> {
        imports: &'i Imports,
        params: Vec<String>,
        /// The identifiers of each `let name = ..` of the function (flags built beforehand:
        /// `let flags = SOCK_CLOEXEC | SOCK_NONBLOCK;`).
        lets: HashMap<String, Vec<String>>,
        out: Vec<Leak>,
    }
    impl Calls<'_> {
        fn cloexec(&self, flags: &Expr) -> bool {
            crate::rust::model::sockets::idents_in_expr(flags)
                .iter()
                .any(|i| {
                    i == "SOCK_CLOEXEC"
                        || self.params.contains(i)
                        || self
                            .lets
                            .get(i)
                            .is_some_and(|init| init.iter().any(|j| j == "SOCK_CLOEXEC"))
                })
        }
    }
    struct Lets(HashMap<String, Vec<String>>);
    impl<'a> Visit<'a> for Lets {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let (Pat::Ident(p), Some(init)) = (&l.pat, &l.init) {
                self.0.insert(
                    p.ident.to_string(),
                    crate::rust::model::sockets::idents_in_expr(&init.expr),
                );
            }
            syn::visit::visit_local(self, l);
        }
    }
    if let syn::ReturnType::Type(_, ty) = &f.sig.output {
        let names = crate::rust::model::sockets::idents_in_type(ty);
        if names
            .iter()
            .any(|n| matches!(n.as_str(), "RawFd" | "OwnedFd" | "c_int" | "i32"))
        {
            return Vec::new();
        }
    }
    let params = f
        .sig
        .inputs
        .iter()
        .filter_map(|i| match i {
            syn::FnArg::Typed(t) => Some(crate::rust::flow::eof::pat_idents(&t.pat)),
            _ => None,
        })
        .flatten()
        .collect();
    impl<'a> Visit<'a> for Calls<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        // Where `accept4` may not exist (macOS), the flag can only be set afterwards with
        // `fcntl`; Linux has `accept4`, and that is the code judged.
        fn visit_local(&mut self, l: &'a syn::Local) {
            if !crate::rust::model::sockets::excludes_linux(&l.attrs) {
                syn::visit::visit_local(self, l);
            }
        }
        fn visit_stmt(&mut self, s: &'a syn::Stmt) {
            let attrs = match s {
                syn::Stmt::Expr(e, _) => expr_attrs(e),
                _ => &[],
            };
            if !crate::rust::model::sockets::excludes_linux(attrs) {
                syn::visit::visit_stmt(self, s);
            }
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            let paths = self.imports.resolve_expr(&c.func);
            let raw = crate::rust::model::sockets::is_raw_accept(self.imports, &c.func);
            let is = |tail: &str| paths.iter().any(|p| p.last().is_some_and(|l| l == tail));
            // libc's flags are the fourth argument, nix's the second.
            let flags_at = if paths.iter().any(|p| p.first().is_some_and(|f| f == "nix")) {
                1
            } else {
                3
            };
            let inheritable = raw
                && (is("accept")
                    || (is("accept4")
                        && !c.args.iter().nth(flags_at).is_some_and(|f| self.cloexec(f))));
            if inheritable {
                let at = node_span(c);
                self.out.push(Leak {
                    at,
                    message: "connection accepted without close-on-exec: child processes inherit it".to_string(),
                    label: "accepted here without `SOCK_CLOEXEC`".to_string(),
                    accepted: at,
                    extra: Vec::new(),
                    note: INHERIT_NOTE,
                    help: "accept with the flag: `libc::accept4(fd, addr, len, libc::SOCK_CLOEXEC)` (nix: `accept4(fd, SockFlag::SOCK_CLOEXEC)`), as std and tokio do",
                });
            }
            syn::visit::visit_expr_call(self, c);
        }
    }
    let mut lets = Lets(HashMap::new());
    lets.visit_block(f.block);
    let mut calls = Calls {
        imports,
        params,
        lets: lets.0,
        out: Vec::new(),
    };
    calls.visit_block(f.block);
    calls.out
}
