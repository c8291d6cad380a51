//! nginx configurations are linted as units: a fragment that a linted root includes is checked
//! inside that root and reported once, at its own file and line.

use assert_cmd::Command;

fn short(dir: &std::path::Path) -> (String, i32) {
    let out = Command::cargo_bin("waitlint")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--isolated", "--format", "short", "."])
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn an_included_fragment_is_reported_once_at_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("nginx.conf"),
        "events {}\nhttp {\n    include conf.d/*.conf;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("conf.d/api.conf"),
        "server {\n    listen 80;\n    keepalive_timeout 0;\n}\n",
    )
    .unwrap();
    let (out, code) = short(dir.path());
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("conf.d/api.conf:3:23: warning:"),
        "{out}"
    );
}

#[test]
fn a_root_setting_is_judged_with_the_fragments_it_includes() {
    // The http-level zero is overridden by the only server, which lives in an included file:
    // judged as one configuration, the value is dead (info), not a warning.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("nginx.conf"),
        "http {\n    keepalive_timeout 0;\n    include conf.d/*.conf;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("conf.d/api.conf"),
        "server {\n    listen 80;\n    keepalive_timeout 30s;\n}\n",
    )
    .unwrap();
    let (out, code) = short(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("nginx.conf:2:5: note:"), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn fragments_that_include_each_other_are_still_linted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("conf.d/a.conf"),
        "include conf.d/b.conf;\nkeepalive_timeout 0;\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("conf.d/b.conf"), "include conf.d/a.conf;\n").unwrap();
    let (out, _) = short(dir.path());
    assert!(out.contains("keepalive_timeout 0"), "{out}");
    assert!(out.contains("include cycle"), "{out}");
}
