//! The include layer on the fixtures under fixtures/parser/includes/ and on generated trees.

use std::path::{Path, PathBuf};

use nginx_parser::{load, ConfigTree, IncludeErrorKind, IncludeOptions};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/parser/includes")
        .join(rel)
}

fn file_names(tree: &ConfigTree, root: &Path) -> Vec<String> {
    tree.files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(root)
                .unwrap_or(&f.path)
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Directive names of the whole configuration with includes expanded, as nginx reads it.
fn expanded_names(tree: &ConfigTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(
        0usize,
        tree.expand(0, &tree.files[0].parse.config.directives),
        0usize,
    )];
    while let Some((depth, items, index)) = stack.last_mut() {
        let depth = *depth;
        let Some(&(file, d)) = items.get(*index) else {
            stack.pop();
            continue;
        };
        *index += 1;
        out.push(format!("{}{}@{}", "  ".repeat(depth), d.name.text(), file));
        if let Some(b) = &d.block {
            stack.push((depth + 1, tree.expand(file, &b.directives), 0));
        }
    }
    out
}

#[test]
fn includes_resolve_against_the_main_directory_in_glob_order() {
    let main = fixture("basic/nginx.conf");
    let tree = load(&main, &IncludeOptions::default()).unwrap();
    assert!(tree.errors.is_empty(), "{:?}", tree.errors);
    let root = fixture("basic");
    assert_eq!(
        file_names(&tree, &root),
        [
            "nginx.conf",
            "snippets/keepalive.conf",
            "conf.d/a-web.conf",
            "conf.d/b-api.conf"
        ],
        "breadth-first, glob matches sorted, hidden files skipped, a file included twice loaded once"
    );
    assert_eq!(
        expanded_names(&tree),
        [
            "events@0",
            "http@0",
            "  keepalive_timeout@1",
            "  server@2",
            "    listen@2",
            "  server@3",
            "    listen@3",
            "    keepalive_timeout@1",
        ]
    );
}

#[test]
fn include_base_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("prefix/snippets")).unwrap();
    std::fs::create_dir_all(dir.path().join("sites")).unwrap();
    std::fs::write(dir.path().join("prefix/snippets/x.conf"), "gzip on;\n").unwrap();
    std::fs::write(
        dir.path().join("sites/site.conf"),
        "include snippets/x.conf;\n",
    )
    .unwrap();
    let main = dir.path().join("sites/site.conf");

    let default = load(&main, &IncludeOptions::default()).unwrap();
    assert_eq!(default.errors.len(), 1);
    assert_eq!(default.errors[0].kind, IncludeErrorKind::Missing);

    let options = IncludeOptions {
        base_dir: Some(dir.path().join("prefix")),
        ..IncludeOptions::default()
    };
    let tree = load(&main, &options).unwrap();
    assert!(tree.errors.is_empty(), "{:?}", tree.errors);
    assert_eq!(expanded_names(&tree), ["gzip@1"]);
}

#[test]
fn a_cycle_is_an_error_at_the_include_that_closes_it() {
    let tree = load(&fixture("cycle/nginx.conf"), &IncludeOptions::default()).unwrap();
    assert_eq!(tree.errors.len(), 1, "{:?}", tree.errors);
    let e = &tree.errors[0];
    assert_eq!(e.kind, IncludeErrorKind::Cycle);
    let b = &tree.files[e.file];
    assert!(b.path.ends_with("b.conf"));
    assert_eq!(&b.text[e.span.range()], b"include a.conf;");
    assert!(e.message.contains("include cycle"), "{}", e.message);
    // Expansion terminates and keeps everything once.
    assert_eq!(
        expanded_names(&tree),
        ["http@0", "  server@2", "    listen@2"]
    );
}

#[test]
fn a_file_that_includes_itself_is_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("nginx.conf");
    std::fs::write(&main, "events {}\ninclude nginx.conf;\n").unwrap();
    let tree = load(&main, &IncludeOptions::default()).unwrap();
    assert_eq!(tree.files.len(), 1);
    assert_eq!(tree.errors.len(), 1);
    assert_eq!(tree.errors[0].kind, IncludeErrorKind::Cycle);
    assert!(tree.errors[0].message.contains("includes itself"));
}

#[test]
fn missing_files_are_errors_but_empty_globs_are_not() {
    let main = fixture("missing/nginx.conf");
    let tree = load(&main, &IncludeOptions::default()).unwrap();
    assert_eq!(tree.errors.len(), 1, "{:?}", tree.errors);
    let e = &tree.errors[0];
    assert_eq!(e.kind, IncludeErrorKind::Missing);
    assert_eq!(
        &tree.files[0].text[e.span.range()],
        b"include does-not-exist.conf;"
    );
    assert!(e.message.contains("does-not-exist.conf"), "{}", e.message);
    // The rest of the file is still there.
    assert_eq!(
        expanded_names(&tree),
        ["http@0", "  server@0", "    listen@0"]
    );
}

#[test]
fn fan_out_is_limited() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        std::fs::write(dir.path().join(format!("f{i:02}.inc")), "a b;\n").unwrap();
    }
    let main = dir.path().join("nginx.conf");
    std::fs::write(&main, "include *.inc;\n").unwrap();
    let options = IncludeOptions {
        max_glob_matches: 10,
        ..IncludeOptions::default()
    };
    let tree = load(&main, &options).unwrap();
    assert_eq!(tree.files.len(), 1);
    assert_eq!(tree.errors[0].kind, IncludeErrorKind::TooMany);

    let options = IncludeOptions {
        max_files: 5,
        ..IncludeOptions::default()
    };
    let tree = load(&main, &options).unwrap();
    assert_eq!(tree.files.len(), 5);
    assert_eq!(tree.errors.len(), 1);
    assert_eq!(tree.errors[0].kind, IncludeErrorKind::TooMany);
}

#[cfg(unix)]
#[test]
fn symlink_loops_in_globbed_directories_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    std::fs::create_dir(&sites).unwrap();
    std::os::unix::fs::symlink(&sites, sites.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nginx.conf"), sites.join("back.conf")).unwrap();
    let main = dir.path().join("nginx.conf");
    std::fs::write(
        &main,
        "include sites/*.conf;\ninclude sites/*/*.conf;\ninclude sites/loop/loop/*.conf;\n",
    )
    .unwrap();
    let tree = load(&main, &IncludeOptions::default()).unwrap();
    // Every route leads back to nginx.conf through a symlink: cycles, never a second copy.
    assert_eq!(tree.files.len(), 1);
    assert!(!tree.errors.is_empty());
    assert!(
        tree.errors
            .iter()
            .all(|e| e.kind == IncludeErrorKind::Cycle),
        "{:?}",
        tree.errors
    );
}

#[test]
fn include_of_a_directory_or_with_bad_arguments_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let main = dir.path().join("nginx.conf");
    std::fs::write(&main, "include sub;\ninclude a b;\ninclude;\n").unwrap();
    let tree = load(&main, &IncludeOptions::default()).unwrap();
    let kinds: Vec<_> = tree.errors.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            IncludeErrorKind::Unreadable,
            IncludeErrorKind::BadArgument,
            IncludeErrorKind::BadArgument
        ]
    );
}

#[test]
fn an_unreadable_main_file_is_a_load_error() {
    let err = load(
        Path::new("/nonexistent/nginx.conf"),
        &IncludeOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/nginx.conf"));
}
