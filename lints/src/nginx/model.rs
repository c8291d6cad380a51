//! The effective configuration: what nginx will run, not lines in isolation.
//!
//! The model is a tree of contexts (main, http, server, location, if, upstream, stream...) built
//! from a loaded configuration with its includes spliced in. Each context knows the directives
//! set at its own level; [`Model::effective`] answers "which directive applies here", following
//! nginx's inheritance http → server → location → nested location / `if`, and
//! [`Model::effective_group`] does the same for array directives such as `proxy_set_header` and
//! `add_header`, which a level inherits only if it sets none of its own (all or nothing).
//!
//! A fragment linted on its own (a `conf.d/*.conf` of bare `server {}` blocks, a `location`
//! snippet) gets its context inferred from what it contains, so its directives are judged where
//! they would be included.

use nginx_parser::{ConfigTree, Directive, FileId};

use crate::diagnostic::Location;

/// The kind of a context, as nginx's modules define them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextKind {
    Main,
    Events,
    Http,
    /// An http `server`.
    Server,
    Location,
    /// `if` inside a server or location.
    If,
    /// `limit_except` inside a location.
    LimitExcept,
    /// An http `upstream`.
    Upstream,
    /// `stream {}` and everything in it: TCP/UDP proxying, no HTTP keep-alive.
    Stream,
    /// `mail {}` and everything in it.
    Mail,
    /// Any other block (`map`, `types`, `geo`...): not a context rules look into.
    Other,
}

/// How the top level of the main file was understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopLevel {
    /// A full configuration (`http {}`, `events {}` at the top).
    Main,
    /// A fragment included inside `http {}` (bare `server {}`, `upstream {}`, `map {}`).
    Http,
    /// A fragment included inside `server {}` (bare `location {}`, `listen`).
    Server,
    /// A fragment included inside `location {}` (only location-level directives).
    Location,
}

/// One directive of the configuration: the file it was written in and the directive.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'t> {
    pub file: FileId,
    pub directive: &'t Directive,
}

impl<'t> Entry<'t> {
    /// The directive's name and arguments, for labels and messages.
    pub fn head(&self) -> Location {
        Location::new(self.file, self.directive.head_span())
    }

    /// The first argument's location, or the name's when there is none.
    pub fn arg_location(&self, index: usize) -> Location {
        let span = self
            .directive
            .arg(index)
            .map_or(self.directive.name.span, |a| a.span);
        Location::new(self.file, span)
    }
}

pub type NodeId = usize;

#[derive(Debug)]
pub struct Node<'t> {
    pub kind: ContextKind,
    /// The block directive that opened the context; `None` for the (possibly inferred) top.
    pub opener: Option<Entry<'t>>,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    /// Directives set at this level (block directives included), includes expanded, in order.
    pub directives: Vec<Entry<'t>>,
}

#[derive(Debug)]
pub struct Model<'t> {
    /// `nodes[0]` is the top level.
    pub nodes: Vec<Node<'t>>,
    pub top_level: TopLevel,
}

/// Directives that only make sense at the top of a full configuration.
const MAIN_ONLY: &[&str] = &[
    "http",
    "events",
    "worker_processes",
    "user",
    "pid",
    "stream",
    "mail",
    "worker_rlimit_nofile",
    "load_module",
];
/// Blocks that live directly in `http`.
const HTTP_BLOCKS: &[&str] = &[
    "server",
    "upstream",
    "map",
    "geo",
    "split_clients",
    "log_format",
];
/// Directives that live directly in `server`.
const SERVER_ONLY: &[&str] = &["location", "listen", "server_name"];

fn infer_top_level(directives: &[Entry<'_>]) -> TopLevel {
    let has = |names: &[&str]| {
        directives
            .iter()
            .any(|e| names.iter().any(|n| e.directive.is(n)))
    };
    if has(MAIN_ONLY) {
        TopLevel::Main
    } else if has(HTTP_BLOCKS) {
        TopLevel::Http
    } else if has(SERVER_ONLY) {
        TopLevel::Server
    } else if directives.is_empty() {
        TopLevel::Main
    } else {
        // A snippet of settings (`proxy_params`, `keepalive_timeout 0;`) could be included at
        // any level; judge it as written at http level, where every such setting is valid.
        TopLevel::Http
    }
}

fn child_kind(parent: ContextKind, d: &Directive) -> ContextKind {
    use ContextKind::*;
    let name = d.name.value.as_ref();
    match (parent, name) {
        (Stream | Mail, _) => parent,
        (Main, b"http") => Http,
        (Main, b"events") => Events,
        (Main, b"stream") => Stream,
        (Main, b"mail") => Mail,
        (Http, b"server") => Server,
        (Http, b"upstream") => Upstream,
        (Server | Location, b"location") => Location,
        (Server | Location, b"if") => If,
        (Location, b"limit_except") => LimitExcept,
        _ => Other,
    }
}

impl<'t> Model<'t> {
    pub fn build(tree: &'t ConfigTree) -> Model<'t> {
        let Some(main) = tree.files.first() else {
            return Model {
                nodes: vec![Node {
                    kind: ContextKind::Main,
                    opener: None,
                    parent: None,
                    children: Vec::new(),
                    directives: Vec::new(),
                }],
                top_level: TopLevel::Main,
            };
        };
        let expand = |file: FileId, ds: &'t [Directive]| -> Vec<Entry<'t>> {
            tree.expand(file, ds)
                .into_iter()
                .map(|(file, directive)| Entry { file, directive })
                .collect()
        };
        let top = expand(0, &main.parse.config.directives);
        let top_level = infer_top_level(&top);
        let top_kind = match top_level {
            TopLevel::Main => ContextKind::Main,
            TopLevel::Http => ContextKind::Http,
            TopLevel::Server => ContextKind::Server,
            TopLevel::Location => ContextKind::Location,
        };
        let mut model = Model {
            nodes: Vec::new(),
            top_level,
        };
        // Iterative: each pending item is (parent node, its directives).
        let mut pending = vec![(None::<NodeId>, None::<Entry<'t>>, top_kind, top)];
        while let Some((parent, opener, kind, directives)) = pending.pop() {
            let id = model.nodes.len();
            if let Some(p) = parent {
                model.nodes[p].children.push(id);
            }
            // Pushed in reverse so the first block is built next: node ids follow source order
            // (depth first, parents before children).
            for e in directives.iter().rev() {
                if let Some(block) = &e.directive.block {
                    let kind = child_kind(kind, e.directive);
                    if kind != ContextKind::Other {
                        pending.push((Some(id), Some(*e), kind, expand(e.file, &block.directives)));
                    }
                }
            }
            model.nodes.push(Node {
                kind,
                opener,
                parent,
                children: Vec::new(),
                directives,
            });
        }
        model
    }

    /// Nodes of a kind, in the order they were built (parents before children).
    pub fn nodes_of(&self, kind: ContextKind) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).filter(move |&i| self.nodes[i].kind == kind)
    }

    /// The first directive named `name` set directly in `node` (nginx rejects most duplicates;
    /// the first is the one it reports as set).
    pub fn local(&self, node: NodeId, name: &str) -> Option<Entry<'t>> {
        self.nodes[node]
            .directives
            .iter()
            .find(|e| e.directive.is(name))
            .copied()
    }

    /// Every directive named `name` set directly in `node`.
    pub fn local_all(&self, node: NodeId, name: &str) -> Vec<Entry<'t>> {
        self.nodes[node]
            .directives
            .iter()
            .filter(|e| e.directive.is(name))
            .copied()
            .collect()
    }

    /// The chain of contexts whose settings `node` inherits, itself first, up to and including
    /// the http (or stream) level.
    pub fn inheritance_chain(&self, node: NodeId) -> Vec<NodeId> {
        let mut chain = vec![node];
        let mut cur = node;
        while let Some(p) = self.nodes[cur].parent {
            match self.nodes[cur].kind {
                ContextKind::Http
                | ContextKind::Stream
                | ContextKind::Mail
                | ContextKind::Upstream => break,
                _ => {}
            }
            chain.push(p);
            cur = p;
        }
        chain
    }

    /// The directive named `name` that applies in `node`: set there, or inherited from the
    /// nearest enclosing context that sets it. Also returns the node that sets it.
    pub fn effective(&self, node: NodeId, name: &str) -> Option<(NodeId, Entry<'t>)> {
        self.inheritance_chain(node)
            .into_iter()
            .find_map(|n| self.local(n, name).map(|e| (n, e)))
    }

    /// For array directives inherited all or nothing (`proxy_set_header`, `add_header`): the
    /// directives of the nearest level that sets any directive of the group.
    pub fn effective_group(&self, node: NodeId, names: &[&str]) -> Vec<Entry<'t>> {
        for n in self.inheritance_chain(node) {
            let found: Vec<Entry<'t>> = self.nodes[n]
                .directives
                .iter()
                .filter(|e| names.iter().any(|name| e.directive.is(name)))
                .copied()
                .collect();
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// The contexts where requests are finally handled: every server and location that does not
    /// contain a location of its own (a server whose every request goes to a location is
    /// judged through its locations). `if` blocks are judged with their location.
    pub fn request_contexts(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&n| {
                matches!(
                    self.nodes[n].kind,
                    ContextKind::Server | ContextKind::Location
                )
            })
            .filter(|&n| {
                !self.nodes[n]
                    .children
                    .iter()
                    .any(|&c| self.nodes[c].kind == ContextKind::Location)
            })
            .collect()
    }

    /// The http `server` a node belongs to (itself for a server).
    pub fn server_of(&self, node: NodeId) -> Option<NodeId> {
        let mut cur = Some(node);
        while let Some(n) = cur {
            if self.nodes[n].kind == ContextKind::Server {
                return Some(n);
            }
            cur = self.nodes[n].parent;
        }
        None
    }

    /// Where to point at a context in a label: its opening directive (`server`, `location /api`).
    pub fn opener_location(&self, node: NodeId) -> Option<Location> {
        self.nodes[node].opener.map(|e| e.head())
    }

    /// Where a node is, for messages: `in this server block`, `at the top of this file (read as
    /// included in http)`.
    pub fn scope_phrase(&self, node: NodeId) -> String {
        match self.nodes[node].opener {
            Some(o) => format!("in this {} block", o.directive.name.text()),
            None => match self.top_level {
                TopLevel::Main => "at the top level".to_string(),
                TopLevel::Http => "in this file, read as included in http".to_string(),
                TopLevel::Server => "in this file, read as included in a server".to_string(),
                TopLevel::Location => "in this file, read as included in a location".to_string(),
            },
        }
    }
}

// Upstreams and the directives that pass requests to them (used by the upstream keep-alive
// rules).

/// Where a `proxy_pass`, `grpc_pass` or `fastcgi_pass` sends requests, as nginx reads the
/// address part of its argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassTarget {
    /// A name without a port (`http://backend`): the `upstream` block of that name, or, when
    /// there is none, a host name nginx resolves at start-up.
    Name(String),
    /// An IP address, or a host with a port (`http://127.0.0.1:8080`, `app:9000`): nginx
    /// connects to it directly (an implicit upstream, never kept alive).
    Address(String),
    /// A unix-domain socket: no TCP, so no TIME_WAIT.
    Unix,
    /// Variables in the scheme or the address (`http://$backend`): known only per request.
    Variable,
    /// Not an address these rules read (a `stream` `proxy_pass` without scheme, a typo).
    Unknown,
}

impl PassTarget {
    pub fn of(d: &Directive) -> PassTarget {
        let Some(arg) = d.arg(0) else {
            return PassTarget::Unknown;
        };
        let value = arg.text();
        let strip = |schemes: &[&str]| {
            schemes.iter().find_map(|s| {
                let head = value.get(..s.len())?;
                head.eq_ignore_ascii_case(s).then(|| &value[s.len()..])
            })
        };
        let address = if d.is("proxy_pass") {
            match strip(&["http://", "https://"]) {
                Some(rest) => rest.split('/').next().unwrap_or(""),
                None if value.contains('$') => return PassTarget::Variable,
                None => return PassTarget::Unknown,
            }
        } else if d.is("grpc_pass") {
            strip(&["grpc://", "grpcs://"]).unwrap_or(&value)
        } else {
            &value
        };
        if address.contains('$') {
            return PassTarget::Variable;
        }
        if address
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("unix:"))
        {
            return PassTarget::Unix;
        }
        if address.is_empty() {
            return PassTarget::Unknown;
        }
        let host = match address.rsplit_once(':') {
            _ if address.starts_with('[') => return PassTarget::Address(address.to_string()),
            Some((_, port)) if !port.is_empty() => return PassTarget::Address(address.to_string()),
            Some((host, _)) => host,
            None => address,
        };
        if host.parse::<std::net::Ipv4Addr>().is_ok() || host.eq_ignore_ascii_case("localhost") {
            PassTarget::Address(address.to_string())
        } else {
            PassTarget::Name(host.to_string())
        }
    }
}

/// The directives that hand requests to a backend over a protocol nginx can keep alive
/// (`uwsgi` and `scgi` have no keep-alive).
pub const KEEPALIVE_PASSES: &[&str] = &["proxy_pass", "grpc_pass", "fastcgi_pass"];

impl<'t> Model<'t> {
    /// The http `upstream` block named `name`; nginx compares the names case-insensitively.
    pub fn upstream_named(&self, name: &str) -> Option<NodeId> {
        self.nodes_of(ContextKind::Upstream).find(|&n| {
            self.nodes[n]
                .opener
                .and_then(|o| o.directive.arg(0))
                .is_some_and(|a| a.text().eq_ignore_ascii_case(name))
        })
    }

    /// Every `proxy_pass`, `grpc_pass` and `fastcgi_pass` of the http family, with the context
    /// (location, `if`, `limit_except`) it is written in.
    pub fn keepalive_passes(&self) -> Vec<(NodeId, Entry<'t>)> {
        let mut out = Vec::new();
        for (id, n) in self.nodes.iter().enumerate() {
            if !matches!(
                n.kind,
                ContextKind::Location | ContextKind::If | ContextKind::LimitExcept
            ) {
                continue;
            }
            for e in &n.directives {
                if KEEPALIVE_PASSES.iter().any(|p| e.directive.is(p)) {
                    out.push((id, *e));
                }
            }
        }
        out
    }

    /// Like [`Model::effective_group`], with the node the group comes from.
    pub fn effective_group_at(
        &self,
        node: NodeId,
        names: &[&str],
    ) -> Option<(NodeId, Vec<Entry<'t>>)> {
        self.inheritance_chain(node).into_iter().find_map(|n| {
            let found: Vec<Entry<'t>> = self.nodes[n]
                .directives
                .iter()
                .filter(|e| names.iter().any(|name| e.directive.is(name)))
                .copied()
                .collect();
            (!found.is_empty()).then_some((n, found))
        })
    }

    /// The `map` block that defines the variable `var` (written with its `$`).
    pub fn map_defining(&self, var: &str) -> Option<Entry<'t>> {
        self.nodes
            .iter()
            .flat_map(|n| n.directives.iter())
            .find(|e| e.directive.is("map") && e.directive.arg(1).is_some_and(|a| a.is(var)))
            .copied()
    }
}

/// An edit that adds `text` (one or more directives) after the directive `after`: on lines of
/// their own with its indentation, or on the same line when something else follows it there
/// (`location / { proxy_pass http://app; }`).
pub fn insert_after(tree: &ConfigTree, after: Entry<'_>, text: &str) -> crate::diagnostic::Edit {
    let source = &tree.files[after.file].text;
    let end = after.directive.span.end as usize;
    let line_start = source[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let indent: String = source[line_start..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .map(|&b| b as char)
        .collect();
    let line_end = source[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| end + i);
    let rest = &source[end..line_end.unwrap_or(source.len())];
    let rest_is_blank =
        rest.iter().all(|b| b.is_ascii_whitespace()) || rest.trim_ascii_start().starts_with(b"#");
    let (at, replacement) = match line_end {
        Some(nl) if rest_is_blank => {
            let lines: String = text.lines().map(|l| format!("{indent}{l}\n")).collect();
            (nl + 1, lines)
        }
        _ => (end, text.lines().map(|l| format!(" {l}")).collect()),
    };
    crate::diagnostic::Edit {
        location: Location::new(after.file, nginx_parser::Span::empty(at)),
        replacement,
    }
}
