//! Which values of a function are the sending end of a channel (std's, tokio's, futures',
//! crossbeam's, flume's, async-channel's): a `send` on one fails only when every receiver is
//! gone, which has nothing to do with a connection reaching its end. RS001 uses it to tell a
//! `?` that may end a read loop at end of stream from one that cannot (`tx.send(chunk).await?`
//! goes on sending empty chunks for as long as the receiver lives).
//!
//! A name holds a sender when it is
//! - a parameter whose declared type is one (through references, `Option`, `Arc`...): its last
//!   segment is `Sender`, `SyncSender` or `UnboundedSender`, written with its module
//!   (`mpsc::Sender`) or, written bare, not a type the file defines (a crate's own `Sender`
//!   struct may be anything);
//! - the first name a channel constructor's tuple binds (`let (tx, rx) = mpsc::channel(8)`,
//!   `unbounded_channel()`, `sync_channel(0)`, `bounded(1)`, `unbounded()`);
//! - bound from another sender, or from a field the file declares with a sender type, through
//!   `Some(..)`, `clone()`, `Arc::new(..)` (`let mut tx = Some(sender.tx)`).

use std::collections::HashSet;

use syn::visit::{self, Visit};
use syn::{Expr, FnArg, GenericArgument, Pat, PathArguments, Type};

use crate::rust::model::sockets::{strip_pat_type, Function, Imports};

/// The sending ends' type names.
const SENDERS: &[&str] = &["Sender", "SyncSender", "UnboundedSender"];

/// Functions that make a channel and return `(sender, receiver)`.
const CONSTRUCTORS: &[&str] = &[
    "channel",
    "unbounded_channel",
    "sync_channel",
    "bounded",
    "unbounded",
];

/// Sends that fail only when the receivers are gone (not `try_send`, which also fails when a
/// bounded channel is full, as it soon is under a loop that spins).
pub const SENDS: &[&str] = &["send", "send_async", "blocking_send", "unbounded_send"];

/// Whether a declared type is a channel's sending end (through references and one-argument
/// wrappers: `&mut Sender<T>`, `Option<UnboundedSender<T>>`, `Arc<SyncSender<T>>`).
pub fn is_sender_type(imports: &Imports, ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => is_sender_type(imports, &r.elem),
        Type::Paren(p) => is_sender_type(imports, &p.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            if SENDERS.contains(&name.as_str()) {
                // `mpsc::Sender` names a module's type; a bare `Sender` may be the file's own.
                return p.path.segments.len() > 1 || !imports.defines(&name);
            }
            match &last.arguments {
                PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
                    GenericArgument::Type(t) => {
                        matches!(name.as_str(), "Option" | "Arc" | "Box" | "Rc" | "Mutex")
                            && is_sender_type(imports, t)
                    }
                    _ => false,
                },
                _ => false,
            }
        }
        _ => false,
    }
}

/// The fields of the file's structs declared with a sender type, by name.
pub fn sender_fields(imports: &Imports, file: &syn::File) -> HashSet<String> {
    struct Fields<'i> {
        imports: &'i Imports,
        out: HashSet<String>,
    }
    impl<'a> Visit<'a> for Fields<'_> {
        fn visit_field(&mut self, f: &'a syn::Field) {
            if let Some(name) = &f.ident {
                if is_sender_type(self.imports, &f.ty) {
                    self.out.insert(name.to_string());
                }
            }
        }
        fn visit_block(&mut self, _: &'a syn::Block) {}
    }
    let mut fields = Fields {
        imports,
        out: HashSet::new(),
    };
    fields.visit_file(file);
    fields.out
}

/// Whether the receiver of a `send` is a sender: a name of `senders` (see [`senders`]) or a
/// field of the file declared as one (`self.tx`), through `as_mut()`, `expect(..)`, `lock()`,
/// `clone()`, `&`, `*`, `?` and `.await`.
pub fn is_sender(senders: &HashSet<String>, receiver: &Expr) -> bool {
    match receiver {
        Expr::Path(p) => p
            .path
            .get_ident()
            .is_some_and(|i| senders.contains(&i.to_string())),
        Expr::Field(f) => matches!(&f.member, syn::Member::Named(n)
            if senders.contains(&format!(".{n}"))),
        Expr::Paren(p) => is_sender(senders, &p.expr),
        Expr::Reference(r) => is_sender(senders, &r.expr),
        Expr::Unary(u) => is_sender(senders, &u.expr),
        Expr::Try(t) => is_sender(senders, &t.expr),
        Expr::Await(a) => is_sender(senders, &a.base),
        Expr::MethodCall(m) => {
            matches!(
                m.method.to_string().as_str(),
                "as_mut" | "as_ref" | "expect" | "unwrap" | "lock" | "borrow_mut" | "clone"
            ) && is_sender(senders, &m.receiver)
        }
        _ => false,
    }
}

/// The names of `f` that hold a channel's sending end, and the file's sender fields as
/// `.name`.
pub fn senders(imports: &Imports, fields: &HashSet<String>, f: &Function<'_>) -> HashSet<String> {
    let mut out: HashSet<String> = fields.iter().map(|n| format!(".{n}")).collect();
    for input in &f.sig.inputs {
        if let FnArg::Typed(t) = input {
            if let Pat::Ident(p) = &*t.pat {
                if is_sender_type(imports, &t.ty) {
                    out.insert(p.ident.to_string());
                }
            }
        }
    }
    struct Lets<'s> {
        fields: &'s HashSet<String>,
        out: &'s mut HashSet<String>,
    }
    impl<'a> Visit<'a> for Lets<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Some(init) = &l.init {
                match strip_pat_type(&l.pat) {
                    Pat::Tuple(t) if is_constructor(&init.expr) => {
                        if let Some(Pat::Ident(p)) = t.elems.first().map(strip_pat_type) {
                            self.out.insert(p.ident.to_string());
                        }
                    }
                    Pat::Ident(p) if self.holds(&init.expr) => {
                        self.out.insert(p.ident.to_string());
                    }
                    _ => {}
                }
            }
            visit::visit_local(self, l);
        }
    }
    impl Lets<'_> {
        fn holds(&self, e: &Expr) -> bool {
            match e {
                Expr::Path(p) => p
                    .path
                    .get_ident()
                    .is_some_and(|i| self.out.contains(&i.to_string())),
                Expr::Field(f) => matches!(&f.member, syn::Member::Named(n)
                    if self.fields.contains(&n.to_string())),
                Expr::Paren(p) => self.holds(&p.expr),
                Expr::Reference(r) => self.holds(&r.expr),
                Expr::MethodCall(m) if m.method == "clone" => self.holds(&m.receiver),
                Expr::Call(c) if c.args.len() == 1 => {
                    let wrapper = matches!(&*c.func, Expr::Path(p) if p.path.segments.last()
                        .is_some_and(|s| matches!(s.ident.to_string().as_str(), "Some" | "new" | "clone")));
                    wrapper && self.holds(&c.args[0])
                }
                _ => false,
            }
        }
    }
    let mut lets = Lets {
        fields,
        out: &mut out,
    };
    // One visit in text order: a `let` sees only the bindings before it.
    lets.visit_block(f.block);
    out
}

fn is_constructor(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => matches!(&*c.func, Expr::Path(p) if p.path.segments.last()
            .is_some_and(|s| CONSTRUCTORS.contains(&s.ident.to_string().as_str()))),
        Expr::Paren(p) => is_constructor(&p.expr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::model::sockets::functions;

    fn senders_of(src: &str) -> Vec<String> {
        let file = syn::parse_file(src).unwrap();
        let imports = Imports::of(&file);
        let fields = sender_fields(&imports, &file);
        let fns = functions(&file);
        let f = fns.iter().find(|f| f.name == "f").unwrap();
        let mut out: Vec<String> = senders(&imports, &fields, f)
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn senders_come_from_params_constructors_and_sender_fields() {
        assert_eq!(
            senders_of(
                "struct Job { tx: mpsc::Sender<Bytes>, id: u64 }
                 fn f(out: &mut UnboundedSender<Vec<u8>>, job: Job, n: usize) {
                     let (a, b) = tokio::sync::mpsc::channel(8);
                     let (c, _) = crossbeam_channel::bounded(1);
                     let mut tx = Some(job.tx);
                     let d = a.clone();
                     let id = job.id;
                 }"
            ),
            ["a", "c", "d", "out", "tx"]
        );
    }

    #[test]
    fn a_send_is_on_a_sender_through_accessors_and_fields() {
        let senders: HashSet<String> = ["tx".to_string(), ".out".to_string()].into();
        let on = |src: &str| {
            let e: Expr = syn::parse_str(src).unwrap();
            let Expr::MethodCall(m) = e else { panic!() };
            is_sender(&senders, &m.receiver)
        };
        assert!(on("tx.as_mut().expect(\"open\").send(x)"));
        assert!(on("self.out.lock().unwrap().send(x)"));
        assert!(!on("self.tx.send(x)"));
        assert!(!on("sink.send(x)"));
    }

    #[test]
    fn a_crates_own_sender_type_and_other_tuples_are_not_channels() {
        assert!(senders_of(
            "struct Sender { conn: TcpStream }
             fn f(s: Sender) { let (r, w) = stream.into_split(); let (x, y) = pair(); }"
        )
        .is_empty());
        assert_eq!(
            senders_of(
                "struct Sender { conn: TcpStream }
                 fn f(s: Sender, tx: mpsc::Sender<u8>) {}"
            ),
            ["tx"]
        );
        assert!(senders_of("struct Sender { conn: TcpStream } fn f(s: Sender) {}").is_empty());
    }
}
