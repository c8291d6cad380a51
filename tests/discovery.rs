//! Which files `waitlint check` lints when it walks directories, and as what kind.
//!
//! Every test works in a temporary directory marked as a repository root (`.git`), so no
//! ignore file above it applies, and reads the JSON output: `files_checked` and the files that
//! carry the NGX001 finding each nginx test file has.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// One NGX001 finding when linted as nginx; nothing as sysctl or Rust.
const NGINX: &str = "server {\n    keepalive_timeout 0;\n}\n";
/// Top-level `http` block: sniffed as nginx even where the path says nothing.
const NGINX_HTTP: &str = "http {\n    keepalive_timeout 0;\n}\n";
const SUPERVISORD: &str = "[program:app]\ncommand=/usr/bin/app --port 8080\nautorestart=true\n";
const SYSCTL: &str = "net.ipv4.tcp_fin_timeout = 30\n";
const RUST: &str = "fn main() {}\n";

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(files: &[(&str, &str)]) -> Tree {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let t = Tree { dir };
        for (rel, text) in files {
            t.write(rel, text);
        }
        t
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, cwd: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_waitlint"));
        cmd.current_dir(self.path().join(cwd))
            .arg("check")
            .args(args)
            .args(["--format", "json"]);
        cmd
    }

    /// Runs in `cwd` (relative to the root) and returns what was linted.
    fn run_in(&self, cwd: &str, args: &[&str]) -> Linted {
        let out = self.cmd(cwd, args).output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let flagged = doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "NGX001")
            .map(|d| d["file"].as_str().unwrap().to_string())
            .collect();
        Linted {
            checked: doc["summary"]["files_checked"].as_u64().unwrap(),
            flagged,
            status: out.status.code().unwrap(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            doc,
        }
    }

    fn run(&self, args: &[&str]) -> Linted {
        self.run_in("", args)
    }
}

#[derive(Debug)]
struct Linted {
    checked: u64,
    /// Files with an NGX001 finding: linted as nginx.
    flagged: BTreeSet<String>,
    status: i32,
    stderr: String,
    doc: Value,
}

fn set(files: &[&str]) -> BTreeSet<String> {
    files.iter().map(|s| s.to_string()).collect()
}

// ---- what a walk skips ----

#[test]
fn hidden_directories_and_target_are_skipped() {
    let t = Tree::new(&[
        ("conf.d/a.conf", NGINX),
        (".hidden/conf.d/b.conf", NGINX),
        (".git/conf.d/c.conf", NGINX),
        ("target/conf.d/d.conf", NGINX),
        ("sub/target/nginx.conf", NGINX),
        ("sub/.cache/nginx.conf", NGINX),
        ("targets/nginx.conf", NGINX),
    ]);
    let l = t.run(&["."]);
    assert_eq!(l.flagged, set(&["conf.d/a.conf", "targets/nginx.conf"]));
    assert_eq!(l.checked, 2);
    // Hidden *files* are not skipped; only directories are.
    t.write("conf.d/.hidden.conf", NGINX);
    assert!(t.run(&["."]).flagged.contains("conf.d/.hidden.conf"));
    // A hidden directory or target/ named explicitly is walked.
    assert_eq!(t.run(&[".hidden"]).flagged, set(&[".hidden/conf.d/b.conf"]));
    assert_eq!(t.run(&["target"]).flagged, set(&["target/conf.d/d.conf"]));
}

#[test]
fn gitignore_and_ignore_files_are_respected() {
    let t = Tree::new(&[
        (".gitignore", "generated/\n*.bak.conf\n"),
        ("conf.d/.ignore", "local.conf\n"),
        ("conf.d/a.conf", NGINX),
        ("conf.d/local.conf", NGINX),
        ("conf.d/old.bak.conf", NGINX),
        ("generated/conf.d/g.conf", NGINX),
    ]);
    let l = t.run(&["."]);
    assert_eq!(l.flagged, set(&["conf.d/a.conf"]));
    assert_eq!(l.checked, 1);
    let all = t.run(&[".", "--no-ignore"]);
    assert_eq!(
        all.flagged,
        set(&[
            "conf.d/a.conf",
            "conf.d/local.conf",
            "conf.d/old.bak.conf",
            "generated/conf.d/g.conf"
        ])
    );
    assert_eq!(all.checked, 4);
}

#[test]
fn ignore_files_in_parent_directories_apply_up_to_the_repository_root() {
    let t = Tree::new(&[
        // Above the repository root: must not apply.
        (".gitignore", "*.conf\n"),
        ("repo/.gitignore", "skipped.conf\n"),
        ("repo/.ignore", "also-skipped.conf\n"),
        ("repo/etc/nginx/conf.d/kept.conf", NGINX),
        ("repo/etc/nginx/conf.d/skipped.conf", NGINX),
        ("repo/etc/nginx/conf.d/also-skipped.conf", NGINX),
    ]);
    std::fs::create_dir(t.path().join("repo/.git")).unwrap();
    // Walking a subdirectory: the repository root's ignore files still apply, the ones above
    // the root do not (or kept.conf would be ignored too).
    let l = t.run_in("repo/etc/nginx", &["conf.d"]);
    assert_eq!(l.flagged, set(&["conf.d/kept.conf"]));
    let l = t.run_in("repo", &["etc"]);
    assert_eq!(l.flagged, set(&["etc/nginx/conf.d/kept.conf"]));
    // The same with an absolute path to the walked directory.
    let abs = t.path().join("repo/etc/nginx/conf.d");
    let l = t.run(&[abs.to_str().unwrap()]);
    assert_eq!(l.flagged.len(), 1, "{:?}", l.flagged);
    assert!(l.flagged.iter().all(|f| f.ends_with("conf.d/kept.conf")));
    let l = t.run_in("repo/etc/nginx", &["conf.d", "--no-ignore"]);
    assert_eq!(l.checked, 3);
}

/// A temporary directory that is not inside any git repository, for the ignore-file rules
/// outside repositories. Fails (rather than testing nothing) when the system's temporary
/// directory itself sits in a repository.
fn outside_any_repository(files: &[(&str, &str)]) -> Tree {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().canonicalize().unwrap();
    let repository = root.ancestors().find(|d| d.join(".git").exists());
    assert!(
        repository.is_none(),
        "the temporary directory is inside the repository {repository:?}; set TMPDIR elsewhere"
    );
    let t = Tree { dir };
    for (rel, text) in files {
        t.write(rel, text);
    }
    t
}

#[test]
fn outside_a_repository_gitignore_files_do_not_apply_and_ignore_files_do() {
    // As ripgrep and ruff (the ignore crate's require_git): .gitignore needs a repository,
    // .ignore does not.
    let t = outside_any_repository(&[
        ("work/.gitignore", "git-ignored.conf\n"),
        ("work/.ignore", "ignored.conf\n"),
        ("work/conf.d/kept.conf", NGINX),
        ("work/conf.d/git-ignored.conf", NGINX),
        ("work/conf.d/ignored.conf", NGINX),
    ]);
    let l = t.run_in("work", &["conf.d"]);
    assert_eq!(
        l.flagged,
        set(&["conf.d/git-ignored.conf", "conf.d/kept.conf"])
    );
    // Once the directory is a repository, its .gitignore applies.
    std::fs::create_dir(t.path().join("work/.git")).unwrap();
    let l = t.run_in("work", &["conf.d"]);
    assert_eq!(l.flagged, set(&["conf.d/kept.conf"]));
}

#[test]
fn ignore_files_above_the_repository_root_apply_but_gitignore_files_do_not() {
    let t = Tree::new(&[
        (".gitignore", "git-ignored.conf\n"),
        (".ignore", "ignored.conf\n"),
        ("repo/conf.d/kept.conf", NGINX),
        ("repo/conf.d/git-ignored.conf", NGINX),
        ("repo/conf.d/ignored.conf", NGINX),
    ]);
    std::fs::create_dir(t.path().join("repo/.git")).unwrap();
    let l = t.run_in("repo", &["conf.d"]);
    assert_eq!(
        l.flagged,
        set(&["conf.d/git-ignored.conf", "conf.d/kept.conf"])
    );
}

#[test]
fn an_ignore_file_wins_over_a_deeper_gitignore() {
    let t = Tree::new(&[
        (".ignore", "!keep.conf\n"),
        ("conf.d/.gitignore", "*.conf\n"),
        ("conf.d/keep.conf", NGINX),
        ("conf.d/other.conf", NGINX),
    ]);
    assert_eq!(t.run(&["."]).flagged, set(&["conf.d/keep.conf"]));
}

#[test]
fn a_negated_pattern_re_includes_a_file() {
    let t = Tree::new(&[
        (".gitignore", "*.conf\n!keep.conf\n"),
        ("conf.d/a.conf", NGINX),
        ("conf.d/keep.conf", NGINX),
        // A deeper ignore file wins over the root's.
        ("sites/conf.d/.gitignore", "!b.conf\n"),
        ("sites/conf.d/b.conf", NGINX),
        ("sites/conf.d/c.conf", NGINX),
    ]);
    let l = t.run(&["."]);
    assert_eq!(l.flagged, set(&["conf.d/keep.conf", "sites/conf.d/b.conf"]));
}

#[test]
fn exclude_globs_skip_walked_files() {
    let t = Tree::new(&[
        ("conf.d/a.conf", NGINX),
        ("conf.d/b.conf", NGINX),
        ("vendor/conf.d/c.conf", NGINX),
        ("vendor/conf.d/d.conf", NGINX),
    ]);
    // by file name
    assert_eq!(
        t.run(&[".", "--exclude", "b.conf"]).flagged,
        set(&[
            "conf.d/a.conf",
            "vendor/conf.d/c.conf",
            "vendor/conf.d/d.conf"
        ])
    );
    // a directory by name, and by path
    for glob in ["vendor", "vendor/**", "./vendor"] {
        assert_eq!(
            t.run(&[".", "--exclude", glob]).flagged,
            set(&["conf.d/a.conf", "conf.d/b.conf"]),
            "--exclude {glob}"
        );
    }
    // a path glob, repeated flags
    assert_eq!(
        t.run(&[
            ".",
            "--exclude",
            "vendor/conf.d/c.*",
            "--exclude",
            "conf.d/a.conf"
        ])
        .flagged,
        set(&["conf.d/b.conf", "vendor/conf.d/d.conf"])
    );
    // walking without `./`: the glob matches the path as walked
    assert_eq!(
        t.run(&["vendor", "--exclude", "vendor/conf.d/d.conf"])
            .flagged,
        set(&["vendor/conf.d/c.conf"])
    );
}

#[test]
fn explicit_files_are_linted_unless_force_exclude() {
    let t = Tree::new(&[
        (".gitignore", "ignored.conf\n"),
        ("conf.d/ignored.conf", NGINX),
        ("conf.d/excluded.conf", NGINX),
        ("target/conf.d/built.conf", NGINX),
        (".hidden/nginx.conf", NGINX),
    ]);
    let named = [
        "conf.d/ignored.conf",
        "conf.d/excluded.conf",
        "target/conf.d/built.conf",
        ".hidden/nginx.conf",
    ];
    let mut args = named.to_vec();
    args.extend_from_slice(&["--exclude", "excluded.conf"]);
    assert_eq!(t.run(&args).flagged, set(&named));
    args.push("--force-exclude");
    let forced = t.run(&args);
    assert_eq!(
        forced.flagged,
        set(&[
            "conf.d/ignored.conf",
            "target/conf.d/built.conf",
            ".hidden/nginx.conf"
        ]),
        "--force-exclude applies --exclude globs to named files"
    );
    // --force-exclude without a matching glob changes nothing.
    assert_eq!(
        t.run(&["conf.d/excluded.conf", "--force-exclude"]).flagged,
        set(&["conf.d/excluded.conf"])
    );
}

// ---- symlinks ----

#[cfg(unix)]
#[test]
fn a_symlink_loop_ends_with_a_warning_and_the_rest_is_linted() {
    let t = Tree::new(&[("conf.d/a.conf", NGINX), ("conf.d/sub/b.conf", NGINX)]);
    // conf.d/sub/up -> conf.d: a directory symlink to its parent.
    std::os::unix::fs::symlink("..", t.path().join("conf.d/sub/up")).unwrap();
    let mut cmd = t.cmd("", &["."]);
    cmd.timeout(std::time::Duration::from_secs(60));
    let out = cmd.output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("conf.d/sub/up: symbolic link loop, not followed"),
        "{stderr}"
    );
    assert!(stderr.contains("warning"), "{stderr}");
    assert_eq!(doc["summary"]["files_checked"], 2);
    let files: BTreeSet<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from(["conf.d/a.conf", "conf.d/sub/b.conf"])
    );
    // A loop is not an error: the status comes from the findings.
    assert_eq!(out.status.code(), Some(1));
}

#[cfg(unix)]
#[test]
fn symlinked_files_and_directories_are_followed() {
    let t = Tree::new(&[("shared/nginx.conf", NGINX)]);
    std::fs::create_dir_all(t.path().join("site/conf.d")).unwrap();
    std::os::unix::fs::symlink(
        t.path().join("shared/nginx.conf"),
        t.path().join("site/conf.d/linked.conf"),
    )
    .unwrap();
    std::os::unix::fs::symlink(t.path().join("shared"), t.path().join("site/shared")).unwrap();
    let l = t.run(&["site"]);
    assert_eq!(
        l.flagged,
        set(&["site/conf.d/linked.conf"]),
        "one file reached by two paths is reported once"
    );
    assert_eq!(l.checked, 1);
}

// ---- file kinds ----

#[test]
fn file_kinds_from_names_and_content() {
    let t = Tree::new(&[
        ("etc/nginx/nginx.conf", NGINX),
        ("etc/nginx/conf.d/api.conf", NGINX),
        ("etc/nginx/sites-enabled/default", NGINX),
        ("etc/nginx/sites-available/example.com", NGINX),
        ("deploy/site.nginx", NGINX),
        ("deploy/random.conf", NGINX_HTTP),
        (
            "deploy/upstreams.conf",
            "upstream app {\n    server 10.0.0.1:8080;\n}\n",
        ),
        ("etc/supervisord.conf", SUPERVISORD),
        ("etc/sysctl.conf", SYSCTL),
        ("etc/sysctl.d/99-tcp.conf", SYSCTL),
        ("src/main.rs", RUST),
        ("README.md", "# nginx.conf\n"),
        ("notes.txt", NGINX),
        ("deploy/sites-enabled/.default.swp", "\u{1}binary"),
    ]);
    let l = t.run(&["."]);
    assert_eq!(
        l.flagged,
        set(&[
            "deploy/random.conf",
            "deploy/site.nginx",
            "etc/nginx/conf.d/api.conf",
            "etc/nginx/nginx.conf",
            "etc/nginx/sites-available/example.com",
            "etc/nginx/sites-enabled/default",
        ])
    );
    // + upstreams.conf (nginx, no finding), sysctl.conf, sysctl.d/99-tcp.conf, main.rs;
    // not supervisord.conf, README.md, notes.txt or the editor's swap file.
    assert_eq!(l.checked, 10, "{}", l.doc);
    assert_eq!(l.status, 1);
    assert_eq!(l.stderr, "");
}

#[test]
fn sysctl_files_are_not_linted_as_nginx() {
    // nginx-looking text in sysctl files: linted as sysctl, so no NGX001.
    let t = Tree::new(&[
        ("etc/sysctl.conf", NGINX_HTTP),
        ("etc/sysctl.d/10-net.conf", NGINX_HTTP),
    ]);
    let l = t.run(&["."]);
    assert_eq!(l.flagged, BTreeSet::new());
    assert_eq!(l.checked, 2);
}

#[test]
fn a_conf_that_is_not_nginx_is_skipped_when_walking() {
    let t = Tree::new(&[
        ("etc/supervisord.conf", SUPERVISORD),
        // Parses as nginx but has no nginx block: not nginx.
        ("etc/app.conf", "listen_port 8080;\nworkers 4;\n"),
        // Has an http block but does not parse: not claimed either.
        ("etc/broken.conf", "http {\n"),
    ]);
    let l = t.run(&["."]);
    assert_eq!(l.checked, 0, "{}", l.doc);
    assert_eq!(l.status, 0);
}

#[test]
fn a_conf_recognised_by_content_is_linted_with_its_includes() {
    // Read and parsed once: the load that recognises it as nginx is the one that is linted, with
    // the files it includes.
    let t = Tree::new(&[
        (
            "deploy/app.conf",
            "http {\n    include extra/*.conf;\n    keepalive_timeout 0;\n}\n",
        ),
        ("deploy/extra/more.conf", "server {\n    listen 80;\n}\n"),
        ("deploy/other.conf", "[section]\nkey = value\n"),
    ]);
    let l = t.run(&["."]);
    assert_eq!(l.flagged, set(&["deploy/app.conf"]));
    // app.conf and extra/more.conf (sniffed on its own too: a top-level server block, but
    // linted once, inside app.conf); not other.conf.
    assert_eq!(l.checked, 2, "{}", l.doc);
    assert_eq!(l.status, 1);
}

#[test]
fn an_explicit_conf_is_linted_as_nginx() {
    // Neither the path nor the content (it does not even parse) says nginx.
    let t = Tree::new(&[("etc/random.conf", "keepalive_timeout 0\n")]);
    // Walking: skipped.
    let walked = t.run(&["etc"]);
    assert_eq!((walked.checked, walked.status), (0, 0), "{}", walked.doc);
    // Named: a .conf is taken as nginx, so it is parsed, and its syntax error reported.
    let named = t.run(&["etc/random.conf"]);
    assert_eq!(named.checked, 1);
    assert_eq!(named.status, 2);
    assert_eq!(
        named.doc["summary"]["unparsed_files"],
        serde_json::json!(["etc/random.conf"])
    );
    assert_eq!(named.doc["diagnostics"][0]["code"], "WL001");
}

#[test]
fn kind_forces_the_kind_of_explicit_files() {
    let t = Tree::new(&[
        ("etc/nginx/conf.d/api.conf", NGINX),
        ("notes.txt", NGINX),
        ("site", NGINX),
    ]);
    // Without --kind, a name that says nothing is an error naming the path.
    let l = t.run(&["notes.txt"]);
    assert_eq!(l.status, 2);
    assert!(l.stderr.contains("notes.txt"), "{}", l.stderr);
    assert!(l.stderr.contains("--kind"), "{}", l.stderr);
    assert_eq!(
        l.doc["summary"]["unreadable_files"][0]["file"], "notes.txt",
        "{}",
        l.doc
    );
    // --kind nginx makes it nginx.
    let l = t.run(&["notes.txt", "site", "--kind", "nginx"]);
    assert_eq!(l.flagged, set(&["notes.txt", "site"]));
    assert_eq!(l.status, 1);
    // --kind sysctl overrides what the path says: no nginx rule runs, and nginx text read as
    // sysctl is not a list of assignments (a syntax error, exit 2).
    let l = t.run(&["etc/nginx/conf.d/api.conf", "--kind", "sysctl"]);
    assert_eq!(l.flagged, BTreeSet::new());
    assert_eq!(l.checked, 1);
    assert_eq!(l.status, 2);
    assert!(
        l.doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["code"] == "WL001"),
        "{}",
        l.doc
    );
    // --kind applies to named files only, not to what a walk finds.
    let l = t.run(&[".", "--kind", "nginx"]);
    assert_eq!(l.flagged, set(&["etc/nginx/conf.d/api.conf"]));
}

#[test]
fn a_file_named_twice_is_linted_once() {
    let t = Tree::new(&[("conf.d/a.conf", NGINX)]);
    let l = t.run(&["conf.d/a.conf", "conf.d", "./conf.d/a.conf"]);
    assert_eq!(l.checked, 1);
    assert_eq!(
        l.doc["diagnostics"].as_array().unwrap().len(),
        1,
        "{}",
        l.doc
    );
}

#[test]
fn a_missing_path_is_reported_and_the_rest_is_linted() {
    let t = Tree::new(&[("conf.d/a.conf", NGINX)]);
    let out = t.cmd("", &["conf.d", "nowhere"]).assert().code(2);
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(doc["summary"]["files_checked"], 1);
    assert_eq!(doc["summary"]["unreadable_files"][0]["file"], "nowhere");
    out.stderr(predicate::str::contains("nowhere"));
}
