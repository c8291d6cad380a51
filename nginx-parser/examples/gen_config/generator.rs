//! A deterministic generator of large, realistic nginx configurations for benchmarks.
//!
//! Shared by the `gen_config` example and the `parse` benchmark (included there with
//! `#[path]`). The output is syntactically valid nginx (and parses without errors with both
//! waitlint and crossplane); directive semantics are plausible but not checked. The same
//! `target` size always gives the same bytes: the random numbers come from a fixed-seed
//! xorshift, not from the environment.
//!
//! What it contains, in proportions close to real fleets of virtual hosts: an `http {}` with
//! thousands of `server {}` blocks (listen, server_name, many `location` blocks, prefix, exact and
//! regex locations such as `location ~* \.(gif|jpg)$`, quoted regexes with `{n,m}`, `if`
//! conditions, `proxy_pass`/`proxy_set_header`, quoted strings with escapes, `add_header X "a b"`),
//! `upstream` blocks, long `map` tables (up to thousands of lines), `content_by_lua_block`
//! bodies with braces in Lua strings and `--` comments, `# comments` and multi-line quoted
//! `log_format` strings.

use std::fmt::Write as _;

/// The seed of the generator: changing it changes every generated file.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A configuration of about `target` bytes (never less; at most a few kilobytes more).
pub fn generate(target: usize) -> Vec<u8> {
    let mut g = Gen {
        rng: Rng(SEED),
        out: String::with_capacity(target + 64 * 1024),
        servers: 0,
        upstreams: 0,
        maps: 0,
    };
    g.preamble();
    // Leave room for the `}` that closes `http`.
    while g.out.len() + 2 < target {
        match g.rng.below(100) {
            0..=3 => g.map(),
            4..=9 => g.upstream(),
            10..=11 => g.log_format(),
            _ => g.server(),
        }
    }
    g.out.push_str("}\n");
    g.out.into_bytes()
}

/// xorshift64*: tiny, fast and good enough to vary names and shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 32) % n
    }

    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const WORDS: &[&str] = &[
    "shop", "api", "blog", "cdn", "auth", "media", "static", "admin", "mail", "docs", "status",
    "search", "pay", "cart", "news", "forum", "wiki", "files", "img", "video", "live", "beta",
    "stage", "internal", "partner", "mobile", "gw", "edge", "app", "portal", "assets", "login",
];
const TLDS: &[&str] = &["com", "net", "org", "io", "de", "fr", "co.uk", "example"];
const SEGMENTS: &[&str] = &[
    "users", "orders", "items", "products", "accounts", "sessions", "reports", "events", "tags",
    "comments", "invoices", "images", "uploads", "v1", "v2", "feeds", "health", "metrics",
];
const EXTENSIONS: &[&str] = &[
    "gif|jpg|jpeg|png|webp|ico",
    "css|js|map",
    "woff|woff2|ttf|eot|otf",
    "mp4|webm|ogg|mp3",
    "pdf|zip|tar|gz",
    "svg|svgz",
];
const AGENTS: &[&str] = &[
    "googlebot",
    "bingbot",
    "yandex",
    "baiduspider",
    "duckduckbot",
    "slurp",
    "facebookexternalhit",
    "curl/",
    "python-requests",
    "Go-http-client",
];

struct Gen {
    rng: Rng,
    out: String,
    servers: u64,
    upstreams: u64,
    maps: u64,
}

/// `writeln!` into the generator's output at an indentation level (4 spaces per level).
macro_rules! emit {
    ($g:expr, $depth:expr, $($fmt:tt)*) => {{
        $g.indent($depth);
        writeln!($g.out, $($fmt)*).expect("writing to a String cannot fail");
    }};
}

impl Gen {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("    ");
        }
    }

    fn word(&mut self) -> &'static str {
        self.rng.pick(WORDS)
    }

    fn host(&mut self) -> String {
        let a = self.word();
        let b = self.word();
        let n = self.rng.below(1000);
        let tld = self.rng.pick(TLDS);
        format!("{a}-{b}{n}.{tld}")
    }

    fn path(&mut self) -> String {
        let mut p = String::new();
        for _ in 0..self.rng.range(1, 3) {
            p.push('/');
            p.push_str(self.rng.pick(SEGMENTS));
        }
        p
    }

    fn backend(&mut self) -> String {
        let n = self.rng.below(self.upstreams.max(1));
        format!("backend_{n}")
    }

    fn ip(&mut self) -> String {
        let (b, c, d) = (
            self.rng.below(256),
            self.rng.below(256),
            self.rng.range(1, 254),
        );
        format!("10.{b}.{c}.{d}")
    }

    fn preamble(&mut self) {
        emit!(
            self,
            0,
            "# Benchmark configuration generated by nginx-parser/examples/gen_config."
        );
        emit!(
            self,
            0,
            "# Syntactically valid nginx; the values are plausible, not checked."
        );
        emit!(self, 0, "user www-data;");
        emit!(self, 0, "worker_processes auto;");
        emit!(self, 0, "worker_rlimit_nofile 65535;");
        emit!(self, 0, "pid /run/nginx.pid;");
        emit!(self, 0, "error_log /var/log/nginx/error.log warn;");
        emit!(self, 0, "");
        emit!(self, 0, "events {{");
        emit!(self, 1, "worker_connections 4096; # per worker");
        emit!(self, 1, "multi_accept on;");
        emit!(self, 0, "}}");
        emit!(self, 0, "");
        emit!(self, 0, "http {{");
        emit!(self, 1, "include /etc/nginx/mime.types;");
        emit!(self, 1, "default_type application/octet-stream;");
        emit!(self, 1, "sendfile on;");
        emit!(self, 1, "tcp_nopush on;");
        emit!(self, 1, "keepalive_timeout 65s;");
        emit!(self, 1, "keepalive_requests 1000;");
        emit!(self, 1, "server_tokens off;");
        emit!(self, 1, "client_max_body_size 16m;");
        emit!(self, 1, "gzip on;");
        emit!(
            self,
            1,
            "gzip_types text/plain text/css application/json application/javascript;"
        );
        emit!(
            self,
            1,
            "lua_package_path \"/usr/local/openresty/lualib/?.lua;;\";"
        );
        emit!(self, 1, "init_by_lua_block {{");
        emit!(
            self,
            2,
            "-- shared state for every worker {{ not a block }}"
        );
        emit!(self, 2, "cjson = require \"cjson.safe\"");
        emit!(
            self,
            2,
            "limits = {{ default = 100, burst = 20, note = \"}} in a string\" }}"
        );
        emit!(self, 1, "}}");
        self.log_format_main("main");
        self.log_format();
        emit!(self, 1, "access_log /var/log/nginx/access.log main;");
        emit!(self, 0, "");
    }

    /// A `log_format` with a quoted string per line, or one quoted string spanning lines.
    fn log_format(&mut self) {
        let n = self.rng.below(10_000);
        if self.rng.chance(50) {
            self.log_format_main(&format!("main_{n}"));
            return;
        }
        emit!(self, 1, "log_format json_{n} escape=json '{{");
        for field in [
            "time_iso8601",
            "remote_addr",
            "request_method",
            "request_uri",
            "status",
            "body_bytes_sent",
            "request_time",
            "upstream_response_time",
            "http_user_agent",
        ] {
            emit!(self, 2, "\"{field}\": \"${field}\",");
        }
        emit!(self, 2, "\"host\": \"$host\"");
        emit!(self, 1, "}}';");
        emit!(self, 0, "");
    }

    fn log_format_main(&mut self, name: &str) {
        emit!(
            self,
            1,
            "log_format {name} '$remote_addr - $remote_user [$time_local] \"$request\" '"
        );
        emit!(self, 1, "    '$status $body_bytes_sent \"$http_referer\" '");
        emit!(
            self,
            1,
            "    '\"$http_user_agent\" \"$http_x_forwarded_for\" rt=$request_time';"
        );
        emit!(self, 0, "");
    }

    fn upstream(&mut self) {
        let id = self.upstreams;
        self.upstreams += 1;
        emit!(self, 1, "upstream backend_{id} {{");
        match self.rng.below(3) {
            0 => emit!(self, 2, "least_conn;"),
            1 => emit!(self, 2, "ip_hash;"),
            _ => emit!(self, 2, "hash $request_uri consistent;"),
        }
        for _ in 0..self.rng.range(2, 12) {
            let ip = self.ip();
            let port = self.rng.pick(&["8080", "8000", "9000", "3000"]);
            match self.rng.below(4) {
                0 => emit!(self, 2, "server {ip}:{port} backup;"),
                1 => {
                    let w = self.rng.range(1, 10);
                    emit!(
                        self,
                        2,
                        "server {ip}:{port} weight={w} max_fails=3 fail_timeout=30s;"
                    );
                }
                _ => emit!(self, 2, "server {ip}:{port};"),
            }
        }
        emit!(self, 2, "keepalive {};", self.rng.pick(&["16", "32", "64"]));
        emit!(self, 2, "keepalive_timeout 60s;");
        emit!(self, 1, "}}");
        emit!(self, 0, "");
    }

    /// A `map` table: redirects, user agents or hostnames, from a handful to thousands of lines.
    fn map(&mut self) {
        let id = self.maps;
        self.maps += 1;
        let lines = if self.rng.chance(30) {
            self.rng.range(1000, 5000)
        } else {
            self.rng.range(20, 600)
        };
        match self.rng.below(3) {
            0 => {
                emit!(self, 1, "# redirects table {id}");
                emit!(self, 1, "map $request_uri $redirect_{id} {{");
                emit!(self, 2, "default \"\";");
                for i in 0..lines {
                    let from = self.path();
                    let to = self.path();
                    match self.rng.below(8) {
                        0 => emit!(self, 2, "~^{from}/(?<slug>[a-z0-9-]+)$ {to}/$slug;"),
                        1 => emit!(self, 2, "\"~*^{from}/(\\d+)\\.html$\" {to}/$1;"),
                        _ => emit!(self, 2, "{from}/page-{i} {to}/{i};"),
                    }
                }
            }
            1 => {
                emit!(self, 1, "map $http_user_agent $is_bot_{id} {{");
                emit!(self, 2, "default 0;");
                for i in 0..lines {
                    let agent = self.rng.pick(AGENTS);
                    emit!(self, 2, "\"~*{agent}.{i}\" 1; # crawler {i}");
                }
            }
            _ => {
                emit!(self, 1, "map $host $site_{id} {{");
                emit!(self, 2, "hostnames;");
                emit!(self, 2, "default 'unknown site';");
                for _ in 0..lines {
                    let host = self.host();
                    let word = self.word();
                    if self.rng.chance(20) {
                        emit!(self, 2, "*.{host} \"{word} (wildcard)\";");
                    } else {
                        emit!(self, 2, "{host} {word};");
                    }
                }
            }
        }
        emit!(self, 1, "}}");
        emit!(self, 0, "");
    }

    fn server(&mut self) {
        let id = self.servers;
        self.servers += 1;
        let host = self.host();
        let site = host.split('.').next().unwrap_or("site").to_string();
        emit!(self, 1, "# site {id}: {host}");
        emit!(self, 1, "server {{");
        emit!(self, 2, "listen 80;");
        emit!(self, 2, "listen [::]:80;");
        if self.rng.chance(70) {
            emit!(self, 2, "listen 443 ssl http2;");
            emit!(self, 2, "ssl_certificate /etc/ssl/certs/{site}.pem;");
            emit!(self, 2, "ssl_certificate_key /etc/ssl/private/{site}.key;");
            emit!(self, 2, "ssl_protocols TLSv1.2 TLSv1.3;");
            emit!(
                self,
                2,
                "ssl_ciphers 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256';"
            );
            emit!(
                self,
                2,
                "add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains\" always;"
            );
        }
        let alias = self.host();
        emit!(self, 2, "server_name {host} www.{host} *.{alias};");
        emit!(self, 2, "root /srv/www/{site}/public;");
        emit!(self, 2, "index index.html index.htm index.php;");
        emit!(
            self,
            2,
            "access_log /var/log/nginx/{site}.access.log main buffer=32k flush=5s;"
        );
        emit!(self, 2, "error_log /var/log/nginx/{site}.error.log;");
        emit!(self, 2, "keepalive_timeout {}s;", self.rng.range(5, 120));
        emit!(self, 2, "add_header X-Frame-Options \"SAMEORIGIN\";");
        emit!(self, 2, "add_header X-Served-By \"web {}\";", id % 64);
        emit!(
            self,
            2,
            "add_header Content-Security-Policy \"default-src 'self'; img-src * data:\";"
        );
        emit!(
            self,
            2,
            "set $cache_key \"${{scheme}}://${{host}}${{request_uri}}\";"
        );
        if self.rng.chance(60) {
            emit!(self, 2, "if ($request_method = POST) {{");
            emit!(self, 3, "return 405;");
            emit!(self, 2, "}}");
        }
        if self.rng.chance(30) {
            emit!(self, 2, "if ($http_x_forwarded_proto != \"https\") {{");
            emit!(self, 3, "return 301 https://$host$request_uri;");
            emit!(self, 2, "}}");
        }
        emit!(self, 2, "location / {{");
        emit!(self, 3, "try_files $uri $uri/ /index.php?$query_string;");
        emit!(self, 2, "}}");
        for _ in 0..self.rng.range(4, 24) {
            self.location(3);
        }
        emit!(self, 2, "error_page 500 502 503 504 /50x.html;");
        emit!(
            self,
            2,
            "location = /50x.html {{ root /usr/share/nginx/html; }}"
        );
        emit!(self, 1, "}}");
        emit!(self, 0, "");
    }

    /// One `location` block at `depth` (its directives are at `depth`, the block at `depth - 1`).
    fn location(&mut self, depth: usize) {
        let outer = depth - 1;
        match self.rng.below(10) {
            0 | 1 => {
                let ext = self.rng.pick(EXTENSIONS);
                emit!(self, outer, "location ~* \\.({ext})$ {{");
                emit!(self, depth, "expires {}d;", self.rng.range(1, 365));
                emit!(
                    self,
                    depth,
                    "add_header Cache-Control \"public, max-age=2592000\";"
                );
                emit!(self, depth, "access_log off; # static files are not logged");
                emit!(self, depth, "try_files $uri =404;");
            }
            2 | 3 => {
                let a = self.rng.pick(SEGMENTS);
                let b = self.rng.pick(SEGMENTS);
                emit!(
                    self,
                    outer,
                    "location ~ \"^/api/v[0-9]{{1,2}}/({a}|{b})/([0-9]+)$\" {{"
                );
                self.proxy(depth);
                emit!(self, depth, "proxy_set_header X-Resource-Id $2;");
            }
            4 | 5 => {
                let p = self.path();
                emit!(self, outer, "location {p}/ {{");
                emit!(self, depth, "if ($http_authorization = \"\") {{");
                emit!(
                    self,
                    depth + 1,
                    "return 401 \"{{\\\"error\\\": \\\"unauthorized\\\", \\\"path\\\": \\\"{p}\\\"}}\\n\";"
                );
                emit!(self, depth, "}}");
                self.proxy(depth);
                if self.rng.chance(40) {
                    emit!(self, depth, "limit_req zone=api burst=20 nodelay;");
                }
            }
            6 => {
                let p = self.path();
                emit!(self, outer, "location = {p}/healthz {{");
                emit!(self, depth, "access_log off;");
                emit!(self, depth, "default_type text/plain;");
                emit!(self, depth, "return 200 'ok\\n';");
            }
            7 => {
                let p = self.path();
                emit!(self, outer, "location {p}/lua {{");
                emit!(self, depth, "default_type application/json;");
                self.lua(depth);
            }
            8 => {
                let p = self.path();
                let site = self.word();
                emit!(self, outer, "location ^~ /static{p}/ {{");
                emit!(self, depth, "alias /srv/static/{site}{p}/;");
                emit!(self, depth, "autoindex off;");
                emit!(self, depth, "location ~ \\.php$ {{ deny all; }}");
            }
            _ => {
                let p = self.path();
                emit!(self, outer, "location {p} {{");
                emit!(self, depth, "rewrite ^{p}/old/(.*)$ {p}/new/$1 permanent;");
                let backend = self.backend();
                emit!(self, depth, "proxy_pass http://{backend}/;");
                emit!(self, depth, "proxy_set_header Host $host;");
                emit!(self, depth, "proxy_intercept_errors on;");
                emit!(self, depth, "error_page 404 = @fallback;");
            }
        }
        emit!(self, outer, "}}");
    }

    fn proxy(&mut self, depth: usize) {
        let backend = self.backend();
        emit!(self, depth, "proxy_pass http://{backend};");
        emit!(self, depth, "proxy_http_version 1.1;");
        emit!(self, depth, "proxy_set_header Host $host;");
        emit!(self, depth, "proxy_set_header X-Real-IP $remote_addr;");
        emit!(
            self,
            depth,
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
        );
        emit!(self, depth, "proxy_set_header X-Forwarded-Proto $scheme;");
        emit!(self, depth, "proxy_set_header Connection \"\";");
        emit!(self, depth, "proxy_connect_timeout 5s;");
        let timeout = self.rng.range(10, 300);
        emit!(self, depth, "proxy_read_timeout {timeout}s;");
        emit!(self, depth, "proxy_buffering on;");
    }

    /// A `content_by_lua_block` whose body has braces inside strings, tables and `--` comments.
    /// (No escaped quotes and no long brackets with braces: crossplane's Lua lexer reads neither.)
    fn lua(&mut self, depth: usize) {
        let n = self.rng.below(100);
        emit!(self, depth, "content_by_lua_block {{");
        let d = depth + 1;
        emit!(
            self,
            d,
            "-- answer with a JSON document }} (a brace in a comment)"
        );
        emit!(self, d, "local args = ngx.req.get_uri_args()");
        emit!(
            self,
            d,
            "local t = {{ name = args.name or \"world\", greeting = 'hi {{there}}', n = {n} }}"
        );
        emit!(self, d, "if t.name == \"\" then");
        emit!(self, d + 1, "ngx.status = 400");
        emit!(
            self,
            d + 1,
            "ngx.say('{{\"error\": \"empty name\"}}') -- }} again"
        );
        emit!(self, d + 1, "return ngx.exit(400)");
        emit!(self, d, "end");
        emit!(self, d, "for i = 1, t.n do");
        emit!(
            self,
            d + 1,
            "t[i] = {{ index = i, label = \"item \" .. i }}"
        );
        emit!(self, d, "end");
        emit!(self, d, "local note = [[a long string without braces]]");
        emit!(
            self,
            d,
            "ngx.say(cjson.encode({{ hello = t.name, note = note }}))"
        );
        emit!(self, depth, "}}");
    }
}
