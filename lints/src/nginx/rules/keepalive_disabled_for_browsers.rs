use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::effective::{self, Setting};
use crate::nginx::rules::client_keepalive::{self as ka, Disable};
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags `keepalive_disable` when its values include `safari` (`keepalive_disable safari`,
    /// `keepalive_disable msie6 safari`, in any case), where it takes effect in `http`, `server`
    /// or `location` blocks; a value every server and location below overrides is reported only
    /// as information. `msie6` alone (nginx's default, which only affects POST requests from
    /// MSIE 6) and `none` are fine. Several `keepalive_disable` lines in one block add up, as in
    /// nginx. Invalid values are `invalid-keepalive-value` (NGX011).
    ///
    /// ## Why is this bad?
    /// nginx recognises Safari by its User-Agent: `Safari/` and `Mac OS X`, without `Chrome/` or
    /// `Gecko/`. That is Safari on macOS and iOS, and most other iOS browsers too (Chrome for
    /// iOS sends `CriOS/`, not `Chrome/`). For every such HTTP/1.x request nginx answers
    /// `Connection: close` and closes the connection itself. The side that closes first keeps the
    /// socket in TIME_WAIT for 60 seconds on Linux, so the server holds one TIME_WAIT socket per
    /// request from these clients (at 100 such requests a second, about 6 000 at any time), and
    /// each request pays a new TCP (and TLS) handshake. HTTP/2 connections are not affected.
    ///
    /// The `safari` value works around an old WebKit bug (webkit.org bug 5760: Safari could
    /// send a POST on a connection the server had just closed) and has not been part of nginx's
    /// default since 1.1.18.
    ///
    /// Measured (`docs/evidence.md`, nginx 1.22.1 on loopback): under `keepalive_disable msie6
    /// safari`, 50 requests with the User-Agent of Safari on macOS, or of Chrome for iOS, took 50
    /// connections and left 50 TIME_WAIT sockets on nginx; desktop Chrome's kept one connection;
    /// under `msie6`, Safari's did too.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_disable msie6 safari;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// http {
    ///     keepalive_disable msie6;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    pub KEEPALIVE_DISABLED_FOR_BROWSERS {
        code: "NGX005",
        name: "keepalive-disabled-for-browsers",
        family: Nginx,
        severity: Warning,
        summary: "keepalive_disable safari, so nginx closes HTTP/1.x connections from Safari and most iOS browsers after every request and holds their TIME_WAIT",
        fixable: true,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for setting in effective::settings(&ctx.model, "keepalive_disable") {
        // The values of every keepalive_disable of that block add up.
        let entries = ctx.model.local_all(setting.node, "keepalive_disable");
        let Some(values) = entries
            .iter()
            .map(|e| ka::keepalive_disable(e.directive))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        if !values.iter().flatten().any(|&v| v == Disable::Safari) {
            continue;
        }
        if setting.is_dead() {
            out.push(effective::dead(
                &KEEPALIVE_DISABLED_FOR_BROWSERS,
                &ctx.model,
                &setting,
            ));
            continue;
        }
        out.push(report(ctx, &setting, &entries));
    }
}

fn report(
    ctx: &Context<'_>,
    setting: &Setting<'_>,
    entries: &[crate::nginx::Entry<'_>],
) -> Diagnostic {
    let (entry, safari) = entries
        .iter()
        .find_map(|e| {
            let arg = e
                .directive
                .args
                .iter()
                .find(|a| ka::disable_value(a) == Some(Disable::Safari))?;
            Some((e, arg))
        })
        .expect("check found safari in one of them");
    let mut diag = Diagnostic::new(
        &KEEPALIVE_DISABLED_FOR_BROWSERS,
        Location::new(entry.file, safari.span),
        format!(
            "`{}` switches keep-alive off for Safari and most iOS browsers {}",
            entry.directive.head_text(),
            ctx.model.scope_phrase(setting.node)
        ),
    )
    .primary_label("keep-alive off for user agents with `Safari/` and `Mac OS X`")
    .note("for each HTTP/1.x request from these clients nginx answers `Connection: close` and closes first, so the server holds one TIME_WAIT socket per request for 60 s (at 100 such requests a second, about 6 000) and every request pays a new TCP (and TLS) handshake")
    .note("`safari` works around a WebKit bug from Safari's early years and has not been in nginx's default since 1.1.18; the default, `msie6`, only affects POST requests from MSIE 6")
    .help("use `keepalive_disable msie6;` (nginx's default) or remove the directive");
    if let [only] = entries {
        diag = diag.fix(fix(ctx, only));
    }
    effective::label_inheritors(diag, &ctx.model, setting, "keep-alive off for Safari")
}

/// Drops `safari` from the values; `msie6` when nothing is left.
fn fix(ctx: &Context<'_>, entry: &crate::nginx::Entry<'_>) -> Fix {
    let d = entry.directive;
    let text = &ctx.tree.files[entry.file].text;
    let kept: Vec<String> = d
        .args
        .iter()
        .filter(|a| ka::disable_value(a) != Some(Disable::Safari))
        .map(|a| String::from_utf8_lossy(a.raw(text)).into_owned())
        .collect();
    let replacement = if kept.is_empty() {
        "msie6".to_string()
    } else {
        kept.join(" ")
    };
    let first = d.args[0].span;
    let last = d.args[d.args.len() - 1].span;
    Fix {
        description: format!("keep only `{replacement}`"),
        edits: vec![Edit {
            location: Location::new(entry.file, first.cover(last)),
            replacement,
        }],
        safe: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn values_add_up_and_fix_keeps_the_others() {
        let s = Settings::default();
        let two = "server { listen 80; keepalive_disable msie6; keepalive_disable SAFARI; }";
        let found = ka::run_on(two, &s, check);
        assert_eq!(found.len(), 1);
        assert!(found[0].fix.is_none());
        let one = "server { listen 80; keepalive_disable none Safari; }";
        let found = ka::run_on(one, &s, check);
        assert_eq!(found[0].fix.as_ref().unwrap().edits[0].replacement, "none");
        for quiet in ["msie6", "none", "msie6 none", "safari chrome"] {
            let conf = format!("server {{ listen 80; keepalive_disable {quiet}; }}");
            assert!(ka::run_on(&conf, &s, check).is_empty(), "{quiet}");
        }
    }
}
