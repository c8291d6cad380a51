use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, FnArg, Pat};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::ownership::Lifetimes;
use crate::rust::flow::summary::Origin;
use crate::rust::flow::tasks::{mentions, Body, Spawns};
use crate::rust::flow::waits::{own_sender, select_ignores_eof, Found, Waits};
use crate::rust::model::sockets::{Function, Imports};
use crate::rust::model::types::TypeModel;
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags code that owns a connection and then waits on something the peer's close cannot
    /// end. The owner is either a task or thread spawned with a connection (`tokio::spawn`,
    /// `thread::spawn`, `spawn_local`, `task::spawn`...: the closure, async block or call it
    /// runs, and one level into a function of the file the connection is passed to), or a
    /// function that takes a connection by value: a parameter whose declared type owns one
    /// (a socket, a wrapper or struct holding one, a generic bounded by `Read`/`AsyncRead`...),
    /// or `self` of such a struct. The connection is followed through `into_split()`,
    /// `split()`, `BufReader::new(..)` and the like, and through the struct fields declared to
    /// hold one (`self.conn`). While the connection (or one of its halves) is still held, the
    /// code:
    /// - awaits `std::future::pending()` (or `futures::future::pending()`), directly, through a
    ///   name bound to it, pinned or boxed, or in an `async` block or `match` arm it awaits;
    /// - loops on `rx.recv()` (`while let Some(m) = rx.recv().await`, `for m in rx`) of an mpsc
    ///   channel whose sender `tx` it holds itself (created there or moved in, never moved
    ///   elsewhere or dropped), with no `break` or `return` in the loop;
    /// - runs a `loop` around `tokio::select!` / `futures::select!` whose branch that reads
    ///   the connection does not leave the loop at EOF: a `read` whose `Ok(0)` is neither matched
    ///   nor compared, a `next()` whose `None` is ignored, with no `break` or `return`.
    ///
    /// Anything the analysis cannot see (the sender given to another task, a `while` condition,
    /// an `else` branch, a function of the crate given the read result) counts as a way out. A
    /// connection only borrowed (`&mut TcpStream`) is its caller's: the caller is judged.
    ///
    /// ## Why is this bad?
    /// When the client closes, its FIN reaches the kernel, which acknowledges it and moves the
    /// connection to CLOSE_WAIT: it stays there until this process closes its side, which here
    /// happens when the task drops the socket. A task parked on `pending()`, or on a channel
    /// whose last sender it holds itself, never gets there; a `select!` loop that ignores EOF
    /// keeps polling a finished read (spinning a core) or waits on its other branches forever.
    /// Every such client leaves one connection, one file descriptor and its buffers behind
    /// until the process exits; under load they add up to EMFILE and refused connections.
    /// Measured on this rule's fixtures in `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// tokio::spawn(async move {
    ///     let (mut rd, mut wr) = socket.into_split();
    ///     let (tx, mut rx) = mpsc::channel(16);
    ///     tokio::spawn(read_lines(rd, tx.clone()));
    ///     // `tx` is still held here: recv() never returns None, `wr` is never dropped
    ///     while let Some(line) = rx.recv().await {
    ///         wr.write_all(line.as_bytes()).await?;
    ///     }
    /// });
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// tokio::spawn(async move {
    ///     let (mut rd, mut wr) = socket.into_split();
    ///     let (tx, mut rx) = mpsc::channel(16);
    ///     tokio::spawn(read_lines(rd, tx)); // the reader's EOF drops the last sender
    ///     while let Some(line) = rx.recv().await {
    ///         wr.write_all(line.as_bytes()).await?;
    ///     }
    /// });
    /// ```
    pub BLOCKED_WHILE_OWNING {
        code: "RS006",
        name: "blocked-while-owning",
        family: Rust,
        severity: Error,
        summary: "a task that owns a connection waits on something the peer's close cannot end, so the connection stays in CLOSE_WAIT",
        fixable: false,
    }
}

const NOTE: &str = "after the peer's FIN the kernel acknowledges it and the connection sits in CLOSE_WAIT until this process closes its side; the task that owns the socket never reaches the point where it is dropped, so the connection, its file descriptor and its buffers are held until the process exits";

/// What a task waits on that the peer's close does not end.
enum Wait {
    Pending,
    /// The loop's `recv`, the receiver, the sender the task holds.
    OwnSender(String, String),
    /// The `select!` branch's read, the reader, what EOF returns.
    SelectIgnoresEof(String, &'static str),
}

fn report(out: &mut Vec<Diagnostic>, at: Span, wait: &Wait, task: &Task<'_>) {
    let owner = &task.owner;
    let (message, label, help) = match wait {
        Wait::Pending => (
            format!("{owner} waits forever on `pending()`"),
            "`pending()` never completes: the connection is never dropped".to_string(),
            "let the task end (and drop the socket) when the connection is done; to keep something alive, await the thing that should end it (a shutdown signal, the read half reaching EOF) instead of `pending()`".to_string(),
        ),
        Wait::OwnSender(rx, tx) => (
            format!("{owner} loops on `{rx}` while it holds the channel's sender `{tx}`"),
            format!("`{rx}` only ends when every sender is dropped, and this code still holds `{tx}`"),
            format!("move `{tx}` to the task that produces the messages (or `drop({tx})` once it is cloned), so the channel closes when that task ends at EOF"),
        ),
        Wait::SelectIgnoresEof(reader, eof) => (
            format!("{owner} loops on a `select!` that does not end when `{reader}` reaches EOF"),
            if *eof == "Ok(0)" {
                format!("at EOF this returns `{eof}` at once, every time, and the branch neither breaks nor returns: the loop spins with the socket open")
            } else {
                format!("at EOF this returns `{eof}`, and the branch neither breaks nor returns")
            },
            format!("end the loop on EOF in this branch (`{eof} => break`), so the connection is dropped"),
        ),
    };
    let came = match task.origin {
        Origin::Accepted => "the connection is accepted here",
        _ => "the connection is passed in here",
    };
    let mut d = Diagnostic::new(&BLOCKED_WHILE_OWNING, Location::new(0, at), message)
        .primary_label(label)
        .label(Location::new(0, task.site), came);
    if let Some(spawn) = task.spawn {
        d = d.label(
            Location::new(0, spawn),
            "the task that owns it is spawned here",
        );
    }
    out.push(d.note(NOTE).help(help));
}

/// The code that owns a connection while it runs: a spawned task, or a function that takes
/// one by value.
#[derive(Clone)]
struct Task<'a> {
    body: Body<'a>,
    /// The spawned expression (the closure, the async block, the call), or the function body.
    whole: Span,
    owned: Vec<String>,
    /// Who owns it, as the message says it.
    owner: String,
    origin: Origin,
    /// Where the connection was accepted or passed in.
    site: Span,
    spawn: Option<Span>,
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = ctx.analysis.imports();
    let types = ctx.analysis.types();
    let fns = ctx.analysis.non_test_functions();
    let holders = ctx.analysis.holders();
    // Free functions by name; a name defined twice (in two modules, say) is not followed.
    let mut local_fns: HashMap<String, &Function<'_>> = HashMap::new();
    let mut twice = Vec::new();
    for f in fns.iter().filter(|f| f.self_ty.is_none()) {
        if local_fns.insert(f.name.clone(), f).is_some() {
            twice.push(f.name.clone());
        }
    }
    for name in twice {
        local_fns.remove(&name);
    }
    let mut found = Vec::new();
    // Tasks spawned with a connection the spawning function holds.
    for (f, names) in fns.iter().zip(holders) {
        if names.is_empty() {
            continue;
        }
        let mut spawns = Spawns(Vec::new());
        spawns.visit_block(f.block);
        for (spawn, arg) in spawns.0 {
            let body = match arg {
                Expr::Closure(c) if c.capture.is_some() => Body::Expr(&c.body),
                Expr::Async(a) if a.capture.is_some() => Body::Block(&a.block),
                Expr::Call(_) => Body::Expr(arg),
                _ => continue,
            };
            // The first holder the task mentions (`let out = stream` makes two names).
            let Some((name, held)) = mentions(body)
                .into_iter()
                .find_map(|(m, _)| names.get(&m).map(|h| (m, h)))
            else {
                continue;
            };
            let owner = match held.origin {
                Origin::Accepted => format!("task that owns the accepted socket `{name}`"),
                _ => format!("task that owns the connection `{name}`"),
            };
            let task = Task {
                body,
                whole: node_span(arg),
                owned: vec![name],
                owner,
                origin: held.origin,
                site: held.site,
                spawn: Some(spawn),
            };
            examine(imports, types, f.block, &task, &local_fns, 0, &mut found);
        }
    }
    // Functions that own a connection themselves: a parameter (`self` included) taken by value
    // whose type owns one.
    for (f, names) in fns.iter().zip(holders) {
        let mut owned: Vec<(String, Span)> = names
            .iter()
            .filter(|(n, h)| h.origin == Origin::Parameter && h.socket == **n)
            .map(|(n, h)| (n.clone(), h.site))
            .collect();
        owned.extend(owning_self(types, f));
        owned.sort_by_key(|(_, site)| site.start);
        let Some((first, site)) = owned.first().cloned() else {
            continue;
        };
        let shown = match &f.self_ty {
            Some(ty) => format!("{ty}::{}", f.name),
            None => f.name.clone(),
        };
        let task = Task {
            body: Body::Block(f.block),
            whole: node_span(f.block),
            owned: owned.into_iter().map(|(n, _)| n).collect(),
            owner: format!("`{shown}`, which owns the connection `{first}`,"),
            origin: Origin::Parameter,
            site,
            spawn: None,
        };
        examine(imports, types, f.block, &task, &local_fns, 0, &mut found);
    }
    // One finding per wait: from the spawning side (it shows the accept and the spawn), else
    // from the function whose own body waits (it names the right function).
    found.sort_by_key(|(_, _, task, depth)| (task.spawn.is_none(), *depth));
    let mut seen = HashSet::new();
    for (at, wait, task, _) in &found {
        if seen.insert(at.start) {
            report(out, *at, wait, task);
        }
    }
}

/// `self` taken by value in a method of a type that owns a connection.
fn owning_self(types: &TypeModel<'_>, f: &Function<'_>) -> Option<(String, Span)> {
    let Some(FnArg::Receiver(r)) = f.sig.inputs.first() else {
        return None;
    };
    let ty: syn::Type = syn::parse_str(f.self_ty.as_deref()?).ok()?;
    let by_value = matches!(r.kind, syn::ReceiverKind::Value);
    (by_value && types.owns_connection(&ty, &types.scope(&f.generics())))
        .then(|| ("self".to_string(), node_span(r)))
}

/// Looks for waits in `task` (and one level into a function of the file it passes the socket
/// to). `spawner` is the function body the task was spawned from.
fn examine<'t>(
    imports: &Imports,
    types: &TypeModel<'_>,
    spawner: &Block,
    task: &Task<'t>,
    local_fns: &HashMap<String, &'t Function<'t>>,
    depth: usize,
    found: &mut Vec<(Span, Wait, Task<'t>, usize)>,
) {
    let life = Lifetimes::of(task.body, &task.owned, types.owning_fields());
    let mut waits = Waits::default();
    task.body.visit(&mut waits);
    for (at, pos, wait) in waits.found {
        let wait = match wait {
            Found::Pending => Some((at, Wait::Pending)),
            Found::RecvLoop(rx, shown) => {
                own_sender(imports, spawner, task.whole, task.body, &rx, pos)
                    .map(|tx| (at, Wait::OwnSender(shown, tx)))
            }
            Found::Select(mac) => select_ignores_eof(&mac, &life)
                .map(|(at, reader, eof)| (at, Wait::SelectIgnoresEof(reader, eof))),
        };
        if let Some((at, wait)) = wait.filter(|_| life.alive_at(pos)) {
            found.push((at, wait, task.clone(), depth));
        }
    }
    if depth > 0 {
        return;
    }
    // `handle(socket).await` in the task, or `tokio::spawn(handle(socket))`.
    for (callee, index, _) in &life.passed {
        let Some(f) = local_fns.get(callee) else {
            continue;
        };
        let Some(FnArg::Typed(param)) = f.sig.inputs.iter().nth(*index) else {
            continue;
        };
        let Pat::Ident(p) = &*param.pat else { continue };
        let inner = Task {
            body: Body::Block(f.block),
            whole: node_span(f.block),
            owned: vec![p.ident.to_string()],
            ..task.clone()
        };
        examine(imports, types, f.block, &inner, local_fns, 1, found);
    }
}
