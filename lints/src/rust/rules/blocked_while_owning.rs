use std::collections::HashMap;

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Pat};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::ownership::Lifetimes;
use crate::rust::flow::tasks::{mentions, Body, Spawns};
use crate::rust::flow::waits::{own_sender, select_ignores_eof, Found, Waits};
use crate::rust::model::sockets::{accepted_names, Function, Imports, Shape};
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags a task or thread that owns an accepted connection and then waits on something the
    /// peer's close cannot end. The connection is followed from `accept()` into the closure or
    /// async block given to `tokio::spawn`, `thread::spawn`, `spawn_local`, `task::spawn`...
    /// (and one level into a function of the file that the socket is passed to), through
    /// `into_split()`, `split()`, `BufReader::new(..)` and the like. While the socket (or one of
    /// its halves) is still held, the task:
    /// - awaits `std::future::pending()` (or `futures::future::pending()`);
    /// - loops on `rx.recv()` (`while let Some(m) = rx.recv().await`, `for m in rx`) of an mpsc
    ///   channel whose sender `tx` it holds itself (created in the task or moved into it, never
    ///   moved elsewhere or dropped), with no `break` or `return` in the loop;
    /// - runs a `loop` around `tokio::select!` / `futures::select!` whose branch that reads
    ///   the socket does not finish the task at EOF: a `read` whose `Ok(0)` is neither matched
    ///   nor compared, a `next()` whose `None` is ignored, with no `break` or `return`.
    ///
    /// Anything the analysis cannot see (the sender given to another task, a `while` condition,
    /// an `else` branch, a function of the crate given the read result) counts as a way out.
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

fn report(out: &mut Vec<Diagnostic>, at: Span, wait: &Wait, socket: &str, task: &Task<'_>) {
    let (message, label, help) = match wait {
        Wait::Pending => (
            format!("task that owns the accepted socket `{socket}` waits forever on `pending()`"),
            "`pending()` never completes: the task never drops the socket".to_string(),
            "let the task end (and drop the socket) when the connection is done; to keep something alive, await the thing that should end it (a shutdown signal, the read half reaching EOF) instead of `pending()`".to_string(),
        ),
        Wait::OwnSender(rx, tx) => (
            format!("task that owns the accepted socket `{socket}` loops on `{rx}` while it holds the channel's sender `{tx}`"),
            format!("`{rx}` only ends when every sender is dropped, and this task still holds `{tx}`"),
            format!("move `{tx}` to the task that produces the messages (or `drop({tx})` once it is cloned), so the channel closes when that task ends at EOF"),
        ),
        Wait::SelectIgnoresEof(reader, eof) => (
            format!("`select!` loop of a task that owns the accepted socket `{socket}` does not end when `{reader}` reaches EOF"),
            if *eof == "Ok(0)" {
                format!("at EOF this returns `{eof}` at once, every time, and the branch neither breaks nor returns: the loop spins with the socket open")
            } else {
                format!("at EOF this returns `{eof}`, and the branch neither breaks nor returns")
            },
            format!("end the task on EOF in this branch (`{eof} => break`), so it drops the socket"),
        ),
    };
    out.push(
        Diagnostic::new(&BLOCKED_WHILE_OWNING, Location::new(0, at), message)
            .primary_label(label)
            .label(
                Location::new(0, task.accept),
                "the connection is accepted here",
            )
            .label(
                Location::new(0, task.spawn),
                "the task that owns it is spawned here",
            )
            .note(NOTE)
            .help(help),
    );
}

/// The code a spawned task runs, with the names that own the connection when it starts.
struct Task<'a> {
    body: Body<'a>,
    /// The spawned expression (the closure, the async block, the call).
    whole: Span,
    owned: Vec<String>,
    accept: Span,
    spawn: Span,
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = ctx.analysis.imports();
    let fns = ctx.analysis.functions();
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
    for f in fns.iter().filter(|f| !f.is_test) {
        let accepted = accepted_names(imports, f.block);
        if !accepted.values().any(|a| a.shape == Shape::Socket) {
            continue;
        }
        let mut spawns = Spawns(Vec::new());
        spawns.visit_block(f.block);
        for (spawn, arg) in spawns.0 {
            let task = match arg {
                Expr::Closure(c) if c.capture.is_some() => Body::Expr(&c.body),
                Expr::Async(a) if a.capture.is_some() => Body::Block(&a.block),
                Expr::Call(_) => Body::Expr(arg),
                _ => continue,
            };
            let captured = mentions(task);
            // The first accepted socket the task mentions (`let out = stream` makes two names).
            let Some((name, accept)) = captured.iter().find_map(|(m, _)| {
                accepted
                    .get(m)
                    .filter(|a| a.shape == Shape::Socket)
                    .map(|a| (m.clone(), a.site))
            }) else {
                continue;
            };
            let task = Task {
                body: task,
                whole: node_span(arg),
                owned: vec![name.clone()],
                accept,
                spawn,
            };
            examine(imports, f.block, &task, &local_fns, &name, 0, out);
        }
    }
}

/// Looks for waits in `task` (and one level into a function of the file it passes the socket
/// to). `spawner` is the function body the task was spawned from.
fn examine(
    imports: &Imports,
    spawner: &Block,
    task: &Task<'_>,
    local_fns: &HashMap<String, &Function<'_>>,
    socket: &str,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    let life = Lifetimes::of(task.body, &task.owned);
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
            report(out, at, &wait, socket, task);
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
        let Some(syn::FnArg::Typed(param)) = f.sig.inputs.iter().nth(*index) else {
            continue;
        };
        let Pat::Ident(p) = &*param.pat else { continue };
        let inner = Task {
            body: Body::Block(f.block),
            whole: node_span(f.block),
            owned: vec![p.ident.to_string()],
            accept: task.accept,
            spawn: task.spawn,
        };
        examine(imports, f.block, &inner, local_fns, socket, 1, out);
    }
}
