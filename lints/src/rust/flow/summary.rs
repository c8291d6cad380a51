//! Crate-local function summaries, and what the rules about stored connections share: where an
//! accepted socket is stored in a container, which containers a piece of code removes from, and
//! which values it registers with a readiness poller.
//!
//! A summary covers the free functions and methods the file defines, and, through
//! [`CrateFacts`](crate::rust::flow::crate_facts::CrateFacts), those of other files of the crate that a
//! call may reach (`self.close(..)` defined in another file of the same `impl`, a function
//! imported from `crate::`). A call to anything else is unknown, and the rules count it in the
//! code's favour (a container handed to an unknown function may be cleaned there; an arm that
//! calls one may close the connection).
//!
//! # API
//!
//! - [`Container`]: what a removal or a store names: a field by name (`self.conns`, `x.conns`
//!   for any `x`), a `static` of the file, a parameter of the summarised function, or a local.
//! - [`Summaries::of`] builds one [`Summary`] per function with a body: which parameters it
//!   consumes (passes by value, stores, drops), which containers it removes from (`remove`,
//!   `retain`, `swap_remove`, `drain`, `clear`, `take`, `pop`, `truncate`, `mem::take` /
//!   `replace` / `swap`, assigning a new value, indexing and `take()`/`= None`), which
//!   parameters it registers with a poller (mio `register`, `polling`'s `add`, nix's
//!   `Epoll::add`, `epoll_ctl(.., EPOLL_CTL_ADD, ..)` of libc and nix), which containers it hands
//!   to code the file does not define, and whether it returns a flag (`bool`, `Option`,
//!   `Result<bool>`) that callers may use to remove.
//! - Summaries go one call deep: a function's summary includes what the crate-local functions it
//!   calls do directly (their removals mapped onto the caller's arguments), nothing further.
//! - [`Summaries::effects`] gives the same facts for any block or expression of a function
//!   (an `Err` match arm, the code after a loop), with calls resolved through the summaries.
//! - [`stores`] finds where accepted sockets (and their clones, split halves, `Arc`s, structs
//!   that hold them) are put into a container (`insert`, `push`, `entry(..).or_insert`, a slab's
//!   `vacant_entry().insert`).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, FnArg, Member, Pat, ReturnType};

use crate::rust::flow::crate_facts::{crate_callee, CrateCallee, CrateFacts};
use crate::rust::model::sockets::{
    accepted_names, is_print_macro, macro_name, method_span, strip_pat_type, through_access,
    through_wrappers, Function, Imports, Shape,
};
use crate::rust::model::types::{Scope, TypeModel};
use crate::rust::node_span;
use crate::rust::syntax::calls::path_segments;

/// Methods that take elements out of a container (or empty it).
pub const REMOVING_METHODS: &[&str] = &[
    "remove",
    "remove_entry",
    "try_remove",
    "retain",
    "retain_mut",
    "swap_remove",
    "swap_remove_entry",
    "shift_remove",
    "shift_remove_entry",
    "swap_remove_back",
    "swap_remove_front",
    "drain",
    "drain_filter",
    "extract_if",
    "clear",
    "take",
    "pop",
    "pop_front",
    "pop_back",
    "truncate",
    "split_off",
    "into_iter",
    "into_values",
];

/// Methods that put a value into a container; the stored value is the last argument.
const STORING_METHODS: &[&str] = &[
    "insert",
    "push",
    "push_back",
    "push_front",
    "or_insert",
    "insert_full",
];

/// Methods whose result holds the same connection as the receiver.
const SHARING_METHODS: &[&str] = &["try_clone", "clone", "split", "into_split"];

/// Poller methods that register their first argument: mio `Registry::register`/`reregister`,
/// `polling::Poller::add`, nix `Epoll::add`.
const REGISTERING_METHODS: &[&str] = &["register", "add", "add_with_mode"];

/// Methods that change an existing registration (mio `reregister`, `polling`'s `modify`): they
/// fail on a source that was never registered, so they do not count as registering it.
const REREGISTERING_METHODS: &[&str] = &["reregister", "modify", "modify_with_mode"];

/// Methods of a container that reach an element or a view without taking anything out.
const ENTRY_METHODS: &[&str] = &["vacant_entry", "entry"];

/// What a store or a removal names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    /// `x.name` for any `x` (usually `self`).
    Field(String),
    /// A `static` item of the file.
    Static(String),
    /// The summarised function's parameter at this index (`self` not counted).
    Param(usize),
    /// A local name of the function being analysed (aliases resolved).
    Local(String),
}

impl Container {
    /// How the container reads in a message.
    pub fn describe(&self) -> String {
        match self {
            Container::Field(n) => format!("self.{n}"),
            Container::Static(n) | Container::Local(n) => n.clone(),
            Container::Param(i) => format!("parameter {i}"),
        }
    }
}

/// What one function does, as far as the connection rules care.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub name: String,
    /// The `Self` type's last segment, for a method.
    pub self_ty: Option<String>,
    pub has_self: bool,
    /// Parameter names (`self` not counted); empty for a pattern parameter.
    pub params: Vec<String>,
    /// Parameters passed on by value, stored or dropped.
    pub consumes: HashSet<usize>,
    /// Containers it removes from (fields, statics, parameters).
    pub removes: HashSet<Container>,
    /// Parameters it registers with a poller (first registration: `register`, `add`,
    /// `EPOLL_CTL_ADD`).
    pub registers: HashSet<usize>,
    /// Parameters whose registration it changes (`reregister`, `modify`, `EPOLL_CTL_MOD`).
    pub reregisters: HashSet<usize>,
    /// Containers handed to code the file does not define.
    pub hands_over: HashSet<Container>,
    /// It returns `bool`, `Option<..>` or `Result<bool, ..>`: a flag callers may act on.
    pub returns_flag: bool,
}

/// The effects of a piece of code, calls resolved through the summaries.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    /// Removals, with the span of the removing call.
    pub removes: Vec<(Container, Span)>,
    /// Root names (locals or fields, as written) registered with a poller, with the call span.
    pub registers: Vec<(String, Span)>,
    /// Root names whose registration is changed (`reregister`), with the call span.
    pub reregisters: Vec<(String, Span)>,
    /// Containers handed to code the file does not define.
    pub hands_over: Vec<Container>,
    /// Names passed by value to a function or method, stored, or dropped.
    pub consumes: Vec<String>,
    /// Calls to functions the file does not define that take at least one argument, or methods
    /// the analysis does not know (`conn.shutdown(..)`): anything may happen there.
    pub unknown_calls: Vec<Span>,
    /// Assignments to a local or field (`closed = true`): a flag someone may read.
    pub assigns: bool,
    /// `return` of something other than `()` / `Ok(())`, or a `?`.
    pub returns_value: bool,
}

impl Effects {
    /// Whether the code may end the connection or tell someone to: it removes from a
    /// container, consumes a value, calls something unknown, sets a flag or returns a value.
    pub fn may_end_connection(&self) -> bool {
        !self.removes.is_empty()
            || !self.consumes.is_empty()
            || !self.unknown_calls.is_empty()
            || self.assigns
            || self.returns_value
    }
}

/// The summaries of every function of a file, by name.
pub struct Summaries<'i> {
    imports: &'i Imports,
    statics: HashSet<String>,
    by_name: HashMap<String, Vec<Summary>>,
    /// The crate's summaries of functions other files define.
    crate_facts: Option<&'i CrateFacts>,
    /// Calls the rules wanted judged that may run a function of another file of the crate.
    misses: RefCell<BTreeSet<CrateCallee>>,
    /// The types the file's `impl` blocks are for: what `self` may be in a method call.
    self_types: HashSet<String>,
}

impl<'i> Summaries<'i> {
    /// Summarises every function of the file (one call deep: a summary uses the file's other
    /// summaries, not the crate's). `crate_facts` then resolves the rules' calls to functions
    /// of other files.
    pub fn of(
        file: &syn::File,
        imports: &'i Imports,
        fns: &[Function<'_>],
        crate_facts: &'i CrateFacts,
    ) -> Summaries<'i> {
        let mut this = Summaries {
            imports,
            statics: statics(file),
            by_name: HashMap::new(),
            crate_facts: None,
            misses: RefCell::new(BTreeSet::new()),
            self_types: fns.iter().filter_map(|f| f.self_ty.clone()).collect(),
        };
        // First pass: direct effects only (no summaries known yet).
        let direct: Vec<Summary> = fns.iter().map(|f| this.summarise(f)).collect();
        for s in direct {
            this.by_name.entry(s.name.clone()).or_default().push(s);
        }
        // Second pass: the same, with calls resolved through the direct summaries.
        let deep: Vec<Summary> = fns.iter().map(|f| this.summarise(f)).collect();
        let mut by_name: HashMap<String, Vec<Summary>> = HashMap::new();
        for s in deep {
            by_name.entry(s.name.clone()).or_default().push(s);
        }
        this.by_name = by_name;
        this.crate_facts = Some(crate_facts);
        this
    }

    /// Every summary of the file.
    pub fn all(&self) -> impl Iterator<Item = &Summary> {
        self.by_name.values().flatten()
    }

    /// The calls the rules asked about that a function of another file of the crate may
    /// answer (see [`crate::rust::flow::crate_facts`]).
    pub fn misses(&self) -> BTreeSet<CrateCallee> {
        self.misses.borrow().clone()
    }

    /// The types the file's `impl` blocks are for.
    pub fn self_types(&self) -> &HashSet<String> {
        &self.self_types
    }

    /// The statics the file defines, by name.
    pub fn statics(&self) -> &HashSet<String> {
        &self.statics
    }

    /// The summaries a call may run: a method call by method name (any impl), a path call by
    /// its last segment when the path is a bare name, `Self::f` or `Type::f` of a type whose
    /// methods the file defines.
    ///
    /// A call the file cannot resolve goes to the crate's summaries (after construction, when
    /// the rules ask), and is recorded as a miss when the crate's are not known yet.
    pub fn callees(&self, call: &Expr) -> Vec<&Summary> {
        let local = self.file_callees(call);
        if !local.is_empty() {
            return local.iter().collect();
        }
        let Some(facts) = self.crate_facts else {
            return Vec::new();
        };
        let Some(callee) = crate_callee(self.imports, call) else {
            return Vec::new();
        };
        let found = facts.callees(&callee, Some(&self.self_types));
        if found.is_empty() {
            self.misses.borrow_mut().insert(callee);
        }
        found
    }

    fn file_callees(&self, call: &Expr) -> &[Summary] {
        let found = match call {
            Expr::MethodCall(m) => self.by_name.get(&m.method.to_string()),
            Expr::Call(c) => {
                let Some(segs) =
                    path_segments(&c.func).filter(|_| matches!(&*c.func, Expr::Path(_)))
                else {
                    return &[];
                };
                let fits = match segs.as_slice() {
                    [_] => true,
                    [ty, name] => {
                        ty == "Self"
                            || self.by_name.get(name).is_some_and(|v| {
                                v.iter().any(|s| s.self_ty.as_deref() == Some(ty.as_str()))
                            })
                    }
                    _ => false,
                };
                if !fits {
                    return &[];
                }
                segs.last().and_then(|last| self.by_name.get(last))
            }
            _ => None,
        };
        found.map_or(&[], Vec::as_slice)
    }

    /// The arguments of a call as the callee's parameters see them (`self` dropped for an
    /// associated call of a method: `Self::close(self, token)`).
    fn params_of<'e>(call: &'e Expr, callee: &Summary) -> Vec<&'e Expr> {
        match call {
            Expr::MethodCall(m) => m.args.iter().collect(),
            Expr::Call(c) => c.args.iter().skip(usize::from(callee.has_self)).collect(),
            _ => Vec::new(),
        }
    }

    /// The effects of a block of a function, calls resolved one level through the summaries.
    /// `params` are the function's parameter names (removals from them become `Param(i)`);
    /// `aliases` maps local names to the container they stand for (see [`aliases`]).
    pub fn effects(
        &self,
        block: Option<&Block>,
        expr: Option<&Expr>,
        aliases: &HashMap<String, Container>,
    ) -> Effects {
        let mut walker = Walker {
            summaries: self,
            aliases,
            out: Effects::default(),
        };
        if let Some(b) = block {
            walker.visit_block(b);
        }
        if let Some(e) = expr {
            walker.visit_expr(e);
        }
        walker.out
    }

    /// The effects of some statements of a function (the code after a loop).
    pub fn effects_of_stmts(
        &self,
        stmts: &[&syn::Stmt],
        aliases: &HashMap<String, Container>,
    ) -> Effects {
        let mut walker = Walker {
            summaries: self,
            aliases,
            out: Effects::default(),
        };
        for s in stmts {
            walker.visit_stmt(s);
        }
        walker.out
    }

    /// A function's aliases (see [`aliases`]) plus its parameters as `Param(i)`.
    pub fn function_aliases(&self, f: &Function<'_>) -> HashMap<String, Container> {
        let mut aliases = aliases(self, f.block);
        let typed = f.sig.inputs.iter().filter_map(|i| match i {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        });
        for (i, t) in typed.enumerate() {
            if let Pat::Ident(p) = &*t.pat {
                aliases
                    .entry(p.ident.to_string())
                    .or_insert(Container::Param(i));
            }
        }
        aliases
    }

    fn summarise(&self, f: &Function<'_>) -> Summary {
        let mut params = Vec::new();
        // A parameter behind a reference cannot be consumed, whatever the body passes it to.
        let mut borrowed = HashSet::new();
        let mut has_self = false;
        for input in &f.sig.inputs {
            match input {
                FnArg::Receiver(_) => has_self = true,
                FnArg::Typed(t) => {
                    if matches!(&*t.ty, syn::Type::Reference(_)) {
                        borrowed.insert(params.len());
                    }
                    params.push(match &*t.pat {
                        Pat::Ident(i) => i.ident.to_string(),
                        _ => String::new(),
                    });
                }
            }
        }
        let aliases = self.function_aliases(f);
        let effects = self.effects(Some(f.block), None, &aliases);
        let index = |name: &str| params.iter().position(|p| p == name);
        Summary {
            name: f.name.clone(),
            self_ty: f.self_ty.clone(),
            has_self,
            consumes: effects
                .consumes
                .iter()
                .filter_map(|n| index(n))
                .filter(|i| !borrowed.contains(i))
                .collect(),
            removes: effects
                .removes
                .into_iter()
                .map(|(c, _)| c)
                .filter(|c| !matches!(c, Container::Local(_)))
                .collect(),
            registers: effects
                .registers
                .iter()
                .filter_map(|(n, _)| index(n))
                .collect(),
            reregisters: effects
                .reregisters
                .iter()
                .filter_map(|(n, _)| index(n))
                .collect(),
            hands_over: effects
                .hands_over
                .into_iter()
                .filter(|c| !matches!(c, Container::Local(_)))
                .collect(),
            returns_flag: returns_flag(&f.sig.output),
            params,
        }
    }

    /// The container an expression names: `self.conns`, `conns`, `CONNS`, through `&mut`,
    /// `lock()`, `borrow_mut()`, `.await`..., local aliases resolved.
    pub fn container_of(
        &self,
        expr: &Expr,
        aliases: &HashMap<String, Container>,
    ) -> Option<Container> {
        match through_access(expr) {
            // `conns.clone()`, `Arc::clone(&conns)`: the same shared container.
            Expr::MethodCall(m) if m.method == "clone" && m.args.is_empty() => {
                self.container_of(&m.receiver, aliases)
            }
            Expr::Call(c) if c.args.len() == 1 && is_clone_fn(&c.func) => {
                self.container_of(&c.args[0], aliases)
            }
            Expr::Field(f) => match &f.member {
                Member::Named(i) => Some(Container::Field(i.to_string())),
                Member::Unnamed(_) => None,
            },
            Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                let name = p.path.segments[0].ident.to_string();
                if let Some(c) = aliases.get(&name) {
                    return Some(c.clone());
                }
                if self.statics.contains(&name) {
                    return Some(Container::Static(name));
                }
                Some(Container::Local(name))
            }
            // `X.get_or_init(..)` / `X.with(..)` of a lazily built static.
            Expr::MethodCall(m)
                if matches!(m.method.to_string().as_str(), "get_or_init" | "get") =>
            {
                self.container_of(&m.receiver, aliases)
                    .filter(|c| matches!(c, Container::Static(_)))
            }
            _ => None,
        }
    }
}

/// Whether a return type is a flag a caller can act on.
fn returns_flag(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let syn::Type::Path(p) = &**ty else {
        return false;
    };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    match last.ident.to_string().as_str() {
        "bool" | "Option" => true,
        "Result" => match &last.arguments {
            syn::PathArguments::AngleBracketed(a) => matches!(
                a.args.first(),
                Some(syn::GenericArgument::Type(syn::Type::Path(t))) if t.path.is_ident("bool")
            ),
            _ => false,
        },
        _ => false,
    }
}

/// `Arc::clone`, `Rc::clone`, `Clone::clone`.
fn is_clone_fn(func: &Expr) -> bool {
    names_path(func, &["clone"])
}

/// Whether an expression names a path whose last segment is one of `names`.
fn names_path(expr: &Expr, names: &[&str]) -> bool {
    matches!(expr, Expr::Path(p) if p.path.segments.last().is_some_and(|s| names.iter().any(|n| s.ident == n)))
}

/// The names of the file's `static` items (also `lazy_static!`/`thread_local!` ones are not
/// seen: they count as locals the function does not define, so nothing is concluded).
fn statics(file: &syn::File) -> HashSet<String> {
    #[derive(Default)]
    struct Finder(HashSet<String>);
    impl<'a> Visit<'a> for Finder {
        fn visit_item_static(&mut self, s: &'a syn::ItemStatic) {
            if matches!(s.vis, syn::Visibility::Inherited) {
                self.0.insert(s.ident.to_string());
            }
        }
    }
    let mut f = Finder::default();
    f.visit_file(file);
    f.0
}

/// Locals of a body that stand for a container: `let guard = conns.lock().unwrap()`,
/// `let conns = &mut self.conns`, `let c2 = Arc::clone(&conns)`, `let entry =
/// slab.vacant_entry()`. A local bound to itself (`let clients = clients.clone()`) is left out.
pub fn aliases(summaries: &Summaries<'_>, block: &Block) -> HashMap<String, Container> {
    struct Finder<'s, 'i> {
        summaries: &'s Summaries<'i>,
        out: HashMap<String, Container>,
    }
    impl<'a> Visit<'a> for Finder<'_, '_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, local: &'a syn::Local) {
            if let (Some(init), Pat::Ident(i)) = (&local.init, strip_pat_type(&local.pat)) {
                if let Some(c) = container_root(&init.expr)
                    .and_then(|e| self.summaries.container_of(e, &self.out))
                {
                    let name = i.ident.to_string();
                    if c != Container::Local(name.clone()) {
                        self.out.insert(name, c);
                    }
                }
            }
            visit::visit_local(self, local);
        }
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            for arm in &m.arms {
                self.entry_pat(&arm.pat, &m.expr);
            }
            visit::visit_expr_match(self, m);
        }
        fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
            self.entry_pat(&l.pat, &l.expr);
            visit::visit_expr_let(self, l);
        }
    }
    impl Finder<'_, '_> {
        /// `match conns.entry(k) { Entry::Occupied(e) => e.remove(), .. }`: the entry's names
        /// stand for the container.
        fn entry_pat(&mut self, pat: &Pat, scrutinee: &Expr) {
            let Expr::MethodCall(m) = through_access(scrutinee) else {
                return;
            };
            if m.method != "entry" {
                return;
            }
            if let Some(c) = self.summaries.container_of(&m.receiver, &self.out) {
                let mut names = Vec::new();
                pat_names(pat, &mut names);
                for n in names {
                    self.out.insert(n, c.clone());
                }
            }
        }
    }
    let mut f = Finder {
        summaries,
        out: HashMap::new(),
    };
    f.visit_block(block);
    f.out
}

/// The container expression an alias is made from, or `None` when the initializer is not a
/// plain view of a container (`conns.get(..)` is an element, not the container).
fn container_root(expr: &Expr) -> Option<&Expr> {
    let mut e = through_access(expr);
    loop {
        match e {
            Expr::MethodCall(m)
                if m.method == "clone"
                    || (ENTRY_METHODS.contains(&m.method.to_string().as_str())) =>
            {
                e = through_access(&m.receiver);
            }
            Expr::Call(c)
                if c.args.len() == 1
                    && matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "clone")) =>
            {
                e = through_access(&c.args[0]);
            }
            Expr::Field(_) | Expr::Path(_) => return Some(e),
            _ => return None,
        }
    }
}

/// The name at the root of a registered value: `&mut stream` → `stream`, `stream.as_raw_fd()`
/// → `stream`, `&mut self.listener` → `listener`, `SourceFd(&fd)` → `fd`.
pub fn root_name(expr: &Expr) -> Option<String> {
    match through_access(expr) {
        Expr::Path(p) if p.path.segments.len() == 1 => Some(p.path.segments[0].ident.to_string()),
        Expr::Field(f) => match &f.member {
            Member::Named(i) => Some(i.to_string()),
            Member::Unnamed(_) => root_name(&f.base),
        },
        Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "as_raw_fd" | "as_fd" | "as_socket" | "as_raw_socket" | "get_mut" | "get_ref"
            ) =>
        {
            root_name(&m.receiver)
        }
        Expr::Call(c) if c.args.len() == 1 => root_name(&c.args[0]),
        _ => None,
    }
}

struct Walker<'s, 'i, 'a> {
    summaries: &'s Summaries<'i>,
    aliases: &'a HashMap<String, Container>,
    out: Effects,
}

impl Walker<'_, '_, '_> {
    fn container(&self, expr: &Expr) -> Option<Container> {
        self.summaries.container_of(expr, self.aliases)
    }

    /// A crate-local call: the callees' effects, mapped onto the arguments.
    fn local_call(&mut self, call: &Expr, span: Span) -> bool {
        let callees = self.summaries.callees(call);
        if callees.is_empty() {
            return false;
        }
        for callee in callees {
            let args = Summaries::params_of(call, callee);
            for c in &callee.removes {
                let mapped = match c {
                    Container::Param(i) => args.get(*i).and_then(|a| self.container(a)),
                    other => Some(other.clone()),
                };
                if let Some(m) = mapped {
                    self.out.removes.push((m, span));
                }
            }
            for c in &callee.hands_over {
                let mapped = match c {
                    Container::Param(i) => args.get(*i).and_then(|a| self.container(a)),
                    other => Some(other.clone()),
                };
                self.out.hands_over.extend(mapped);
            }
            for i in &callee.registers {
                if let Some(n) = args.get(*i).and_then(|a| root_name(a)) {
                    self.out.registers.push((n, span));
                }
            }
            for i in &callee.reregisters {
                if let Some(n) = args.get(*i).and_then(|a| root_name(a)) {
                    self.out.reregisters.push((n, span));
                }
            }
            for i in &callee.consumes {
                if let Some(n) = args.get(*i).and_then(|a| by_value_name(a)) {
                    self.out.consumes.push(n);
                }
            }
        }
        true
    }

    /// `epoll_ctl(.., EPOLL_CTL_ADD, ..)` is `Some(true)`, `EPOLL_CTL_MOD` is `Some(false)`.
    fn epoll_op(&self, call: &syn::ExprCall) -> Option<bool> {
        let named = self
            .summaries
            .imports
            .resolve_expr(&call.func)
            .iter()
            .any(|c| c.last().is_some_and(|l| l == "epoll_ctl"));
        if !named {
            return None;
        }
        if call
            .args
            .iter()
            .any(|a| names_path(a, &["EPOLL_CTL_ADD", "EpollCtlAdd"]))
        {
            return Some(true);
        }
        call.args
            .iter()
            .any(|a| names_path(a, &["EPOLL_CTL_MOD", "EpollCtlMod"]))
            .then_some(false)
    }
}

/// A name passed by value (not behind `&`).
fn by_value_name(expr: &Expr) -> Option<String> {
    match through_wrappers(expr) {
        Expr::Path(p) if p.path.segments.len() == 1 => Some(p.path.segments[0].ident.to_string()),
        _ => None,
    }
}

/// Whether `return e` returns nothing a caller can act on: `return`, `return ()`, `Ok(())`.
pub fn is_unit_value(expr: Option<&Expr>) -> bool {
    match expr {
        None => true,
        Some(Expr::Tuple(t)) => t.elems.is_empty(),
        Some(Expr::Call(c)) => {
            matches!(&*c.func, Expr::Path(p) if p.path.is_ident("Ok"))
                && c.args.len() == 1
                && is_unit_value(c.args.first())
        }
        Some(Expr::Paren(p)) => is_unit_value(Some(&p.expr)),
        _ => false,
    }
}

impl<'a> Visit<'a> for Walker<'_, '_, '_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::MethodCall(m) => {
                let method = m.method.to_string();
                let span = method_span(m);
                if REMOVING_METHODS.contains(&method.as_str()) {
                    if let Some(c) = self.container(&m.receiver) {
                        self.out.removes.push((c, span));
                    } else if let Expr::Index(i) = through_access(&m.receiver) {
                        // `slots[i].take()`
                        if let Some(c) = self.container(&i.expr) {
                            self.out.removes.push((c, span));
                        }
                    }
                } else if REGISTERING_METHODS.contains(&method.as_str())
                    && !m.args.is_empty()
                    // A function of the crate named `add` or `register` is judged by what it
                    // does (its summary), not by its name: `self.add(stream)` may only store.
                    && self.summaries.callees(expr).is_empty()
                {
                    if let Some(n) = root_name(&m.args[0]) {
                        self.out.registers.push((n, span));
                    }
                } else if REREGISTERING_METHODS.contains(&method.as_str()) && !m.args.is_empty() {
                    if let Some(n) = root_name(&m.args[0]) {
                        self.out.reregisters.push((n, span));
                    }
                }
                if !self.local_call(expr, span) {
                    let known = REMOVING_METHODS.contains(&method.as_str())
                        || STORING_METHODS.contains(&method.as_str())
                        || REGISTERING_METHODS.contains(&method.as_str())
                        || REREGISTERING_METHODS.contains(&method.as_str())
                        || NEUTRAL_METHODS.contains(&method.as_str());
                    if !known {
                        self.out.unknown_calls.push(span);
                    }
                    for a in &m.args {
                        if let Some(c) = self.container(a) {
                            self.out.hands_over.push(c);
                        }
                        if let Some(n) = by_value_name(a) {
                            self.out.consumes.push(n);
                        }
                    }
                }
            }
            Expr::Call(c) => {
                let span = node_span(c);
                let imports = self.summaries.imports;
                if let Some(add) = self.epoll_op(c) {
                    if let Some(n) = c.args.iter().nth(2).and_then(root_name) {
                        if add {
                            self.out.registers.push((n, span));
                        } else {
                            self.out.reregisters.push((n, span));
                        }
                    }
                }
                let mem_fn = imports.resolve_expr(&c.func).iter().any(|p| {
                    p.len() >= 2
                        && p[p.len() - 2] == "mem"
                        && matches!(p[p.len() - 1].as_str(), "take" | "replace" | "swap")
                });
                let is_drop = imports
                    .resolve_expr(&c.func)
                    .iter()
                    .any(|p| p.last().is_some_and(|l| l == "drop"));
                if mem_fn || is_drop {
                    if let Some(cont) = c.args.first().and_then(|a| self.container(a)) {
                        self.out.removes.push((cont, span));
                    }
                    if is_drop {
                        self.out
                            .consumes
                            .extend(c.args.first().and_then(by_value_name));
                    }
                } else if !self.local_call(expr, span) {
                    let is_ctor = names_path(&c.func, &["Ok", "Err", "Some", "Token", "clone"]);
                    if !is_ctor && !c.args.is_empty() {
                        self.out.unknown_calls.push(span);
                    }
                    for a in &c.args {
                        if let Some(cont) = self.container(a) {
                            if !is_ctor {
                                self.out.hands_over.push(cont);
                            }
                        }
                        if let Some(n) = by_value_name(a) {
                            self.out.consumes.push(n);
                        }
                    }
                }
            }
            Expr::Assign(a) => {
                self.out.assigns = true;
                let target = match through_access(&a.left) {
                    Expr::Index(i) => self.container(&i.expr),
                    _ => self.container(&a.left),
                };
                if let Some(c) = target.clone().filter(|c| !matches!(c, Container::Local(_))) {
                    self.out.removes.push((c, node_span(a)));
                } else if let Some(c) = target {
                    // Reassigning a local container (or a slot of it) drops what it held.
                    if matches!(through_access(&a.left), Expr::Index(_))
                        || matches!(&*a.right, Expr::Call(_) | Expr::Macro(_))
                    {
                        self.out.removes.push((c, node_span(a)));
                    }
                }
                if let Some(n) = by_value_name(&a.right) {
                    self.out.consumes.push(n);
                }
            }
            Expr::Return(r) => {
                if !is_unit_value(r.expr.as_deref()) {
                    self.out.returns_value = true;
                }
                if let Some(c) = r.expr.as_deref().and_then(|e| self.container(e)) {
                    self.out.hands_over.push(c);
                }
            }
            Expr::Try(_) => self.out.returns_value = true,
            // `for c in conns`: the container is consumed, its elements dropped one by one.
            Expr::ForLoop(f) if matches!(&*f.expr, Expr::Path(_)) => {
                if let Some(c) = self.container(&f.expr) {
                    self.out.removes.push((c, node_span(&*f.expr)));
                }
            }
            Expr::Struct(s) => {
                for f in &s.fields {
                    if let Some(n) = by_value_name(&f.expr) {
                        self.out.consumes.push(n);
                    }
                    if let Some(c) = self.container(&f.expr) {
                        self.out.hands_over.push(c);
                    }
                }
            }
            Expr::Macro(m) => {
                self.macro_args(&m.mac, node_span(m));
                return;
            }
            _ => {}
        }
        visit::visit_expr(self, expr);
    }

    fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
        self.macro_args(&m.mac, node_span(&m.mac));
    }
}

impl Walker<'_, '_, '_> {
    /// A macro's arguments, walked when they parse as expressions (`vec![..]`, `assert!(..)`);
    /// otherwise, unless it only formats, the macro at `span` is a call the walk cannot see into.
    fn macro_args(&mut self, mac: &syn::Macro, span: Span) {
        let name = macro_name(mac);
        if let Ok(args) = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
        {
            for a in &args {
                self.visit_expr(a);
            }
        } else if !is_print_macro(&name) {
            self.out.unknown_calls.push(span);
        }
    }
}

/// Methods that neither close a connection nor take it out of a container.
const NEUTRAL_METHODS: &[&str] = &[
    "get",
    "get_mut",
    "contains_key",
    "contains",
    "len",
    "is_empty",
    "iter",
    "iter_mut",
    "keys",
    "values",
    "values_mut",
    "lock",
    "unwrap",
    "expect",
    "borrow",
    "borrow_mut",
    "as_ref",
    "as_mut",
    "clone",
    "to_string",
    "to_owned",
    "kind",
    "is_readable",
    "is_writable",
    "token",
    "entry",
    "or_default",
    "vacant_entry",
    "key",
    "extend_from_slice",
    "push_str",
    "fetch_add",
    "load",
    "store",
    "registry",
    "deregister",
];

/// Where the connection a [`Store`] holds comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Accepted in the storing function (`listener.accept()`).
    Accepted,
    /// A parameter of the storing function whose declared type owns a connection (`fn
    /// add(&mut self, socket: TcpStream)`): whoever accepted it, it is stored here.
    Parameter,
    /// Any value put into a container whose declared type owns connections (a field
    /// `conns: HashMap<Token, Connection>`, a local `let conns: Vec<TcpStream>`).
    Container,
}

/// One place a connection (or something holding it) is put into a container.
#[derive(Clone, Debug)]
pub struct Store {
    /// The storing call (`insert(..)`).
    pub at: Span,
    /// The container, aliases resolved.
    pub container: Container,
    /// The container as written, for labels.
    pub container_span: Span,
    /// The connection's name in this function (none for [`Origin::Container`]: the stored
    /// value is known only by the container's type) and where it was accepted or passed in
    /// (the stored value for [`Origin::Container`]).
    pub socket: Option<String>,
    pub accepted: Span,
    pub origin: Origin,
    /// Every name that holds the connection here (clones, halves, wrappers).
    pub holders: HashSet<String>,
    /// The stored value is one of the holders itself, moved (not a clone or a wrapper).
    pub moved: bool,
}

/// A name that holds a connection: the connection's name where it came in, where, and how.
#[derive(Clone, Debug)]
pub struct Held {
    pub socket: String,
    pub site: Span,
    pub origin: Origin,
}

/// Names that hold a connection in one function: the names of sockets accepted there and of
/// parameters whose declared type owns a connection (passed by value), and names bound to a
/// clone, a split half, an `Arc`/`Mutex`/`BufReader`/struct holding one.
pub fn holders(
    imports: &Imports,
    types: &TypeModel<'_>,
    f: &Function<'_>,
) -> HashMap<String, Held> {
    let mut out: HashMap<String, Held> = accepted_names(imports, f.block)
        .into_iter()
        .filter(|(_, a)| matches!(a.shape, Shape::Socket))
        .map(|(n, a)| {
            let held = Held {
                socket: n.clone(),
                site: a.site,
                origin: Origin::Accepted,
            };
            (n, held)
        })
        .collect();
    let scope = types.scope(&f.generics());
    for input in &f.sig.inputs {
        let FnArg::Typed(t) = input else { continue };
        let Pat::Ident(p) = &*t.pat else { continue };
        if types.owns_connection(&t.ty, &scope) {
            let name = p.ident.to_string();
            out.entry(name.clone()).or_insert(Held {
                socket: name,
                site: node_span(t),
                origin: Origin::Parameter,
            });
        }
    }
    // Names are only ever derived from the ones above: none, nothing to follow.
    if out.is_empty() {
        return out;
    }
    struct Finder<'o> {
        out: &'o mut HashMap<String, Held>,
    }
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, local: &'a syn::Local) {
            if let Some(init) = &local.init {
                if let Some(origin) = holds(self.out, &init.expr) {
                    let mut names = Vec::new();
                    pat_names(&local.pat, &mut names);
                    for n in names {
                        self.out.entry(n).or_insert_with(|| origin.clone());
                    }
                }
            }
            visit::visit_local(self, local);
        }
    }
    // One visit in text order: a `let` sees only the bindings before it.
    Finder { out: &mut out }.visit_block(f.block);
    out
}

/// The containers of a function whose declared type owns connections: the file's fields
/// declared so ([`TypeModel::owning_fields`]) and locals annotated so.
fn owning_containers(types: &TypeModel<'_>, f: &Function<'_>) -> HashSet<Container> {
    let mut out: HashSet<Container> = types
        .owning_fields()
        .iter()
        .map(|n| Container::Field(n.clone()))
        .collect();
    struct Locals<'t, 'm> {
        types: &'t TypeModel<'m>,
        scope: Scope,
        out: &'t mut HashSet<Container>,
    }
    impl<'a> Visit<'a> for Locals<'_, '_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, local: &'a syn::Local) {
            if let Pat::Type(t) = &local.pat {
                if let Pat::Ident(p) = &*t.pat {
                    if self.types.owns_connection(&t.ty, &self.scope) {
                        self.out.insert(Container::Local(p.ident.to_string()));
                    }
                }
            }
            visit::visit_local(self, local);
        }
    }
    let scope = types.scope(&f.generics());
    Locals {
        types,
        scope,
        out: &mut out,
    }
    .visit_block(f.block);
    out
}

fn pat_names(pat: &Pat, out: &mut Vec<String>) {
    match pat {
        Pat::Ident(i) => out.push(i.ident.to_string()),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pat_names(p, out)),
        Pat::Type(t) => pat_names(&t.pat, out),
        Pat::Reference(r) => pat_names(&r.pat, out),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pat_names(p, out)),
        _ => {}
    }
}

/// The connection an expression holds, if any: the name itself, a clone or split of it,
/// a wrapper call (`Arc::new(s)`, `Conn::new(s, token)`), a struct literal or tuple with it.
fn holds(names: &HashMap<String, Held>, expr: &Expr) -> Option<Held> {
    match through_wrappers(expr) {
        Expr::Path(p) if p.path.segments.len() == 1 => {
            names.get(&p.path.segments[0].ident.to_string()).cloned()
        }
        Expr::MethodCall(m) if SHARING_METHODS.contains(&m.method.to_string().as_str()) => {
            holds(names, &m.receiver)
        }
        Expr::Call(c) => c.args.iter().find_map(|a| holds(names, a)),
        Expr::Struct(s) => s.fields.iter().find_map(|f| holds(names, &f.expr)),
        Expr::Tuple(t) => t.elems.iter().find_map(|e| holds(names, e)),
        _ => None,
    }
}

/// Where a function stores a connection (or a holder of it) into a container: a value that
/// holds an accepted socket or a connection-owning parameter, or any value put into a
/// container declared to hold connections.
/// `names` are the function's [`holders`].
pub fn stores(
    summaries: &Summaries<'_>,
    types: &TypeModel<'_>,
    f: &Function<'_>,
    names: &HashMap<String, Held>,
    aliases: &HashMap<String, Container>,
) -> Vec<Store> {
    let owning = owning_containers(types, f);
    if names.is_empty() && owning.is_empty() {
        return Vec::new();
    }
    struct Finder<'s, 'i, 'n> {
        summaries: &'s Summaries<'i>,
        aliases: &'n HashMap<String, Container>,
        names: &'n HashMap<String, Held>,
        owning: &'n HashSet<Container>,
        out: Vec<Store>,
    }
    impl<'a> Visit<'a> for Finder<'_, '_, '_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let method = m.method.to_string();
            if STORING_METHODS.contains(&method.as_str()) {
                let receiver = match through_access(&m.receiver) {
                    Expr::MethodCall(inner)
                        if ENTRY_METHODS.contains(&inner.method.to_string().as_str()) =>
                    {
                        &*inner.receiver
                    }
                    other => other,
                };
                let container = self.summaries.container_of(receiver, self.aliases);
                let value = m
                    .args
                    .last()
                    .and_then(|a| holds(self.names, a))
                    .map(|h| (Some(h.socket), h.site, h.origin))
                    .or_else(|| {
                        let declared = container.as_ref().is_some_and(|c| self.owning.contains(c));
                        let site = m.args.last().map_or(method_span(m), node_span);
                        declared.then_some((None, site, Origin::Container))
                    });
                if let (Some((socket, site, origin)), Some(container)) = (value, container) {
                    let holders: HashSet<String> = self
                        .names
                        .iter()
                        .filter(|(_, h)| socket.as_ref() == Some(&h.socket))
                        .map(|(n, _)| n.clone())
                        .collect();
                    let moved = m
                        .args
                        .last()
                        .and_then(by_value_name)
                        .is_some_and(|n| holders.contains(&n));
                    self.out.push(Store {
                        moved,
                        at: method_span(m),
                        container,
                        container_span: node_span(receiver),
                        socket,
                        accepted: site,
                        origin,
                        holders,
                    });
                }
            }
            visit::visit_expr_method_call(self, m);
        }
    }
    let mut finder = Finder {
        summaries,
        aliases,
        names,
        owning: &owning,
        out: Vec::new(),
    };
    finder.visit_block(f.block);
    finder.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::model::sockets::functions;

    fn with<R>(src: &str, f: impl FnOnce(&Summaries<'_>, &[Function<'_>]) -> R) -> R {
        let file: syn::File = syn::parse_str(src).unwrap();
        let imports = Imports::of(&file);
        let fns = functions(&file);
        let none = CrateFacts::default();
        let s = Summaries::of(&file, &imports, &fns, &none);
        f(&s, &fns)
    }

    fn summary<'a>(s: &'a Summaries<'_>, name: &str) -> &'a Summary {
        &s.by_name[name][0]
    }

    #[test]
    fn removals_through_fields_params_and_one_helper() {
        let src = "impl S {
            fn close(&mut self, t: Token) { self.conns.remove(&t); }
            fn on_event(&mut self, t: Token) { self.close(t); }
            fn outer(&mut self, t: Token) { self.on_event(t); }
        }
        fn sweep(map: &mut HashMap<Token, TcpStream>) { map.retain(|_, c| c.ok()); }
        fn caller(clients: &mut HashMap<Token, TcpStream>) { sweep(clients); }
        fn reset(v: &mut Vec<TcpStream>) { *v = Vec::new(); }
        fn take_all(s: &mut S) { let old = std::mem::take(&mut s.conns); }
        impl T {
            fn evict(&mut self, k: u64) {
                if let Entry::Occupied(e) = self.peers.entry(k) { e.remove(); }
            }
            fn consume(&mut self) { for c in std::mem::take(&mut self.queue) { drop(c); } }
        }
        fn hand_all(v: Vec<TcpStream>) { for s in v { drop(s); } }";
        with(src, |s, _| {
            let field = Container::Field("conns".into());
            assert!(summary(s, "close").removes.contains(&field));
            assert!(summary(s, "on_event").removes.contains(&field));
            // One call deep only.
            assert!(!summary(s, "outer").removes.contains(&field));
            assert!(summary(s, "sweep").removes.contains(&Container::Param(0)));
            assert!(summary(s, "caller").removes.contains(&Container::Param(0)));
            assert!(summary(s, "reset").removes.contains(&Container::Param(0)));
            assert!(summary(s, "take_all").removes.contains(&field));
            assert!(summary(s, "evict")
                .removes
                .contains(&Container::Field("peers".into())));
            assert!(summary(s, "consume")
                .removes
                .contains(&Container::Field("queue".into())));
            assert!(summary(s, "hand_all")
                .removes
                .contains(&Container::Param(0)));
        });
    }

    #[test]
    fn registrations_consumption_and_flags() {
        let src = "fn reg(registry: &Registry, s: &mut TcpStream, t: Token) -> io::Result<()> {
                registry.register(s, t, Interest::READABLE)
            }
            fn rereg(s: &mut TcpStream, r: &Registry) { r.reregister(s, Token(1), Interest::READABLE).unwrap(); }
            fn raw(epfd: i32, fd: i32) { unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) }; }
            fn raw_del(epfd: i32, fd: i32) { unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) }; }
            fn keep(v: &mut Vec<TcpStream>, s: TcpStream) { v.push(s); }
            fn done(c: &mut Conn) -> io::Result<bool> { Ok(true) }
            fn not_done(c: &mut Conn) -> io::Result<()> { Ok(()) }";
        with(src, |s, _| {
            assert!(summary(s, "reg").registers.contains(&1));
            assert!(summary(s, "rereg").registers.is_empty());
            assert!(summary(s, "rereg").reregisters.contains(&0));
            assert!(summary(s, "raw").registers.contains(&1));
            assert!(summary(s, "raw_del").registers.is_empty());
            assert!(summary(s, "keep").consumes.contains(&1));
            assert!(!summary(s, "reg").consumes.contains(&1));
            assert!(summary(s, "done").returns_flag);
            assert!(!summary(s, "not_done").returns_flag);
        });
    }

    #[test]
    fn stores_follow_clones_halves_and_slab_entries() {
        let src = "fn f(l: TcpListener, clients: Arc<Mutex<Vec<TcpStream>>>) {
            let mut slab = Slab::new();
            for s in l.incoming() {
                let s = s.unwrap();
                let copy = s.try_clone().unwrap();
                clients.lock().unwrap().push(copy);
                let entry = slab.vacant_entry();
                entry.insert(Conn { stream: s });
            }
        }";
        with(src, |s, fns| {
            let al = aliases(s, fns[0].block);
            let imports = Imports::default();
            let file = syn::parse_file("").unwrap();
            let types = TypeModel::of(&file);
            let names = holders(&imports, &types, &fns[0]);
            let st = stores(s, &types, &fns[0], &names, &al);
            let containers: Vec<_> = st.iter().map(|s| s.container.clone()).collect();
            assert_eq!(
                containers,
                [
                    Container::Local("clients".into()),
                    Container::Local("slab".into())
                ]
            );
        });
    }
}
