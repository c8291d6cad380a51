//! `waitlint check --fix`, `--unsafe-fixes` and `--diff` (docs/fixes.md): what is applied, that
//! nothing else in the file changes, idempotence, atomic writes that keep permissions, fixes in
//! included files, and standard input.

use std::path::Path;

use assert_cmd::Command;

/// A fresh repository (a `.git` directory stops configuration lookup there) with these files.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn waitlint(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::cargo_bin("waitlint").unwrap();
    cmd.current_dir(dir)
        .args(["check", "--color", "never"])
        .args(args);
    if let Some(text) = stdin {
        cmd.write_stdin(text);
    }
    let output = cmd.output().unwrap();
    Run {
        status: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

/// Every entry of a directory, recursively, relative to it, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            out.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Comments, tabs, blank lines, trailing blanks and a CRLF line around the finding: none of it
/// may change.
const KEEPALIVE_OFF: &str = concat!(
    "# main configuration\r\n",
    "http {\n",
    "\t# keep-alive, tuned for the old load balancer\n",
    "    keepalive_timeout 0;   # off: see TICKET-12  \n",
    "\n",
    "\tserver {\n",
    "\t\tlisten 80;    # plain http\n",
    "    }\n",
    "}\n",
);

const KEEPALIVE_FIXED: &str = concat!(
    "# main configuration\r\n",
    "http {\n",
    "\t# keep-alive, tuned for the old load balancer\n",
    "    keepalive_timeout 65s;   # off: see TICKET-12  \n",
    "\n",
    "\tserver {\n",
    "\t\tlisten 80;    # plain http\n",
    "    }\n",
    "}\n",
);

#[test]
fn fix_alone_does_not_apply_an_unsafe_fix_and_says_how_to() {
    let dir = repo(&[("nginx.conf", KEEPALIVE_OFF)]);
    let run = waitlint(dir.path(), &["--fix"], None);
    assert_eq!(read(dir.path(), "nginx.conf"), KEEPALIVE_OFF.as_bytes());
    assert_eq!(run.status, 1, "the warning remains: {}", run.stderr);
    assert!(
        run.stderr
            .contains("fixed 0 findings in 0 files; 1 unsafe fix available with --unsafe-fixes"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("NGX001"), "{}", run.stdout);
}

#[test]
fn unsafe_fixes_apply_and_change_nothing_else() {
    let dir = repo(&[("nginx.conf", KEEPALIVE_OFF)]);
    let run = waitlint(dir.path(), &["--fix", "--unsafe-fixes"], None);
    assert_eq!(
        String::from_utf8(read(dir.path(), "nginx.conf")).unwrap(),
        KEEPALIVE_FIXED
    );
    assert_eq!(
        run.status, 0,
        "nothing remains: {}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("fixed 1 finding in 1 file"),
        "{}",
        run.stderr
    );
    // The report is the one of the second lint: nothing left.
    assert!(
        run.stdout.contains("0 errors, 0 warnings, 0 infos"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_second_fix_changes_nothing() {
    let dir = repo(&[("nginx.conf", KEEPALIVE_OFF)]);
    waitlint(dir.path(), &["--fix", "--unsafe-fixes"], None);
    let first = read(dir.path(), "nginx.conf");
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir.path().join("nginx.conf"))
            .unwrap()
            .ino()
    };
    let run = waitlint(dir.path(), &["--fix", "--unsafe-fixes"], None);
    assert_eq!(read(dir.path(), "nginx.conf"), first);
    assert!(
        run.stderr.contains("fixed 0 findings in 0 files"),
        "{}",
        run.stderr
    );
    // Not even rewritten with the same bytes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let after = std::fs::metadata(dir.path().join("nginx.conf")).unwrap();
        assert_eq!(after.ino(), inode);
    }
    let diff = waitlint(dir.path(), &["--diff", "--unsafe-fixes"], None);
    assert_eq!(diff.stdout, "");
    assert_eq!(diff.status, 0);
}

#[test]
fn unused_suppressions_are_removed_by_plain_fix() {
    let text = concat!(
        "http {\n",
        "    keepalive_timeout 65s;\n",
        "    # waitlint: disable=keepalive-disabled\n",
        "    keepalive_requests 1000;   # requests per connection\n",
        "    server {\n",
        "        listen 80; # waitlint: disable=keepalive-disabled\n",
        "        # a comment that stays\n",
        "    }\n",
        "}\n",
    );
    let fixed = concat!(
        "http {\n",
        "    keepalive_timeout 65s;\n",
        "    keepalive_requests 1000;   # requests per connection\n",
        "    server {\n",
        "        listen 80;\n",
        "        # a comment that stays\n",
        "    }\n",
        "}\n",
    );
    let untouched = "http {\n    keepalive_timeout 65s;\n}\n";
    let dir = repo(&[("nginx.conf", text), ("conf.d/clean.conf", untouched)]);
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir.path().join("conf.d/clean.conf"))
            .unwrap()
            .ino()
    };
    let run = waitlint(dir.path(), &["--fix", "--fail-on", "info"], None);
    assert_eq!(
        String::from_utf8(read(dir.path(), "nginx.conf")).unwrap(),
        fixed
    );
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("fixed 2 findings in 1 file"),
        "{}",
        run.stderr
    );
    // A file without a fix is never touched.
    assert_eq!(read(dir.path(), "conf.d/clean.conf"), untouched.as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let after = std::fs::metadata(dir.path().join("conf.d/clean.conf")).unwrap();
        assert_eq!(after.ino(), inode);
    }
}

#[test]
fn diff_prints_a_unified_diff_and_writes_nothing() {
    let dir = repo(&[("nginx.conf", KEEPALIVE_OFF)]);
    let before = listing(dir.path());
    let run = waitlint(dir.path(), &["--diff", "--unsafe-fixes"], None);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(read(dir.path(), "nginx.conf"), KEEPALIVE_OFF.as_bytes());
    assert_eq!(listing(dir.path()), before);
    assert!(
        run.stdout
            .starts_with("--- a/nginx.conf\n+++ b/nginx.conf\n@@ -1,7 +1,7 @@\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(
        "\n-    keepalive_timeout 0;   # off: see TICKET-12  \n+    keepalive_timeout 65s;   # off: see TICKET-12  \n"
    ), "{}", run.stdout);
    // Context lines are unchanged lines, with a leading space.
    assert!(
        run.stdout
            .contains("\n \t# keep-alive, tuned for the old load balancer\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("would fix 1 finding in 1 file"),
        "{}",
        run.stderr
    );

    // --diff wins over --fix: still nothing written.
    let run = waitlint(dir.path(), &["--fix", "--diff", "--unsafe-fixes"], None);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("--- a/nginx.conf\n"),
        "{}",
        run.stdout
    );
    assert_eq!(read(dir.path(), "nginx.conf"), KEEPALIVE_OFF.as_bytes());
    assert_eq!(listing(dir.path()), before);

    // Without --unsafe-fixes there is nothing to change.
    let run = waitlint(dir.path(), &["--diff"], None);
    assert_eq!(run.stdout, "");
    assert_eq!(run.status, 0);
    assert!(run.stderr.contains("--unsafe-fixes"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn permissions_are_kept_and_no_temporary_file_is_left() {
    use std::os::unix::fs::PermissionsExt;
    let dir = repo(&[("nginx.conf", KEEPALIVE_OFF)]);
    let path = dir.path().join("nginx.conf");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = listing(dir.path());
    let run = waitlint(dir.path(), &["--fix", "--unsafe-fixes"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(read(dir.path(), "nginx.conf"), KEEPALIVE_FIXED.as_bytes());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o640);
    assert_eq!(listing(dir.path()), before);
}

#[cfg(unix)]
#[test]
fn a_symlink_stays_a_symlink() {
    let dir = repo(&[("real/nginx.conf", KEEPALIVE_OFF)]);
    std::os::unix::fs::symlink("real/nginx.conf", dir.path().join("nginx.conf")).unwrap();
    let run = waitlint(dir.path(), &["--fix", "--unsafe-fixes", "nginx.conf"], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let link = std::fs::symlink_metadata(dir.path().join("nginx.conf")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        read(dir.path(), "real/nginx.conf"),
        KEEPALIVE_FIXED.as_bytes()
    );
}

#[test]
fn a_fix_in_an_included_file_is_applied_there() {
    let main = "http {\n    include keepalive.inc;\n    server { listen 80; }\n}\n";
    let included = "# shared keep-alive settings\nkeepalive_timeout 0;  # see main\n";
    let dir = repo(&[("nginx.conf", main), ("keepalive.inc", included)]);
    let run = waitlint(dir.path(), &["--fix", "--unsafe-fixes", "nginx.conf"], None);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(read(dir.path(), "nginx.conf"), main.as_bytes());
    assert_eq!(
        String::from_utf8(read(dir.path(), "keepalive.inc")).unwrap(),
        "# shared keep-alive settings\nkeepalive_timeout 65s;  # see main\n"
    );
    assert!(
        run.stderr.contains("fixed 1 finding in 1 file"),
        "{}",
        run.stderr
    );
}

#[test]
fn stdin_prints_the_fixed_text_and_writes_nothing() {
    // A file of the same name on disk must not be written.
    let on_disk = "http {\n    keepalive_timeout 0;\n}\n";
    let dir = repo(&[("nginx.conf", on_disk)]);
    let before = listing(dir.path());
    let input = "http {\n    keepalive_timeout 0; # legacy\n    # waitlint: disable=NGX001\n    keepalive_requests 5000;\n}\n";
    let run = waitlint(
        dir.path(),
        &[
            "--fix",
            "--unsafe-fixes",
            "--stdin-filename",
            "nginx.conf",
            "--format",
            "short",
            "-",
        ],
        Some(input),
    );
    assert_eq!(
        run.stdout,
        "http {\n    keepalive_timeout 65s; # legacy\n    keepalive_requests 5000;\n}\n"
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("fixed 2 findings in 1 file"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), "nginx.conf"), on_disk.as_bytes());
    assert_eq!(listing(dir.path()), before);

    // Without --unsafe-fixes: the safe fix only; the remaining finding is reported on stderr at
    // its place in the fixed text, and decides the exit status.
    let run = waitlint(
        dir.path(),
        &[
            "--fix",
            "--stdin-filename",
            "nginx.conf",
            "--format",
            "short",
            "-",
        ],
        Some(input),
    );
    assert_eq!(
        run.stdout,
        "http {\n    keepalive_timeout 0; # legacy\n    keepalive_requests 5000;\n}\n"
    );
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("nginx.conf:2:23: warning:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--unsafe-fixes"), "{}", run.stderr);
}

#[test]
fn stdin_without_fixes_is_printed_unchanged() {
    let dir = repo(&[]);
    let input = "http {\n    keepalive_timeout 65s;\n}";
    let run = waitlint(
        dir.path(),
        &["--fix", "--stdin-filename", "nginx.conf", "-"],
        Some(input),
    );
    assert_eq!(run.stdout, input);
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn unsafe_fixes_needs_fix_or_diff() {
    let dir = repo(&[("nginx.conf", KEEPALIVE_OFF)]);
    let run = waitlint(dir.path(), &["--unsafe-fixes"], None);
    assert_eq!(run.status, 2);
    assert_eq!(read(dir.path(), "nginx.conf"), KEEPALIVE_OFF.as_bytes());
}
