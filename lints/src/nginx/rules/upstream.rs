//! What the upstream keep-alive rules share (upstream-without-keepalive,
//! upstream-keepalive-unused, upstream-keepalive-limits-low): the pool an upstream block keeps,
//! what proxied requests tell the backend about the connection, and so which side closes each
//! connection first and holds its TIME_WAIT.

use crate::nginx::model::{Entry, Model, NodeId, TopLevel};
use crate::nginx::Context;
use crate::settings::{NginxVersion, Settings};

/// From this version upstream blocks keep `keepalive 32 local` by default, `proxy_http_version`
/// defaults to 1.1 and `Connection` is no longer sent.
pub(crate) const KEEPALIVE_DEFAULTS: NginxVersion = NginxVersion(1, 29, 7);

/// The version a message assumed, and how to change it when it was not configured.
pub(crate) fn version_note(settings: &Settings, fact: &str) -> String {
    let v = settings.nginx_version;
    if settings.nginx_version_configured {
        format!("nginx {v} (as configured): {fact}")
    } else {
        format!(
            "nginx {v} assumed (set `--nginx-version` or `nginx_version` in waitlint.toml): {fact}"
        )
    }
}

/// The idle-connection pool of an upstream block.
pub(crate) enum Pool<'t> {
    /// `keepalive N`, N > 0.
    Explicit(Entry<'t>),
    /// No `keepalive` from 1.29.7: `keepalive 32 local`.
    Default,
    /// No `keepalive` before 1.29.7.
    Missing,
    /// `keepalive 0`.
    Zero(Entry<'t>),
}

pub(crate) fn pool<'t>(model: &Model<'t>, settings: &Settings, upstream: NodeId) -> Pool<'t> {
    match model.local(upstream, "keepalive") {
        Some(e) if e.directive.arg(0).is_some_and(|a| a.is("0")) => Pool::Zero(e),
        Some(e) => Pool::Explicit(e),
        None if settings.nginx_version >= KEEPALIVE_DEFAULTS => Pool::Default,
        None => Pool::Missing,
    }
}

/// Whether every `server` of the upstream is a unix-domain socket (no TIME_WAIT at all).
pub(crate) fn unix_only(model: &Model<'_>, upstream: NodeId) -> bool {
    let servers = model.local_all(upstream, "server");
    !servers.is_empty()
        && servers.iter().all(|s| {
            s.directive
                .arg(0)
                .is_some_and(|a| a.text().starts_with("unix:"))
        })
}

/// Which side closes each connection first, and so holds its TIME_WAIT.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Closer {
    Backend,
    Nginx,
    Unknown,
}

/// Who closes first for requests passed by `pass` (written in `node`) without a pool.
pub(crate) fn closer(ctx: &Context<'_>, node: NodeId, pass: Entry<'_>) -> Closer {
    let d = pass.directive;
    if d.is("grpc_pass") {
        Closer::Nginx
    } else if d.is("fastcgi_pass") {
        match ctx.model.effective(node, "fastcgi_keep_conn") {
            Some((_, e)) if e.directive.arg(0).is_some_and(|a| a.is("on")) => Closer::Nginx,
            None if hidden_include(ctx, node) => Closer::Unknown,
            _ => Closer::Backend,
        }
    } else {
        let r = proxy_requests(ctx, node);
        if r.hidden {
            Closer::Unknown
        } else if r.http10.is_some() || r.close.is_some() {
            Closer::Backend
        } else if r.unknown {
            Closer::Unknown
        } else {
            Closer::Nginx
        }
    }
}

pub(crate) fn closer_label(c: Closer, pass: Entry<'_>) -> &'static str {
    match c {
        Closer::Backend if pass.directive.is("fastcgi_pass") => {
            "the FastCGI server closes each connection after its response (no `fastcgi_keep_conn`)"
        }
        Closer::Backend => "the backend closes each connection after its response",
        Closer::Nginx => "nginx closes each connection after its response",
        Closer::Unknown => "which side closes first depends on settings not visible here",
    }
}

pub(crate) fn closer_note(c: Closer) -> Option<&'static str> {
    match c {
        Closer::Backend => Some("the side that closes first holds the TIME_WAIT (60 s): here the backend, one socket per request, costing it memory and `net.ipv4.tcp_max_tw_buckets` slots"),
        Closer::Nginx => Some("the side that closes first holds the TIME_WAIT (60 s): here nginx, each socket holding an ephemeral port toward the backend address; the default range 32768–60999 (28 232 ports) runs out at about 470 new connections per second, then `connect()` fails with EADDRNOTAVAIL and clients get 502"),
        Closer::Unknown => None,
    }
}

pub(crate) const FRAGMENT_NOTE: &str = "which side closes is judged with nginx's defaults: this file is read as included in http, and an including http block that sets `proxy_http_version 1.1` and `proxy_set_header Connection \"\"` makes nginx close instead";

/// What every new connection costs besides its TIME_WAIT.
pub(crate) fn handshake_note(passes: &[Entry<'_>]) -> &'static str {
    let tls = passes.iter().any(|p| {
        p.directive.arg(0).is_some_and(|a| {
            let v = a.text().to_ascii_lowercase();
            v.starts_with("https://") || v.starts_with("grpcs://")
        })
    });
    if tls {
        "every request also waits for a new TCP and TLS handshake with the backend"
    } else {
        "every request also waits for a new TCP handshake with the backend"
    }
}

/// Why a proxied request makes the backend close.
#[derive(Clone, Copy)]
pub(crate) enum Cause<'t> {
    /// nginx's default before 1.29.7.
    Default,
    /// A directive in effect (`proxy_http_version 1.0`, `proxy_set_header Connection close`).
    Explicit(Entry<'t>),
    /// `proxy_set_header Connection $var` and the `map` line giving ordinary requests `close`.
    Map(Entry<'t>, Entry<'t>),
}

/// How the requests of a location look to the backend.
pub(crate) struct ProxyRequests<'t> {
    pub http10: Option<Cause<'t>>,
    pub close: Option<Cause<'t>>,
    /// `Connection` is a variable this rule cannot see through.
    pub unknown: bool,
    /// An inherited `proxy_set_header Connection` that does not apply (all or nothing).
    pub shadowed: Option<Entry<'t>>,
    /// The `proxy_set_header` group in effect and the node that sets it.
    pub headers: Option<(NodeId, Vec<Entry<'t>>)>,
    /// Only nginx defaults decide, and an include that could not be read may change them.
    pub hidden: bool,
    /// Only nginx defaults decide, and this file is a fragment whose including http block may
    /// change them all.
    pub outer: bool,
}

/// Files whose contents are known and set nothing about upstream keep-alive.
const KNOWN_INCLUDES: &[&str] = &[
    "mime.types",
    "fastcgi_params",
    "fastcgi.conf",
    "fastcgi-php.conf",
    "uwsgi_params",
    "scgi_params",
    "koi-utf",
    "koi-win",
    "win-utf",
];

/// Whether an include that could not be read is written in a context `node` inherits from
/// (its settings would apply here, unseen).
pub(crate) fn hidden_include(ctx: &Context<'_>, node: NodeId) -> bool {
    let model = &ctx.model;
    let contains = |outer: nginx_parser::Span, inner: nginx_parser::Span| {
        outer.start <= inner.start && inner.end <= outer.end
    };
    ctx.tree.errors.iter().any(|e| {
        let text =
            String::from_utf8_lossy(&ctx.tree.files[e.file].text[e.span.range()]).into_owned();
        let name = text
            .trim_end_matches(';')
            .rsplit(['/', ' ', '\t'])
            .next()
            .unwrap_or("")
            .trim_matches(['"', '\'']);
        !KNOWN_INCLUDES.contains(&name)
            && model.inheritance_chain(node).into_iter().any(|n| {
                let (file, region) = match model.nodes[n].opener {
                    Some(o) => (o.file, o.directive.span),
                    None => (0, nginx_parser::Span::new(0, ctx.tree.files[0].text.len())),
                };
                file == e.file
                    && contains(region, e.span)
                    && !model.nodes[n].children.iter().any(|&c| {
                        model.nodes[c]
                            .opener
                            .is_some_and(|o| o.file == e.file && contains(o.directive.span, e.span))
                    })
            })
    })
}

pub(crate) fn proxy_requests<'t>(ctx: &Context<'t>, node: NodeId) -> ProxyRequests<'t> {
    let model = &ctx.model;
    let old = ctx.settings.nginx_version < KEEPALIVE_DEFAULTS;
    let http10 = match model.effective(node, "proxy_http_version") {
        Some((_, e)) if e.directive.arg(0).is_some_and(|a| a.is("1.0")) => Some(Cause::Explicit(e)),
        Some(_) => None,
        None => old.then_some(Cause::Default),
    };
    let headers = model.effective_group_at(node, &["proxy_set_header"]);
    let is_connection = |e: &Entry<'_>| {
        e.directive
            .arg(0)
            .is_some_and(|a| a.text().eq_ignore_ascii_case("connection"))
    };
    let mut r = ProxyRequests {
        http10,
        close: None,
        unknown: false,
        shadowed: None,
        headers: None,
        hidden: false,
        outer: false,
    };
    match headers
        .as_ref()
        .and_then(|(_, g)| g.iter().find(|e| is_connection(e)).copied())
    {
        None => {
            r.close = old.then_some(Cause::Default);
            if let Some((at, _)) = &headers {
                let chain = model.inheritance_chain(node);
                r.shadowed = chain
                    .iter()
                    .skip_while(|&&n| n != *at)
                    .skip(1)
                    .find_map(|&n| {
                        model
                            .local_all(n, "proxy_set_header")
                            .into_iter()
                            .find(|e| is_connection(e))
                    });
            }
        }
        Some(e) => {
            let value = e
                .directive
                .arg(1)
                .map(|a| a.text().into_owned())
                .unwrap_or_default();
            if value.eq_ignore_ascii_case("close") {
                r.close = Some(Cause::Explicit(e));
            } else if value.starts_with('$') {
                match model.map_defining(&value) {
                    Some(map) => {
                        // Ordinary requests have no `Upgrade` header: the `''` line applies to
                        // them when the map reads `$http_upgrade`, else `default`.
                        let upgrade = map.directive.arg(0).is_some_and(|a| a.is("$http_upgrade"));
                        let entries = map.directive.children();
                        let line = entries
                            .iter()
                            .find(|l| upgrade && l.name.value.is_empty())
                            .or_else(|| entries.iter().find(|l| l.is("default")));
                        if let Some(l) = line.filter(|l| {
                            l.arg(0)
                                .is_some_and(|a| a.text().eq_ignore_ascii_case("close"))
                        }) {
                            r.close = Some(Cause::Map(
                                e,
                                Entry {
                                    file: map.file,
                                    directive: l,
                                },
                            ));
                        }
                    }
                    None => r.unknown = true,
                }
            }
        }
    }
    let version_default = matches!(r.http10, Some(Cause::Default));
    let close_default = matches!(r.close, Some(Cause::Default));
    // A cause that is not a default defeats the pool whatever an unread include sets.
    let only_defaults = !matches!(r.http10, Some(Cause::Explicit(_)))
        && !matches!(r.close, Some(Cause::Explicit(_) | Cause::Map(..)));
    r.hidden = (version_default || close_default) && only_defaults && hidden_include(ctx, node);
    // Only when every reason is a default the including file could change.
    let version_open = r.http10.is_none() || version_default;
    let close_open = r.close.is_none() || (close_default && headers.is_none());
    r.outer = !r.hidden
        && model.top_level != TopLevel::Main
        && (version_default || close_default)
        && version_open
        && close_open;
    r.headers = headers;
    r
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::settings::Settings;
    use crate::Diagnostic;

    /// The upstream rules' findings on a configuration given as text (a fragment is read as
    /// included in http, as for a file).
    pub(crate) fn lint(conf: &str, settings: &Settings) -> Vec<Diagnostic> {
        let parse = nginx_parser::parse(conf.as_bytes());
        let tree = nginx_parser::ConfigTree {
            files: vec![nginx_parser::SourceFile {
                path: "t.conf".into(),
                text: conf.as_bytes().to_vec(),
                parse,
            }],
            includes: Default::default(),
            errors: Vec::new(),
        };
        crate::nginx::check(&tree, settings)
            .into_iter()
            .filter(|d| d.rule.code >= "NGX007" && d.rule.code <= "NGX009")
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::lint;
    use crate::nginx::model::PassTarget;
    use crate::settings::{NginxVersion, Settings};

    fn at(version: NginxVersion) -> Settings {
        Settings {
            nginx_version: version,
            nginx_version_configured: true,
            ..Settings::default()
        }
    }

    const NEW: NginxVersion = NginxVersion(1, 29, 7);
    const OLD: NginxVersion = NginxVersion(1, 22, 0);

    fn names(conf: &str, version: NginxVersion) -> Vec<&'static str> {
        lint(conf, &at(version))
            .into_iter()
            .map(|d| d.rule.name)
            .collect()
    }

    #[test]
    fn defaults_from_1_29_7_keep_connections() {
        let conf = "upstream app { server 10.0.0.5:8080; } server { location / { proxy_pass http://app; } }";
        assert!(names(conf, NEW).is_empty());
        assert_eq!(names(conf, OLD), ["upstream-without-keepalive"]);
        let conf = "upstream app { server 10.0.0.5:8080; keepalive 8; } server { location / { proxy_pass http://app; } }";
        assert!(names(conf, NEW).is_empty());
        assert_eq!(names(conf, OLD), ["upstream-keepalive-unused"]);
    }

    #[test]
    fn explicit_close_defeats_the_default_pool_from_1_29_7() {
        let conf = "upstream app { server 10.0.0.5:8080; } server { location / { proxy_pass http://app; proxy_set_header Connection close; } }";
        let found = lint(conf, &at(NEW));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("default `keepalive 32 local`"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].notes.iter().all(|n| !n.contains("assumed")),
            "no default was relied on"
        );
        let conf = "upstream app { server 10.0.0.5:8080; } server { location / { proxy_pass http://app; proxy_http_version 1.0; } }";
        assert_eq!(names(conf, NEW), ["upstream-keepalive-unused"]);
    }

    #[test]
    fn keepalive_zero_is_flagged_in_every_version() {
        let conf = "upstream app { server 10.0.0.5:8080; keepalive 0; } server { location / { proxy_pass http://app; } }";
        for v in [OLD, NEW] {
            let found = lint(conf, &at(v));
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(found[0].message.contains("`keepalive 0`"));
        }
    }

    #[test]
    fn addresses_are_never_kept_alive() {
        let conf = "server { location / { proxy_pass http://127.0.0.1:8080; } }";
        assert_eq!(names(conf, NEW), ["upstream-without-keepalive"]);
    }

    #[test]
    fn map_default_decides_unless_the_map_reads_upgrade() {
        let conf = |map: &str| {
            format!("map $x $conn {{ {map} }} upstream app {{ server 10.0.0.5:8080; keepalive 8; }} server {{ location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection $conn; }} }}")
        };
        assert_eq!(
            names(&conf("default close;"), OLD),
            ["upstream-keepalive-unused"]
        );
        assert!(names(&conf("default keep-alive;"), OLD).is_empty());
        assert!(
            names(&conf("default \"\"; '' close;"), OLD).is_empty(),
            "`''` only matters for $http_upgrade"
        );
        assert!(
            names(&conf("hostnames;"), OLD).is_empty(),
            "no default: empty"
        );
    }

    #[test]
    fn pass_targets() {
        let target = |conf: &str| {
            let parse = nginx_parser::parse(conf.as_bytes());
            PassTarget::of(&parse.config.directives[0])
        };
        use PassTarget::*;
        assert_eq!(target("proxy_pass http://app;"), Name("app".into()));
        assert_eq!(
            target("proxy_pass HTTPS://App/v2/$uri;"),
            Name("App".into())
        );
        assert_eq!(
            target("proxy_pass http://127.0.0.1:8080/;"),
            Address("127.0.0.1:8080".into())
        );
        assert_eq!(
            target("proxy_pass http://[::1]:8080;"),
            Address("[::1]:8080".into())
        );
        assert_eq!(
            target("proxy_pass http://10.0.0.1;"),
            Address("10.0.0.1".into())
        );
        assert_eq!(
            target("proxy_pass http://localhost;"),
            Address("localhost".into())
        );
        assert_eq!(target("proxy_pass http://$backend;"), Variable);
        assert_eq!(target("proxy_pass $scheme://app;"), Variable);
        assert_eq!(target("proxy_pass http://unix:/run/app.sock:/;"), Unix);
        assert_eq!(target("proxy_pass backend;"), Unknown);
        assert_eq!(
            target("fastcgi_pass 127.0.0.1:9000;"),
            Address("127.0.0.1:9000".into())
        );
        assert_eq!(target("fastcgi_pass unix:/run/php.sock;"), Unix);
        assert_eq!(target("grpc_pass grpcs://api;"), Name("api".into()));
    }

    #[test]
    fn a_port_after_an_upstream_name_is_not_an_address() {
        let conf = "upstream app { server 10.0.0.5:8080; keepalive 8; } server { location / { proxy_pass http://app:8080; } }";
        assert!(lint(conf, &Settings::default()).is_empty());
    }
}
