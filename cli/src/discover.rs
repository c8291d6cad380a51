//! Which files to lint, and what kind each is.
//!
//! Walks directories with `walkdir` (symlinks followed, loops detected and skipped), skipping
//! hidden directories, `target/`, `--exclude` globs and what `.gitignore`/`.ignore` files
//! exclude (from the walked directory up to the repository root). Files named on the command
//! line are always linted unless `--force-exclude`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
        Some("conf") if parent.as_deref() == Some("sysctl.d") => Some(Kind::Sysctl),
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

/// Whether a `.conf` file found while walking is nginx configuration: it parses without error
/// and has a top-level `http`, `server`, `location`, `upstream`... block.
fn sniff_nginx(path: &Path) -> bool {
    const MAX_SNIFF: u64 = 4 * 1024 * 1024;
    if std::fs::metadata(path).map_or(true, |m| m.len() > MAX_SNIFF) {
        return false;
    }
    let Ok(text) = std::fs::read(path) else {
        return false;
    };
    let parse = nginx_parser::parse(&text);
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

/// .gitignore/.ignore matchers per directory, built on first use.
struct IgnoreFiles {
    cache: RefCell<HashMap<PathBuf, Option<Gitignore>>>,
}

impl IgnoreFiles {
    fn matcher(&self, dir: &Path) -> Option<Gitignore> {
        if let Some(m) = self.cache.borrow().get(dir) {
            return m.clone();
        }
        let mut builder = GitignoreBuilder::new(dir);
        let mut any = false;
        for name in [".gitignore", ".ignore"] {
            let file = dir.join(name);
            if file.is_file() {
                any |= builder.add(&file).is_none();
            }
        }
        let matcher = if any { builder.build().ok() } else { None };
        self.cache
            .borrow_mut()
            .insert(dir.to_path_buf(), matcher.clone());
        matcher
    }

    /// Whether the ignore files of `abs`'s ancestors (up to the repository root) exclude it.
    /// The deepest file that has an opinion wins, as in git.
    fn is_ignored(&self, abs: &Path, is_dir: bool) -> bool {
        let mut dir = abs.parent();
        while let Some(d) = dir {
            if let Some(m) = self.matcher(d) {
                match m.matched(abs, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            if d.join(".git").exists() {
                break;
            }
            dir = d.parent();
        }
        false
    }
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.') && name != "." && name != ".."
}

pub fn discover(paths: &[PathBuf], options: &Options<'_>) -> Discovery {
    let mut out = Discovery::default();
    let ignores = IgnoreFiles {
        cache: RefCell::new(HashMap::new()),
    };
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
                Some(kind) => out.targets.push(Target { path: path.clone(), kind }),
                None => out.failures.push((
                    path.clone(),
                    "cannot tell what kind of file this is; name it *.conf, *.nginx or *.rs, or pass --kind nginx|sysctl|rust".into(),
                )),
            }
            continue;
        }
        walk(path, options, &ignores, &mut out);
    }
    out.targets.sort_by(|a, b| a.path.cmp(&b.path));
    out.targets.dedup();
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
        let kind = kind_from_path(path)
            .or_else(|| (is_conf(path) && sniff_nginx(path)).then_some(Kind::Nginx));
        if let Some(kind) = kind {
            out.targets.push(Target {
                path: path.to_path_buf(),
                kind,
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
        assert_eq!(k("etc/supervisord.conf"), None);
        assert_eq!(k("README.md"), None);
    }
}
