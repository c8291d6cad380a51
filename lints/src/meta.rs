//! Findings about the input itself rather than about TIME_WAIT or CLOSE_WAIT: files that do not
//! parse, includes that cannot be followed, suppressions that suppress nothing.

crate::declare_rule! {
    /// ## What it does
    /// Reports a syntax error in an nginx configuration or sysctl file: a missing `;`, an
    /// unbalanced `}`, an unterminated quote, text glued to a closing quote.
    ///
    /// ## Why is this bad?
    /// nginx refuses to start (or to reload) with a configuration it cannot parse, and waitlint
    /// cannot judge what it cannot read: the rest of the file is still checked, but the broken
    /// statement is skipped. The run exits with status 2.
    ///
    /// ## Example
    /// ```nginx
    /// location / {
    ///     proxy_pass http://app
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// location / {
    ///     proxy_pass http://app;
    /// }
    /// ```
    pub SYNTAX_ERROR {
        code: "WL001",
        name: "syntax-error",
        family: Meta,
        severity: Error,
        summary: "the file cannot be parsed the way nginx (or sysctl) would read it",
        fixable: false,
    }
}

crate::declare_rule! {
    /// ## What it does
    /// Reports an `include` that cannot be followed: the file does not exist (for a path
    /// without wildcards), cannot be read, or closes an include cycle.
    ///
    /// ## Why is this bad?
    /// nginx fails to start when a plain include is missing, and recurses until it runs out of
    /// file descriptors on a cycle. waitlint cannot check what it cannot read, so settings made
    /// in the missing file are unknown: findings about inherited values may be incomplete.
    /// Absolute paths (`/etc/nginx/mime.types`) often only exist on the server; exclude them or
    /// lint the configuration where they exist.
    ///
    /// ## Example
    /// ```nginx
    /// include conf.d/upstreams.conf;   # no such file
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// include conf.d/*.conf;           # a glob that matches nothing is not an error
    /// ```
    pub INCLUDE_ERROR {
        code: "WL002",
        name: "include-error",
        family: Meta,
        severity: Warning,
        summary: "an include that cannot be followed (missing file, unreadable, or a cycle)",
        fixable: false,
    }
}

crate::declare_rule! {
    /// ## What it does
    /// Reports a `waitlint: disable=...` (nginx, sysctl) or `waitlint: allow(...)` (Rust)
    /// comment that suppresses nothing: the rule it names did not fire there, or the name is
    /// not a rule.
    ///
    /// ## Why is this bad?
    /// A stale suppression hides the next real finding at that place, and a misspelt one
    /// suppresses nothing while looking as if it did.
    ///
    /// ## Example
    /// ```nginx
    /// keepalive_timeout 65s;  # waitlint: disable=keepalive-disabled
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// keepalive_timeout 65s;
    /// ```
    pub UNUSED_SUPPRESSION {
        code: "WL003",
        name: "unused-suppression",
        family: Meta,
        severity: Info,
        summary: "a suppression comment that suppresses nothing",
        fixable: true,
    }
}

crate::declare_rule! {
    /// ## What it does
    /// Reports a Rust file that `syn` cannot parse (unfinished code, an old edition's syntax,
    /// a nightly-only feature), so that its Rust rules could not run.
    ///
    /// ## Why is this bad?
    /// Nothing in the file was checked. This is information, not a verdict on the code: the
    /// run goes on and the exit status does not change.
    ///
    /// ## Example
    /// ```rust
    /// fn main() {
    ///     let x = ;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// fn main() {
    ///     let x = 1;
    /// }
    /// ```
    pub RUST_PARSE_FAILURE {
        code: "WL004",
        name: "rust-parse-failure",
        family: Meta,
        severity: Info,
        summary: "a rust file that syn cannot parse, so it was not checked",
        fixable: false,
    }
}
