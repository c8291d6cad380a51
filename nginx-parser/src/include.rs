//! Include resolution: load a main configuration and every file its `include` directives name.
//!
//! The parser treats `include` like any other directive; this layer follows them the way nginx
//! does (`ngx_conf_include` in src/core/ngx_conf_file.c):
//! - a relative path is resolved against the configuration prefix, the directory of the main
//!   configuration file (not the directory of the including file); [`IncludeOptions::base_dir`]
//!   overrides it, as `nginx -p`/`-c` would;
//! - a path with `*`, `?` or `[` is a glob, expanded in sorted order (glob(3) without
//!   `GLOB_NOSORT`); a glob that matches nothing is not an error, a plain path that does not
//!   exist is;
//! - unlike nginx, which recurses until it runs out of file descriptors, an include cycle is an
//!   error at the include that closes it, and every file is loaded once however often it is
//!   included.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::ast::{Directive, Word};
use crate::parser::{parse_with, Parse, ParseOptions};
use crate::span::Span;

/// Index of a file in [`ConfigTree::files`]; the main file is 0.
pub type FileId = usize;

#[derive(Clone, Debug)]
pub struct IncludeOptions {
    /// The directory relative include paths are resolved against. Default: the directory of the
    /// main file (nginx's conf prefix when it is started with `-c that/file`).
    pub base_dir: Option<PathBuf>,
    /// Most files one run loads, the main file included.
    pub max_files: usize,
    /// Most files a single `include` may pull in.
    pub max_glob_matches: usize,
    pub parse: ParseOptions,
}

impl Default for IncludeOptions {
    fn default() -> Self {
        IncludeOptions {
            base_dir: None,
            max_files: 4096,
            max_glob_matches: 1024,
            parse: ParseOptions::default(),
        }
    }
}

/// One loaded file.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as it was reached: the main path as given, included paths as resolved.
    pub path: PathBuf,
    pub text: Vec<u8>,
    pub parse: Parse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncludeErrorKind {
    /// A plain (non-glob) include path that does not exist.
    Missing,
    /// The file exists but cannot be read (permissions, a directory, ...).
    Unreadable,
    /// The include closes a cycle: the file includes itself, directly or not.
    Cycle,
    /// More files than [`IncludeOptions::max_glob_matches`] or [`IncludeOptions::max_files`].
    TooMany,
    /// `include` without exactly one argument, or a pattern that is not a valid glob.
    BadArgument,
}

/// A problem with an `include`, reported at the directive in the including file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncludeError {
    pub file: FileId,
    pub span: Span,
    pub kind: IncludeErrorKind,
    pub message: String,
}

/// The main file and everything it includes.
#[derive(Debug)]
pub struct ConfigTree {
    /// Loaded files in breadth-first order of discovery (crossplane's order); `files[0]` is the
    /// main file.
    pub files: Vec<SourceFile>,
    /// For each `include` directive, keyed by (file, span of the directive), the files it pulls
    /// in, in nginx's order. Edges that would close a cycle are left out.
    pub includes: HashMap<(FileId, Span), Vec<FileId>>,
    pub errors: Vec<IncludeError>,
}

/// An error that prevents loading the main file at all.
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for LoadError {}

fn read_limited(path: &Path, options: &ParseOptions) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    // Refuse before reading: a multi-gigabyte file must not be loaded into memory only to be
    // rejected by the parser's size limit.
    if meta.len() > options.max_file_size as u64 {
        return Err(std::io::Error::other(format!(
            "file is {} bytes, larger than the limit of {} bytes",
            meta.len(),
            options.max_file_size
        )));
    }
    std::fs::read(path)
}

/// An I/O error in words, without the "(os error N)" suffix.
fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// Every `include` directive of a file, at any depth, with its span.
fn include_directives(parse: &Parse) -> Vec<&Directive> {
    parse
        .config
        .walk()
        .map(|(_, d)| d)
        .filter(|d| d.is("include"))
        .collect()
}

fn is_glob(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// The identity of a file for de-duplication and cycle detection.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
}

/// `a/./b/../c` to `a/c` without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(unix)]
fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Expands a glob one path component at a time, like glob(3): `*` and `?` do not cross `/`
/// and do not match a leading `.`; results are sorted byte-wise.
fn expand_glob(pattern: &Path, limit: usize) -> Result<Vec<PathBuf>, String> {
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.components() {
        let text = component.as_os_str().to_string_lossy();
        let wild = is_glob(text.as_bytes());
        let mut next = Vec::new();
        if !wild {
            for c in &candidates {
                next.push(c.join(component));
            }
        } else {
            let matcher = globset::GlobBuilder::new(&text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("invalid glob pattern: {e}"))?
                .compile_matcher();
            let hidden_ok = text.starts_with('.');
            for c in &candidates {
                let dir = if c.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    c.as_path()
                };
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut names: Vec<_> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name())
                    .filter(|n| hidden_ok || !n.to_string_lossy().starts_with('.'))
                    .filter(|n| matcher.is_match(Path::new(n)))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| c.join(n)));
                if next.len() > limit {
                    return Err(format!("the pattern matches more than {limit} paths"));
                }
            }
        }
        candidates = next;
    }
    candidates.retain(|p| p.is_file());
    Ok(candidates)
}

/// Loads `main` and, transitively, the files its `include` directives name.
///
/// Fails only when the main file itself cannot be read; every other problem is an
/// [`IncludeError`] in the result.
pub fn load(main: &Path, options: &IncludeOptions) -> Result<ConfigTree, LoadError> {
    let text = read_limited(main, &options.parse).map_err(|error| LoadError {
        path: main.to_path_buf(),
        error,
    })?;
    let base = options
        .base_dir
        .clone()
        .unwrap_or_else(|| main.parent().map(Path::to_path_buf).unwrap_or_default());
    let parse = parse_with(&text, &options.parse);
    let mut tree = ConfigTree {
        files: vec![SourceFile {
            path: main.to_path_buf(),
            text,
            parse,
        }],
        includes: HashMap::new(),
        errors: Vec::new(),
    };
    let mut ids: HashMap<PathBuf, FileId> = HashMap::from([(identity(main), 0)]);

    // Breadth-first, as crossplane lists files; cycles are found afterwards on the graph.
    let mut next = 0;
    while next < tree.files.len() {
        let file = next;
        next += 1;
        let requests: Vec<(Span, Vec<Word>)> = include_directives(&tree.files[file].parse)
            .into_iter()
            .map(|d| (d.span, d.args.clone()))
            .collect();
        for (span, args) in requests {
            let error = |kind, message: String| IncludeError {
                file,
                span,
                kind,
                message,
            };
            let [arg] = args.as_slice() else {
                tree.errors.push(error(
                    IncludeErrorKind::BadArgument,
                    format!(
                        "\"include\" takes exactly one argument, found {}",
                        args.len()
                    ),
                ));
                tree.includes.insert((file, span), Vec::new());
                continue;
            };
            let pattern = base.join(bytes_to_path(&arg.value));
            let paths = if is_glob(&arg.value) {
                match expand_glob(&pattern, options.max_glob_matches) {
                    Ok(paths) => paths,
                    Err(message) => {
                        let kind = if message.starts_with("invalid") {
                            IncludeErrorKind::BadArgument
                        } else {
                            IncludeErrorKind::TooMany
                        };
                        tree.errors
                            .push(error(kind, format!("include {}: {message}", arg.text())));
                        tree.includes.insert((file, span), Vec::new());
                        continue;
                    }
                }
            } else {
                vec![pattern]
            };
            let mut targets = Vec::with_capacity(paths.len());
            for path in paths {
                let key = identity(&path);
                if let Some(&id) = ids.get(&key) {
                    targets.push(id);
                    continue;
                }
                if tree.files.len() >= options.max_files {
                    tree.errors.push(error(
                        IncludeErrorKind::TooMany,
                        format!(
                            "not loading {}: the configuration already has {} files, the limit",
                            path.display(),
                            options.max_files
                        ),
                    ));
                    break;
                }
                match read_limited(&path, &options.parse) {
                    Ok(text) => {
                        let parse = parse_with(&text, &options.parse);
                        let id = tree.files.len();
                        tree.files.push(SourceFile { path, text, parse });
                        ids.insert(key, id);
                        targets.push(id);
                    }
                    Err(e) => {
                        let kind = if e.kind() == std::io::ErrorKind::NotFound {
                            IncludeErrorKind::Missing
                        } else {
                            IncludeErrorKind::Unreadable
                        };
                        tree.errors.push(error(
                            kind,
                            format!("cannot include {}: {}", path.display(), describe(&e)),
                        ));
                    }
                }
            }
            tree.includes.insert((file, span), targets);
        }
    }
    break_cycles(&mut tree);
    tree.errors.sort_by_key(|e| (e.file, e.span.start));
    Ok(tree)
}

/// Finds every include edge that points back to a file on the current include chain (a DFS
/// back edge), reports it and removes it, so that walking the tree always terminates.
fn break_cycles(tree: &mut ConfigTree) {
    let mut edges: Vec<Vec<(Span, FileId)>> = vec![Vec::new(); tree.files.len()];
    let mut keys: Vec<_> = tree.includes.iter().collect();
    keys.sort_by_key(|((file, span), _)| (*file, span.start));
    for ((file, span), targets) in keys {
        edges[*file].extend(targets.iter().map(|&t| (*span, t)));
    }
    let mut visited = vec![false; tree.files.len()];
    let mut on_chain = vec![false; tree.files.len()];
    let mut back_edges = Vec::new();
    for root in 0..tree.files.len() {
        if visited[root] {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        visited[root] = true;
        on_chain[root] = true;
        while let Some((file, index)) = stack.last_mut() {
            let file = *file;
            match edges[file].get(*index) {
                Some(&(span, target)) => {
                    *index += 1;
                    if on_chain[target] {
                        back_edges.push((file, span, target));
                    } else if !visited[target] {
                        visited[target] = true;
                        on_chain[target] = true;
                        stack.push((target, 0));
                    }
                }
                None => {
                    on_chain[file] = false;
                    stack.pop();
                }
            }
        }
    }
    let mut seen = HashSet::new();
    for (file, span, target) in back_edges {
        if let Some(targets) = tree.includes.get_mut(&(file, span)) {
            targets.retain(|&t| t != target);
        }
        if seen.insert((file, span, target)) {
            let message = if file == target {
                format!(
                    "include cycle: {} includes itself",
                    tree.files[file].path.display()
                )
            } else {
                format!(
                    "include cycle: {} includes {}, which already includes it",
                    tree.files[file].path.display(),
                    tree.files[target].path.display()
                )
            };
            tree.errors.push(IncludeError {
                file,
                span,
                kind: IncludeErrorKind::Cycle,
                message,
            });
        }
    }
}

impl ConfigTree {
    /// The directives of a block as nginx sees them: each `include` replaced by the top-level
    /// directives of the files it names (recursively), each paired with the file it comes from.
    /// `file` is the file `directives` belong to. Iterative; cycles were removed at load time.
    pub fn expand<'a>(
        &'a self,
        file: FileId,
        directives: &'a [Directive],
    ) -> Vec<(FileId, &'a Directive)> {
        let mut out = Vec::with_capacity(directives.len());
        let mut stack = vec![(file, directives.iter())];
        while let Some((file, iter)) = stack.last_mut() {
            let file = *file;
            match iter.next() {
                Some(d) => match self.includes.get(&(file, d.span)) {
                    Some(targets) if d.is("include") => {
                        // Push in reverse so that the first target is expanded first.
                        for &t in targets.iter().rev() {
                            stack.push((t, self.files[t].parse.config.directives.iter()));
                        }
                    }
                    _ => out.push((file, d)),
                },
                None => {
                    stack.pop();
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
    }

    #[test]
    fn glob_detection() {
        assert!(is_glob(b"conf.d/*.conf"));
        assert!(is_glob(b"a?.conf"));
        assert!(is_glob(b"[ab].conf"));
        assert!(!is_glob(b"mime.types"));
    }
}
