//! Which files to lint, and what kind each is.
//!
//! Walks directories with `walkdir` (symlinks followed, loops detected and skipped), skipping
//! hidden directories, `target/`, `--exclude` globs and what ignore files exclude. Files named on
//! the command line are always linted unless `--force-exclude`.
//!
//! Ignore files are read as the `ignore` crate's `WalkBuilder` reads them with its defaults
//! (`parents(true)`, `require_git(true)`), which is what ripgrep and ruff do:
//! - `.gitignore` applies only inside a git repository (a directory with `.git` at or above the
//!   file), from the file's directory up to the repository root; never above it, and not at all
//!   outside a repository.
//! - `.ignore` (ripgrep's own file) applies with or without git, from every parent directory.
//! - A `.ignore` match wins over a `.gitignore` one; within one kind the deepest file with an
//!   opinion wins, as in git. Global git excludes and `.git/info/exclude` are not read.
//!
//! A `.conf` file that neither its name nor its directory classifies becomes a [`Target`] with
//! `sniff` set: `run` loads it once as nginx and keeps it only if [`looks_like_nginx`] says so,
//! so it is read and parsed once, in parallel with the other loads, and a read error is reported.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use globset::GlobSet;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use crate::args::Kind;

/// Directory names that mark a `.conf` file as nginx configuration.
const NGINX_DIRS: &[&str] = &["conf.d", "sites-available", "sites-enabled", "nginx"];

/// Top-level blocks that identify nginx configuration by content.
const NGINX_BLOCKS: &[&str] = &[
    "http", "server", "location", "upstream", "events", "stream", "map",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    pub kind: Kind,
    /// A walked `.conf` that only its content can classify: nginx if [`looks_like_nginx`].
    pub sniff: bool,
}

#[derive(Default, Debug)]
pub struct Discovery {
    pub targets: Vec<Target>,
    /// Things skipped that the user may want to know about (symlink loops).
    pub warnings: Vec<String>,
    /// Paths that could not be examined: (path, message). They make the exit status 2.
    pub failures: Vec<(PathBuf, String)>,
}

pub struct Options<'a> {
    pub respect_ignore_files: bool,
    pub exclude: &'a GlobSet,
    pub force_exclude: bool,
    pub kind: Option<Kind>,
}

/// The kind of a file from its path alone; `None` for a `.conf` that only its content can
/// classify, or a file waitlint does not lint.
pub fn kind_from_path(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_string_lossy();
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    match ext.as_deref() {
        Some("rs") => Some(Kind::Rust),
        Some("nginx") => Some(Kind::Nginx),
        _ if name == "sysctl.conf" => Some(Kind::Sysctl),
        // `/etc/sysctl.d/`, and configuration repositories' `sysctl/` directories (an
        // ansible role's `files/sysctl/`), as `nginx/` marks nginx files.
        Some("conf")
            if path
                .components()
                .any(|c| matches!(c.as_os_str().to_str(), Some("sysctl" | "sysctl.d"))) =>
        {
            Some(Kind::Sysctl)
        }
        _ if name == "nginx.conf" => Some(Kind::Nginx),
        Some("conf")
            if path
                .components()
                .any(|c| NGINX_DIRS.contains(&c.as_os_str().to_string_lossy().as_ref())) =>
        {
            Some(Kind::Nginx)
        }
        // Debian's `include /etc/nginx/sites-enabled/*;` loads every file there whatever its
        // name (`default` has no extension); like nginx's glob, `*` does not match dot files.
        _ if matches!(parent.as_deref(), Some("sites-enabled" | "sites-available"))
            && !name.starts_with('.') =>
        {
            Some(Kind::Nginx)
        }
        _ => None,
    }
}

/// A walked `.conf` larger than this is not configuration anyone writes by hand: not read.
const MAX_SNIFF: u64 = 4 * 1024 * 1024;

/// Whether a `.conf` file found while walking (a [`Target`] with `sniff`) is nginx
/// configuration: it parses without error and has a top-level `http`, `server`, `location`,
/// `upstream`... block.
pub fn looks_like_nginx(parse: &nginx_parser::Parse) -> bool {
    parse.errors.is_empty()
        && parse
            .config
            .directives
            .iter()
            .any(|d| d.block.is_some() && NGINX_BLOCKS.iter().any(|b| d.is(b)))
}

fn is_conf(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "conf")
}

/// Whether `path` (as given or walked) matches an `--exclude`/`exclude` glob: the glob is tried
/// on the whole path, on the path without a leading `./`, and on the file name.
pub fn is_excluded(path: &Path, exclude: &GlobSet) -> bool {
    if exclude.is_empty() {
        return false;
    }
    let stripped = path.strip_prefix("./").unwrap_or(path);
    exclude.is_match(path)
        || exclude.is_match(stripped)
        || path
            .file_name()
            .is_some_and(|n| exclude.is_match(Path::new(n)))
}

/// The ignore files of one directory, each kind apart: a `.ignore` match wins over a
/// `.gitignore` one, and only `.gitignore` needs a repository.
#[derive(Default)]
struct DirIgnores {
    ignore: Option<Gitignore>,
    gitignore: Option<Gitignore>,
}

/// Ignore matchers and repository roots per directory, found on first use.
#[derive(Default)]
struct IgnoreFiles {
    matchers: RefCell<HashMap<PathBuf, Rc<DirIgnores>>>,
    repository_roots: RefCell<HashMap<PathBuf, bool>>,
}

fn build_matcher(dir: &Path, name: &str) -> Option<Gitignore> {
    let file = dir.join(name);
    if !file.is_file() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(dir);
    // An unreadable or partly invalid ignore file is used for what it holds, as git does.
    builder.add(&file);
    builder.build().ok().filter(|m| !m.is_empty())
}

impl IgnoreFiles {
    fn matchers(&self, dir: &Path) -> Rc<DirIgnores> {
        if let Some(m) = self.matchers.borrow().get(dir) {
            return m.clone();
        }
        let matchers = Rc::new(DirIgnores {
            ignore: build_matcher(dir, ".ignore"),
            gitignore: build_matcher(dir, ".gitignore"),
        });
        self.matchers
            .borrow_mut()
            .insert(dir.to_path_buf(), matchers.clone());
        matchers
    }

    fn is_repository_root(&self, dir: &Path) -> bool {
        if let Some(&root) = self.repository_roots.borrow().get(dir) {
            return root;
        }
        let root = dir.join(".git").exists();
        self.repository_roots
            .borrow_mut()
            .insert(dir.to_path_buf(), root);
        root
    }

    /// Whether the ignore files of `abs`'s ancestors exclude it (see the module comment).
    fn is_ignored(&self, abs: &Path, is_dir: bool) -> bool {
        let ancestors: Vec<&Path> = abs.ancestors().skip(1).collect();
        let decision = |pick: fn(&DirIgnores) -> Option<&Gitignore>, dirs: &[&Path]| {
            dirs.iter().find_map(|dir| {
                let matchers = self.matchers(dir);
                match pick(&matchers)?.matched(abs, is_dir) {
                    Match::Ignore(_) => Some(true),
                    Match::Whitelist(_) => Some(false),
                    Match::None => None,
                }
            })
        };
        if let Some(ignored) = decision(|m| m.ignore.as_ref(), &ancestors) {
            return ignored;
        }
        match ancestors.iter().position(|d| self.is_repository_root(d)) {
            Some(root) => decision(|m| m.gitignore.as_ref(), &ancestors[..=root]).unwrap_or(false),
            None => false,
        }
    }
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.') && name != "." && name != ".."
}

pub fn discover(paths: &[PathBuf], options: &Options<'_>) -> Discovery {
    let mut out = Discovery::default();
    let ignores = IgnoreFiles::default();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                out.failures.push((path.clone(), e.to_string()));
                continue;
            }
        };
        if !meta.is_dir() && !meta.is_file() {
            out.failures.push((
                path.clone(),
                "not a regular file (a FIFO, socket or device); not read".into(),
            ));
            continue;
        }
        if !meta.is_dir() {
            if options.force_exclude && is_excluded(path, options.exclude) {
                continue;
            }
            // Named explicitly: lint it even if its name says nothing, as nginx when it is a
            // .conf; otherwise the user must say what it is.
            let kind = options
                .kind
                .or_else(|| kind_from_path(path))
                .or_else(|| is_conf(path).then_some(Kind::Nginx));
            match kind {
                Some(kind) => out.targets.push(Target {
                    path: path.clone(),
                    kind,
                    sniff: false,
                }),
                None => out.failures.push((
                    path.clone(),
                    "cannot tell what kind of file this is; name it *.conf, *.nginx or *.rs, or pass --kind nginx|sysctl|rust".into(),
                )),
            }
            continue;
        }
        walk(path, options, &ignores, &mut out);
    }
    // A file both named and walked is linted once, as named (not sniffed).
    out.targets
        .sort_by(|a, b| (&a.path, a.sniff).cmp(&(&b.path, b.sniff)));
    out.targets
        .dedup_by(|later, first| later.path == first.path && later.kind == first.kind);
    out
}

fn walk(root: &Path, options: &Options<'_>, ignores: &IgnoreFiles, out: &mut Discovery) {
    let abs_root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let absolute = |p: &Path| -> PathBuf {
        match p.strip_prefix(root) {
            Ok(rel) => abs_root.join(rel),
            Err(_) => p.to_path_buf(),
        }
    };
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            let is_dir = e.file_type().is_dir();
            if is_dir && (is_hidden(&name) || name == "target") {
                return false;
            }
            if is_excluded(e.path(), options.exclude) {
                return false;
            }
            !(options.respect_ignore_files && ignores.is_ignored(&absolute(e.path()), is_dir))
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                if e.loop_ancestor().is_some() {
                    out.warnings.push(format!(
                        "{}: symbolic link loop, not followed",
                        path.display()
                    ));
                } else {
                    let message = e
                        .io_error()
                        .map_or_else(|| e.to_string(), ToString::to_string);
                    out.failures.push((path, message));
                }
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        if let Some(kind) = kind_from_path(path) {
            out.targets.push(Target {
                path: path.to_path_buf(),
                kind,
                sniff: false,
            });
        } else if is_conf(path) && entry.metadata().map_or(true, |m| m.len() <= MAX_SNIFF) {
            // Read and parsed once, by `run`, which keeps it only if it looks like nginx (an
            // unreadable one is reported there).
            out.targets.push(Target {
                path: path.to_path_buf(),
                kind: Kind::Nginx,
                sniff: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_paths() {
        let k = |p: &str| kind_from_path(Path::new(p));
        assert_eq!(k("src/main.rs"), Some(Kind::Rust));
        assert_eq!(k("etc/nginx/nginx.conf"), Some(Kind::Nginx));
        assert_eq!(k("etc/nginx/conf.d/api.conf"), Some(Kind::Nginx));
        assert_eq!(k("deploy/sites-enabled/default.conf"), Some(Kind::Nginx));
        assert_eq!(k("etc/nginx/sites-enabled/default"), Some(Kind::Nginx));
        assert_eq!(
            k("etc/nginx/sites-available/api.example.com"),
            Some(Kind::Nginx)
        );
        assert_eq!(k("etc/nginx/sites-enabled/.default.swp"), None);
        assert_eq!(k("x/site.nginx"), Some(Kind::Nginx));
        assert_eq!(k("etc/sysctl.conf"), Some(Kind::Sysctl));
        assert_eq!(k("etc/sysctl.d/99-net.conf"), Some(Kind::Sysctl));
        assert_eq!(k("roles/net/files/sysctl/99-net.conf"), Some(Kind::Sysctl));
        assert_eq!(
            k("fixtures/sysctl/max-tw-buckets-low/fires.conf"),
            Some(Kind::Sysctl)
        );
        assert_eq!(k("deploy/sysctl-notes/app.conf"), None);
        assert_eq!(k("etc/supervisord.conf"), None);
        assert_eq!(k("README.md"), None);
    }

    #[test]
    fn nginx_by_content() {
        let nginx = |text: &str| looks_like_nginx(&nginx_parser::parse(text.as_bytes()));
        assert!(nginx("http {\n}\n"));
        assert!(nginx("# a fragment\nupstream app { server 10.0.0.1; }\n"));
        assert!(!nginx("listen_port 8080;\nworkers 4;\n"));
        assert!(!nginx("http {\n"));
        assert!(!nginx("[program:app]\ncommand=/usr/bin/app\n"));
    }

    #[cfg(unix)]
    #[test]
    fn a_walk_does_not_read_conf_files_it_cannot_classify_by_path() {
        // The content decides later, in one load with the lint; a walk that read the file would
        // drop this one (it cannot be read by anyone) without a word.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let unreadable = dir.path().join("app.conf");
        std::os::unix::fs::symlink("/proc/self/mem", &unreadable).unwrap();
        std::fs::write(dir.path().join("main.rs"), "fn main() {}\n").unwrap();
        let exclude = globset::GlobSet::empty();
        let found = discover(
            &[dir.path().to_path_buf()],
            &Options {
                respect_ignore_files: true,
                exclude: &exclude,
                force_exclude: false,
                kind: None,
            },
        );
        assert_eq!(
            found.targets,
            vec![
                Target {
                    path: unreadable,
                    kind: Kind::Nginx,
                    sniff: true,
                },
                Target {
                    path: dir.path().join("main.rs"),
                    kind: Kind::Rust,
                    sniff: false,
                },
            ]
        );
        assert!(found.failures.is_empty(), "{:?}", found.failures);
    }
}
