use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::model::ContextKind;
use crate::nginx::rules::client_keepalive::{self as ka, V1_19_10};
use crate::nginx::time::{parse_time, Resolution};
use crate::nginx::{Context, Entry, NodeId};
use crate::settings::NginxVersion;

crate::declare_rule! {
    /// ## What it does
    /// Flags `http2_max_requests`, `http2_idle_timeout` and `http2_recv_timeout` in `http` and
    /// `server` blocks when the assumed nginx version is 1.19.7 or later (`--nginx-version`, or
    /// `nginx_version` in waitlint.toml; 1.22 unless set). On older versions they work and are
    /// not flagged.
    ///
    /// ## Why is this bad?
    /// Since 1.19.7 nginx only warns that they are obsolete (`the "http2_max_requests" directive
    /// is obsolete, use the "keepalive_requests" directive instead`) and ignores them: HTTP/2
    /// connections follow `keepalive_requests`, `keepalive_timeout` and
    /// `client_header_timeout`, like HTTP/1.x ones. Whoever wrote `http2_max_requests 10000`
    /// believes nginx keeps a busy HTTP/2 connection for 10 000 requests; it closes it (GOAWAY)
    /// after `keepalive_requests`, 1000 by default, and being the side that closes first, the
    /// server keeps the socket in TIME_WAIT for 60 seconds: ten times as many as intended.
    /// Likewise `http2_idle_timeout 5m` no longer keeps idle HTTP/2 connections for 5 minutes:
    /// `keepalive_timeout` (75s by default) decides.
    ///
    /// The fix renames `http2_max_requests` to `keepalive_requests` and `http2_idle_timeout` to
    /// `keepalive_timeout` when that block does not already set the replacement, so the value
    /// you wrote takes effect (for HTTP/1.x connections too, as every keep-alive directive does
    /// since 1.19.7). `http2_recv_timeout` has no automatic fix: `client_header_timeout` also
    /// bounds the wait for a request's headers, which is a different setting.
    ///
    /// Checked with `nginx -t` on nginx 1.22.1 (`docs/evidence.md`): each of the three loads with
    /// that warning.
    ///
    /// ## Example
    /// ```nginx
    /// server {
    ///     listen 443 ssl http2;
    ///     ssl_certificate     /etc/nginx/cert.pem;
    ///     ssl_certificate_key /etc/nginx/key.pem;
    ///     http2_max_requests 10000;
    ///     http2_idle_timeout 5m;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// server {
    ///     listen 443 ssl http2;
    ///     ssl_certificate     /etc/nginx/cert.pem;
    ///     ssl_certificate_key /etc/nginx/key.pem;
    ///     keepalive_requests 10000;
    ///     keepalive_timeout 5m;
    /// }
    /// ```
    pub OBSOLETE_HTTP2_DIRECTIVE {
        code: "NGX010",
        name: "obsolete-http2-directive",
        family: Nginx,
        severity: Warning,
        summary: "an http2_* keep-alive directive that nginx ignores since 1.19.7, so the limit it seems to set is not applied",
        fixable: true,
    }
}

const SINCE: NginxVersion = NginxVersion(1, 19, 7);

/// Obsolete directive, its replacement, and what the replacement decides for HTTP/2.
const OBSOLETE: &[(&str, &str, &str)] = &[
    (
        "http2_max_requests",
        "keepalive_requests",
        "after how many requests nginx closes an HTTP/2 connection (GOAWAY) and holds its TIME_WAIT",
    ),
    (
        "http2_idle_timeout",
        "keepalive_timeout",
        "after how long nginx closes an idle HTTP/2 connection and holds its TIME_WAIT",
    ),
    (
        "http2_recv_timeout",
        "client_header_timeout",
        "how long nginx waits for a request's headers",
    ),
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    if ctx.settings.nginx_version < SINCE {
        return;
    }
    for &(name, replacement, decides) in OBSOLETE {
        for (node, entry) in ka::occurrences(&ctx.model, name) {
            // Elsewhere nginx rejects it as "not allowed here" before reading it.
            if matches!(
                ctx.model.nodes[node].kind,
                ContextKind::Http | ContextKind::Server
            ) {
                out.push(report(ctx, node, entry, replacement, decides));
            }
        }
    }
}

/// nginx's default for a replacement, in the assumed version.
fn default_of(ctx: &Context<'_>, replacement: &str) -> &'static str {
    match replacement {
        "keepalive_requests" if ctx.settings.nginx_version < V1_19_10 => "100",
        "keepalive_requests" => "1000",
        "keepalive_timeout" => "75s",
        _ => "60s",
    }
}

fn report(
    ctx: &Context<'_>,
    node: NodeId,
    entry: Entry<'_>,
    replacement: &str,
    decides: &str,
) -> Diagnostic {
    let model = &ctx.model;
    let d = entry.directive;
    let name = d.name.text();
    let version = ctx.settings.nginx_version;
    let mut diag = Diagnostic::new(
        &OBSOLETE_HTTP2_DIRECTIVE,
        Location::new(entry.file, d.name.span),
        format!(
            "`{}` is ignored by nginx {version}: the directive is obsolete since 1.19.7",
            d.head_text()
        ),
    )
    .primary_label(format!(
        "nginx warns `the \"{name}\" directive is obsolete` and ignores it"
    ));
    let current = match model.effective(node, replacement) {
        Some((_, e)) => {
            diag = diag.label(
                e.head(),
                format!("HTTP/2 connections here follow this `{replacement}`"),
            );
            format!("`{}`", e.directive.head_text())
        }
        None => format!("nginx's default of {}", default_of(ctx, replacement)),
    };
    diag = diag.note(format!("`{replacement}` decides {decides}: here that is {current}, not the value written in this line"));
    if let Some(note) = ka::version_note(ctx.settings) {
        diag = diag.note(note);
    }
    let set_here = model.local(node, replacement).is_some();
    if set_here {
        return diag.help(format!(
            "remove it: this block already sets `{replacement}`, which applies to HTTP/2 as well"
        ));
    }
    let args: Vec<String> = d.args.iter().map(|a| a.text().into_owned()).collect();
    diag = diag.help(format!(
        "write `{replacement} {};` instead (it applies to HTTP/1.x connections too)",
        args.join(" ")
    ));
    if let Some(fix) = rename(ctx, node, entry, replacement) {
        diag = diag.fix(fix);
    }
    diag
}

/// Renames the directive when its value is valid for the replacement and it is the only one of
/// its name in the block (two would become a duplicate, which nginx rejects).
fn rename(ctx: &Context<'_>, node: NodeId, entry: Entry<'_>, replacement: &str) -> Option<Fix> {
    let d = entry.directive;
    let [value] = d.args.as_slice() else {
        return None;
    };
    let valid = match replacement {
        "keepalive_requests" => ka::parse_count(&value.value).is_some(),
        "keepalive_timeout" => parse_time(&value.value, Resolution::Milliseconds).is_some(),
        _ => false,
    };
    if !valid || ctx.model.local_all(node, &d.name.text()).len() != 1 {
        return None;
    }
    Some(Fix {
        description: format!("rename `{}` to `{replacement}`", d.name.text()),
        edits: vec![Edit {
            location: Location::new(entry.file, d.name.span),
            replacement: replacement.to_string(),
        }],
        safe: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    const CONF: &str = "http { http2_max_requests 5000; server { listen 443; http2_idle_timeout 5m; keepalive_timeout 30s; http2_recv_timeout 10s; } }";

    #[test]
    fn only_from_1_19_7() {
        let mut s = Settings {
            nginx_version: NginxVersion(1, 19, 6),
            ..Settings::default()
        };
        assert!(ka::run_on(CONF, &s, check).is_empty());
        s.nginx_version = SINCE;
        let found = ka::run_on(CONF, &s, check);
        assert_eq!(found.len(), 3);
        // 1.19.7 to 1.19.9: the old default still applies.
        assert!(
            found[0].notes[0].contains("default of 100"),
            "{:?}",
            found[0].notes
        );
        assert!(found[0].fix.as_ref().is_some_and(|f| f.safe));
        // keepalive_timeout is already set in that server: no rename.
        assert!(found[1].fix.is_none());
        assert!(found[2].fix.is_none());
    }
}
