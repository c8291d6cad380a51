//! Which types hold a connection that can be read, decided from declared types rather than from
//! where a value came from: the first layer of the type model (docs/rust-analysis.md, "The type
//! model").
//!
//! A type is a *reader of a connection* ([`TypeModel::is_reader`]) when it is
//! - a socket type (`TcpStream`, `UnixStream`, tokio's `OwnedReadHalf` and lifetime-only
//!   `ReadHalf`);
//! - a generic parameter or `impl Trait` / `dyn Trait` bounded by a reader trait (`Read`,
//!   `BufRead`, `AsyncRead`, `AsyncBufRead`, their `Ext` traits, or a trait of the file whose
//!   supertraits include one). A library is written against these bounds, and a loop that goes
//!   round at end of stream spins for every reader its users pass;
//! - any path type with such a type among its generic arguments: wrappers (`BufReader<S>`,
//!   `TlsStream<S>`, `Framed<S, C>`, a crate's own `Session<S>`), containers and smart pointers
//!   (`Box`, `Arc`, `Mutex`, `Option`, `Vec`, `HashMap<K, S>`...), references, arrays, slices;
//! - a struct of the file that implements a reader trait and has a field that is a reader
//!   (forwarding wrappers: `impl<R: AsyncRead> AsyncRead for Session<R>`).
//!
//! A type *owns a connection* ([`TypeModel::owns_connection`]) when a value of it keeps a
//! connection open until it is dropped: an owned socket type, a reader-bounded generic, a
//! wrapper, container or smart pointer that owns one (by value: a reference, a `Weak` or a
//! channel end does not), or a struct or enum of the file with such a field, transitively.
//! RS002 judges containers by it: a `HashMap<Token, Connection>` field holds connections
//! whatever code put them there.
//!
//! A struct's fields are judged with the struct's generic parameters bound as its declaration
//! *or any of its `impl` blocks* bind them (`struct Client<T> { stream: T }` with
//! `impl<T: Read + Write> Client<T>`): the methods that read the field are written in those
//! impls.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use syn::visit::{self, Visit};
use syn::{GenericArgument, Generics, PathArguments, Type, TypeParamBound, WherePredicate};

/// Traits whose implementors read bytes and report end of stream as a 0 count (or nothing
/// filled).
pub const READER_TRAITS: &[&str] = &[
    "Read",
    "BufRead",
    "AsyncRead",
    "AsyncBufRead",
    "AsyncReadExt",
    "AsyncBufReadExt",
];

/// Socket types that are connections whatever their arguments.
const CONNECTIONS: &[&str] = &["TcpStream", "UnixStream", "OwnedReadHalf"];

/// Owned socket types beyond [`CONNECTIONS`]: write halves keep the connection open too.
const OWNED_CONNECTIONS: &[&str] = &["OwnedWriteHalf"];

/// Types with a connection-owning argument that do not own it: a `Weak` does not keep it
/// alive, a channel end only carries values to whoever owns them, a marker holds nothing.
const NOT_OWNING: &[&str] = &[
    "Weak",
    "PhantomData",
    "Sender",
    "SyncSender",
    "UnboundedSender",
    "Receiver",
    "UnboundedReceiver",
    "JoinHandle",
    "Fn",
    "FnMut",
    "FnOnce",
];

/// How deep [`TypeModel::is_reader`] follows structs of the file (a struct that contains
/// itself through a `Box` would otherwise recurse forever).
const MAX_DEPTH: usize = 8;

/// The generic parameters in scope that are bounded by a reader trait.
#[derive(Clone, Debug, Default)]
pub struct Scope(HashSet<String>);

impl Scope {
    /// Whether the named parameter is a reader.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

struct StructInfo<'a> {
    params: Vec<String>,
    /// The fields (an enum's: every variant's), by name where they have one.
    fields: Vec<(Option<String>, &'a Type)>,
    /// Parameters bound by a reader trait in the declaration or in any impl of the struct.
    reader_params: HashSet<String>,
}

/// The file's traits and structs, as far as reading connections is concerned.
pub struct TypeModel<'a> {
    reader_traits: HashSet<String>,
    structs: HashMap<String, StructInfo<'a>>,
    /// Type aliases of the file: `type Conn<F> = Connection<F::Handler>` is judged as its
    /// right-hand side.
    aliases: HashMap<String, &'a Type>,
    /// Whether each of the file's types owns or reads a connection, once judged (a judgement
    /// follows fields into other types and aliases, and without this a file of many nested
    /// types is judged in exponential time).
    owns_memo: Memo,
    reader_memo: Memo,
    /// Types of the file with an `impl <reader trait> for Type`.
    implements_reader: HashSet<String>,
    /// Fields of the file's structs whose declared type is a reader (by field name).
    reader_fields: HashSet<String>,
    /// Fields of the file's structs whose declared type owns a connection (by field name).
    owning_fields: HashSet<String>,
    /// Names imported under another name (`use mio::net::UnixStream as MioUnixStream`): a type
    /// or trait is judged by the name it was declared with.
    renames: HashMap<String, String>,
}

impl<'a> TypeModel<'a> {
    pub fn of(file: &'a syn::File) -> TypeModel<'a> {
        let mut items = Items::default();
        items.visit_file(file);
        let mut model = TypeModel {
            reader_traits: HashSet::new(),
            structs: HashMap::new(),
            aliases: items
                .aliases
                .iter()
                .map(|a| (a.ident.to_string(), &*a.ty))
                .collect(),
            owns_memo: Memo::default(),
            reader_memo: Memo::default(),
            implements_reader: HashSet::new(),
            reader_fields: HashSet::new(),
            owning_fields: HashSet::new(),
            renames: std::mem::take(&mut items.renames),
        };
        // Traits whose supertraits are readers, to a fixed point (`trait Io: Conn`, `trait
        // Conn: Read + Write`).
        loop {
            let before = model.reader_traits.len();
            for (name, supers) in &items.traits {
                if supers
                    .iter()
                    .any(|s| model.is_reader_trait(model.declared(s)))
                {
                    model.reader_traits.insert(name.clone());
                }
            }
            if model.reader_traits.len() == before {
                break;
            }
        }
        for s in &items.structs {
            let params = s
                .generics
                .type_params()
                .map(|p| p.ident.to_string())
                .collect();
            let reader_params = model.scope(&[&s.generics]).0;
            let fields = s
                .fields
                .iter()
                .map(|f| (f.ident.as_ref().map(ToString::to_string), &f.ty))
                .collect();
            model.structs.insert(
                s.ident.to_string(),
                StructInfo {
                    params,
                    fields,
                    reader_params,
                },
            );
        }
        for e in &items.enums {
            let params = e
                .generics
                .type_params()
                .map(|p| p.ident.to_string())
                .collect();
            let reader_params = model.scope(&[&e.generics]).0;
            let fields = e
                .variants
                .iter()
                .flat_map(|v| &v.fields)
                .map(|f| (f.ident.as_ref().map(ToString::to_string), &f.ty))
                .collect();
            model
                .structs
                .entry(e.ident.to_string())
                .or_insert(StructInfo {
                    params,
                    fields,
                    reader_params,
                });
        }
        for i in &items.impls {
            let Type::Path(p) = &*i.self_ty else { continue };
            let Some(last) = p.path.segments.last() else {
                continue;
            };
            let name = last.ident.to_string();
            if let Some((trait_path, _)) = &i.trait_ {
                if trait_path
                    .segments
                    .last()
                    .is_some_and(|s| model.is_reader_trait(model.declared(&s.ident.to_string())))
                {
                    model.implements_reader.insert(name.clone());
                }
            }
            // `impl<T: Read> Client<T>`: the struct's parameter at T's position is a reader.
            let scope = model.scope(&[&i.generics]);
            let args: Vec<&Type> = type_args(&last.arguments).collect();
            let readers: Vec<String> = match model.structs.get(&name) {
                Some(info) => info
                    .params
                    .iter()
                    .zip(&args)
                    .filter(|(_, arg)| model.is_reader(arg, &scope))
                    .map(|(param, _)| param.clone())
                    .collect(),
                None => continue,
            };
            if let Some(info) = model.structs.get_mut(&name) {
                info.reader_params.extend(readers);
            }
        }
        // What was judged while the impls were still being read may have changed.
        model.owns_memo = Memo::default();
        model.reader_memo = Memo::default();
        let (mut readers, mut owning, mut not_owning) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for info in model.structs.values() {
            let scope = Scope(info.reader_params.clone());
            for (name, ty) in &info.fields {
                if let Some(name) = name {
                    if model.is_reader(ty, &scope) {
                        readers.insert(name.clone());
                    }
                    if model.owns_connection(ty, &scope) {
                        owning.insert(name.clone());
                    } else {
                        not_owning.insert(name.clone());
                    }
                }
            }
        }
        model.reader_fields = readers;
        // Fields are named without their struct (`self.conns`): a name that some struct
        // declares with another type is not known to hold connections.
        model.owning_fields = owning.difference(&not_owning).cloned().collect();
        model
    }

    /// The fields of the file's structs whose declared type owns a connection (a
    /// `HashMap<Token, Connection>`, a `Slab<TcpStream>`), by name, when every struct that
    /// declares the name declares it so.
    pub fn owning_fields(&self) -> &HashSet<String> {
        &self.owning_fields
    }

    /// Whether a value of this type keeps a connection open until it is dropped (see the
    /// module comment).
    pub fn owns_connection(&self, ty: &Type, scope: &Scope) -> bool {
        self.owns_at(ty, scope, 0)
    }

    fn owns_at(&self, ty: &Type, scope: &Scope, depth: usize) -> bool {
        match ty {
            Type::Paren(p) => self.owns_at(&p.elem, scope, depth),
            Type::Group(g) => self.owns_at(&g.elem, scope, depth),
            Type::Array(a) => self.owns_at(&a.elem, scope, depth),
            Type::Tuple(t) => t.elems.iter().any(|e| self.owns_at(e, scope, depth)),
            Type::TraitObject(t) => t.bounds.iter().any(|b| self.is_reader_bound(b)),
            Type::ImplTrait(t) => t.bounds.iter().any(|b| self.is_reader_bound(b)),
            Type::Path(p) => {
                if p.qself.is_some() {
                    return false;
                }
                if let Some(ident) = p.path.get_ident() {
                    if scope.contains(&ident.to_string()) {
                        return true;
                    }
                }
                let Some(last) = p.path.segments.last() else {
                    return false;
                };
                let name = self.declared(&last.ident.to_string()).to_string();
                if CONNECTIONS.contains(&name.as_str())
                    || OWNED_CONNECTIONS.contains(&name.as_str())
                {
                    return true;
                }
                if NOT_OWNING.contains(&name.as_str()) {
                    return false;
                }
                if type_args(&last.arguments).any(|a| self.owns_at(a, scope, depth)) {
                    return true;
                }
                if self.reader_traits.contains(&name) && p.path.segments.len() == 1 {
                    return true;
                }
                self.named(&name, &self.owns_memo, depth, Self::owns_at)
            }
            // References, pointers and slices borrow: the owner is elsewhere.
            _ => false,
        }
    }

    /// The fields of the file's structs whose declared type is a reader.
    pub fn reader_fields(&self) -> &HashSet<String> {
        &self.reader_fields
    }

    /// The reader parameters of these generics (outermost first: an impl's, then a method's),
    /// from their bounds and `where` clauses.
    pub fn scope(&self, generics: &[&Generics]) -> Scope {
        let mut out = HashSet::new();
        for g in generics {
            for p in g.type_params() {
                if p.bounds.iter().any(|b| self.is_reader_bound(b)) {
                    out.insert(p.ident.to_string());
                }
            }
            for pred in g.where_clause.iter().flat_map(|w| &w.predicates) {
                let WherePredicate::Type(t) = pred else {
                    continue;
                };
                let Type::Path(p) = &t.bounded_ty else {
                    continue;
                };
                let Some(ident) = p.path.get_ident() else {
                    continue;
                };
                if t.bounds.iter().any(|b| self.is_reader_bound(b)) {
                    out.insert(ident.to_string());
                }
            }
        }
        Scope(out)
    }

    /// Whether a value of this type is (or holds) a connection that can be read.
    pub fn is_reader(&self, ty: &Type, scope: &Scope) -> bool {
        self.reader_at(ty, scope, 0)
    }

    fn reader_at(&self, ty: &Type, scope: &Scope, depth: usize) -> bool {
        match ty {
            Type::Reference(r) => self.reader_at(&r.elem, scope, depth),
            Type::Paren(p) => self.reader_at(&p.elem, scope, depth),
            Type::Group(g) => self.reader_at(&g.elem, scope, depth),
            Type::Ptr(p) => self.reader_at(&p.elem, scope, depth),
            Type::Slice(s) => self.reader_at(&s.elem, scope, depth),
            Type::Array(a) => self.reader_at(&a.elem, scope, depth),
            Type::Tuple(t) => t.elems.iter().any(|e| self.reader_at(e, scope, depth)),
            Type::TraitObject(t) => t.bounds.iter().any(|b| self.is_reader_bound(b)),
            Type::ImplTrait(t) => t.bounds.iter().any(|b| self.is_reader_bound(b)),
            Type::Path(p) => {
                if p.qself.is_some() {
                    return false;
                }
                if let Some(ident) = p.path.get_ident() {
                    if scope.contains(&ident.to_string()) {
                        return true;
                    }
                }
                let Some(last) = p.path.segments.last() else {
                    return false;
                };
                let name = self.declared(&last.ident.to_string()).to_string();
                if CONNECTIONS.contains(&name.as_str()) {
                    return true;
                }
                let mut args = type_args(&last.arguments).peekable();
                // tokio's borrowed `tcp::ReadHalf<'_>` (the generic `io::ReadHalf<T>` is a
                // wrapper, judged by its argument below).
                if name == "ReadHalf" && args.peek().is_none() {
                    return true;
                }
                if args.any(|a| self.reader_at(a, scope, depth)) {
                    return true;
                }
                // A bare trait object of 2015-edition code (`Box<ReadWrite>`).
                if self.reader_traits.contains(&name) && p.path.segments.len() == 1 {
                    return true;
                }
                // A struct reads only when it forwards a reader trait to a reader field.
                let forwards =
                    !self.structs.contains_key(&name) || self.implements_reader.contains(&name);
                forwards && self.named(&name, &self.reader_memo, depth, Self::reader_at)
            }
            _ => false,
        }
    }

    /// A type of the file judged by `at` (owning or reading): a struct or enum by its fields,
    /// bound as its declaration and impls bind them; an alias by what it names, without the
    /// caller's scope (an alias's parameters are its own, and the arguments of this use were
    /// judged already). Once per name (`memo`); `false` for a name the file does not declare.
    fn named(
        &self,
        name: &str,
        memo: &Memo,
        depth: usize,
        at: fn(&Self, &Type, &Scope, usize) -> bool,
    ) -> bool {
        if depth >= MAX_DEPTH {
            return false;
        }
        if let Some(info) = self.structs.get(name) {
            return memo.judge(name, || {
                let scope = Scope(info.reader_params.clone());
                info.fields
                    .iter()
                    .any(|(_, ty)| at(self, ty, &scope, depth + 1))
            });
        }
        self.aliases.get(name).is_some_and(|aliased| {
            memo.judge(name, || at(self, aliased, &Scope::default(), depth + 1))
        })
    }

    /// The name a type or trait was declared with, through the file's `use .. as` renames.
    fn declared<'n>(&'n self, name: &'n str) -> &'n str {
        self.renames.get(name).map_or(name, String::as_str)
    }

    fn is_reader_trait(&self, name: &str) -> bool {
        READER_TRAITS.contains(&name) || self.reader_traits.contains(name)
    }

    fn is_reader_bound(&self, bound: &TypeParamBound) -> bool {
        match bound {
            TypeParamBound::Trait(t) => t
                .path
                .segments
                .last()
                .is_some_and(|s| self.is_reader_trait(self.declared(&s.ident.to_string()))),
            _ => false,
        }
    }
}

/// Judgements of named types, each made once. A type met again while it is being judged (it
/// contains itself) counts as not owning for now, and what was judged with that provisional
/// answer is not kept unless it is `true` (which more knowledge cannot undo).
#[derive(Default)]
struct Memo {
    known: RefCell<HashMap<String, bool>>,
    in_progress: RefCell<HashSet<String>>,
    provisional: Cell<bool>,
}

impl Memo {
    fn judge(&self, name: &str, judge: impl FnOnce() -> bool) -> bool {
        if let Some(&known) = self.known.borrow().get(name) {
            return known;
        }
        if !self.in_progress.borrow_mut().insert(name.to_string()) {
            self.provisional.set(true);
            return false;
        }
        let outer = self.provisional.replace(false);
        let answer = judge();
        let provisional = self.provisional.get();
        self.in_progress.borrow_mut().remove(name);
        if answer || !provisional {
            self.known.borrow_mut().insert(name.to_string(), answer);
        }
        self.provisional.set(outer || provisional);
        answer
    }
}

/// The type arguments of a path segment (`K`, `V` of `HashMap<K, V>`).
fn type_args(args: &PathArguments) -> impl Iterator<Item = &Type> {
    let list = match args {
        PathArguments::AngleBracketed(a) => Some(&a.args),
        _ => None,
    };
    list.into_iter().flatten().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// The items the model is built from, in the whole file (modules included, bodies not).
#[derive(Default)]
struct Items<'a> {
    traits: Vec<(String, Vec<String>)>,
    structs: Vec<&'a syn::ItemStruct>,
    enums: Vec<&'a syn::ItemEnum>,
    impls: Vec<&'a syn::ItemImpl>,
    aliases: Vec<&'a syn::ItemType>,
    /// `use a::B as C`: C → B.
    renames: HashMap<String, String>,
}

impl<'a> Visit<'a> for Items<'a> {
    fn visit_item_trait(&mut self, t: &'a syn::ItemTrait) {
        let supers = t
            .supertraits
            .iter()
            .filter_map(|b| match b {
                TypeParamBound::Trait(t) => t.path.segments.last().map(|s| s.ident.to_string()),
                _ => None,
            })
            .collect();
        self.traits.push((t.ident.to_string(), supers));
        visit::visit_item_trait(self, t);
    }
    fn visit_item_struct(&mut self, s: &'a syn::ItemStruct) {
        self.structs.push(s);
    }
    fn visit_item_enum(&mut self, e: &'a syn::ItemEnum) {
        self.enums.push(e);
    }
    fn visit_item_type(&mut self, t: &'a syn::ItemType) {
        self.aliases.push(t);
    }
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        self.impls.push(i);
        visit::visit_item_impl(self, i);
    }
    fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
        let mut trees = vec![&u.tree];
        while let Some(tree) = trees.pop() {
            match tree {
                syn::UseTree::Path(p) => trees.push(&p.tree),
                syn::UseTree::Group(g) => trees.extend(&g.items),
                syn::UseTree::Rename(r) if r.ident != "self" => {
                    self.renames
                        .insert(r.rename.to_string(), r.ident.to_string());
                }
                _ => {}
            }
        }
    }
    fn visit_block(&mut self, _: &'a syn::Block) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_of(src: &str) -> (syn::File, Vec<String>) {
        let file = syn::parse_file(src).unwrap();
        let mut fields: Vec<String> = TypeModel::of(&file)
            .reader_fields()
            .iter()
            .cloned()
            .collect();
        fields.sort();
        (file, fields)
    }

    fn param_is_reader(src: &str) -> bool {
        let file = syn::parse_file(src).unwrap();
        let model = TypeModel::of(&file);
        let syn::Item::Fn(f) = &file.items[file.items.len() - 1] else {
            panic!("a fn last")
        };
        let scope = model.scope(&[&f.sig.generics]);
        let syn::FnArg::Typed(t) = &f.sig.inputs[0] else {
            panic!("a typed param")
        };
        model.is_reader(&t.ty, &scope)
    }

    #[test]
    fn generic_readers_are_readers_in_every_spelling() {
        assert!(param_is_reader("fn f<R: std::io::Read>(r: R) {}"));
        assert!(param_is_reader(
            "fn f<R>(r: &mut R) where R: AsyncReadExt + Unpin {}"
        ));
        assert!(param_is_reader("fn f(r: impl AsyncRead + Unpin) {}"));
        assert!(param_is_reader("fn f(r: &mut dyn Read) {}"));
        assert!(param_is_reader("fn f(r: Box<dyn BufRead + Send>) {}"));
        assert!(param_is_reader("fn f<S: AsyncRead>(r: BufReader<S>) {}"));
        assert!(param_is_reader("fn f(r: HashMap<Token, TcpStream>) {}"));
        assert!(param_is_reader("fn f(r: tokio::net::tcp::ReadHalf<'_>) {}"));
        assert!(param_is_reader(
            "trait Io: Conn {} trait Conn: Read + Write {} fn f(r: Box<dyn Io>) {}"
        ));
    }

    #[test]
    fn writers_files_and_unbounded_generics_are_not_readers() {
        assert!(!param_is_reader("fn f<W: Write>(w: W) {}"));
        assert!(!param_is_reader("fn f<T: Clone>(t: T) {}"));
        assert!(!param_is_reader("fn f(f: std::fs::File) {}"));
        assert!(!param_is_reader("fn f(w: &mut dyn Write) {}"));
        assert!(!param_is_reader("fn f<S: AsyncWrite>(w: BufWriter<S>) {}"));
        assert!(!param_is_reader("fn f(b: Vec<u8>) {}"));
    }

    #[test]
    fn fields_are_judged_with_the_bounds_of_the_struct_and_its_impls() {
        let (_, fields) = model_of(
            "struct Client<T> { stream: T, tag: u32 }
             impl<T: Read + Write> Client<T> { fn f(&mut self) {} }
             struct Pool<S> { idle: Vec<S> }
             impl<S: Clone> Pool<S> {}
             struct Session<R> { reader: R }
             impl<R: AsyncRead + Unpin> AsyncRead for Session<R> {}
             struct Outer<R> { session: Session<R> }
             impl<R> Outer<R> where R: AsyncRead {}
             struct Server { conns: HashMap<usize, TcpStream>, log: File }",
        );
        assert_eq!(fields, ["conns", "reader", "session", "stream"]);
    }

    fn param_owns(src: &str) -> bool {
        let file = syn::parse_file(src).unwrap();
        let model = TypeModel::of(&file);
        let syn::Item::Fn(f) = &file.items[file.items.len() - 1] else {
            panic!("a fn last")
        };
        let scope = model.scope(&[&f.sig.generics]);
        let syn::FnArg::Typed(t) = &f.sig.inputs[0] else {
            panic!("a typed param")
        };
        model.owns_connection(&t.ty, &scope)
    }

    #[test]
    fn connection_owners_are_sockets_their_wrappers_and_the_structs_that_hold_them() {
        assert!(param_owns("fn f(c: HashMap<Token, TcpStream>) {}"));
        assert!(param_owns("fn f(c: Slab<Arc<Mutex<OwnedWriteHalf>>>) {}"));
        assert!(param_owns("fn f<S: AsyncRead>(c: Vec<TlsStream<S>>) {}"));
        // No reader impl needed: holding the socket is enough.
        assert!(param_owns(
            "struct Conn { socket: TcpStream, out: Vec<u8> } fn f(c: Vec<Conn>) {}"
        ));
        assert!(param_owns(
            "enum Io { Plain(TcpStream), Tls(Box<TlsStream<TcpStream>>) }
             struct Peer { io: Io } fn f(c: HashMap<u64, Peer>) {}"
        ));
        assert!(param_owns(
            "struct Node { s: TcpStream, next: Option<Box<Node>> } fn f(n: Node) {}"
        ));
    }

    #[test]
    fn borrows_weak_pointers_channels_and_other_values_own_no_connection() {
        assert!(!param_owns("fn f(c: &mut TcpStream) {}"));
        assert!(!param_owns("fn f(c: HashMap<Token, &TcpStream>) {}"));
        assert!(!param_owns("fn f(c: Vec<Weak<TcpStream>>) {}"));
        assert!(!param_owns(
            "fn f(c: HashMap<SocketAddr, Sender<TcpStream>>) {}"
        ));
        assert!(!param_owns("fn f(c: HashMap<Token, SocketAddr>) {}"));
        assert!(!param_owns("fn f(c: Vec<File>) {}"));
        assert!(!param_owns(
            "struct Node { next: Option<Box<Node>> } fn f(n: Node) {}"
        ));
    }

    #[test]
    fn a_field_name_declared_with_another_type_elsewhere_is_not_an_owner() {
        let file = syn::parse_file(
            "struct Server { conns: HashMap<Token, Conn>, peers: Vec<TcpStream> }
             struct Conn { socket: TcpStream }
             struct Stats { conns: usize }",
        )
        .unwrap();
        let model = TypeModel::of(&file);
        let mut owning: Vec<&String> = model.owning_fields().iter().collect();
        owning.sort();
        assert_eq!(owning, ["peers", "socket"]);
    }

    #[test]
    fn an_alias_is_judged_as_what_it_names() {
        assert!(param_owns(
            "struct Connection<H> { socket: TcpStream, h: H }
             type Conn<F> = Connection<<F as Factory>::Handler>; fn f<F>(c: Slab<Conn<F>>) {}"
        ));
        assert!(param_is_reader(
            "type Reader = BufReader<TcpStream>; fn f(r: Vec<Reader>) {}"
        ));
        assert!(!param_owns("type Id = u64; fn f(c: HashMap<Id, Id>) {}"));
        // An alias of itself (not valid Rust, but a file may hold anything) ends.
        assert!(!param_owns("type A = Vec<A>; fn f(a: A) {}"));
    }

    #[test]
    fn a_cycle_judged_from_either_end_owns_through_its_socket() {
        let file = syn::parse_file(
            "struct A { b: B, s: TcpStream } struct B { a: Option<Box<A>> }
             fn f(a: A, b: B) {}",
        )
        .unwrap();
        let model = TypeModel::of(&file);
        let syn::Item::Fn(f) = &file.items[2] else {
            panic!("a fn")
        };
        let none = Scope::default();
        // `a` first: `B` is judged while `A` is in progress, and must not be remembered as
        // owning nothing.
        for input in &f.sig.inputs {
            let syn::FnArg::Typed(t) = input else {
                panic!("typed")
            };
            assert!(model.owns_connection(&t.ty, &none), "{:?}", t.pat);
        }
    }

    #[test]
    fn a_struct_that_contains_itself_terminates() {
        assert!(!param_is_reader(
            "struct Node { next: Option<Box<Node>> } impl Read for Node {} fn f(n: Node) {}"
        ));
        assert!(param_is_reader(
            "struct Node<S> { s: S, next: Option<Box<Node<S>>> } impl<S: Read> Read for Node<S> {}
             fn f(n: Node<TcpStream>) {}"
        ));
    }
}
