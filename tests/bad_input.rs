//! Inputs waitlint cannot check: each gives a clear message naming the path (and line:col where
//! there is one), the run goes on to report the other files, and the exit status is 2.
#![cfg(unix)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// A file with one NGX001 finding, linted beside every bad input to show the run goes on.
const GOOD_WITH_FINDING: &str = "server {\n    keepalive_timeout 0;\n}\n";

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let t = Tree { dir };
        t.write("conf.d/good.conf", GOOD_WITH_FINDING.as_bytes());
        t
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn waitlint(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_waitlint"));
        cmd.current_dir(self.path())
            .env_remove("NO_COLOR")
            .arg("check")
            .args(args)
            .timeout(std::time::Duration::from_secs(60));
        cmd
    }

    /// Human output (stdout) and JSON output (document and stderr) for the same arguments;
    /// both must exit 2.
    fn run(&self, args: &[&str]) -> Outputs {
        let mut human_args = args.to_vec();
        human_args.extend_from_slice(&["--color", "never"]);
        let human = self.waitlint(&human_args).output().unwrap();
        let mut json_args = args.to_vec();
        json_args.extend_from_slice(&["--format", "json"]);
        let json = self.waitlint(&json_args).output().unwrap();
        let o = Outputs {
            human: String::from_utf8(human.stdout).expect("human output is UTF-8"),
            human_stderr: String::from_utf8_lossy(&human.stderr).into_owned(),
            doc: serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
                panic!("not JSON ({e}): {}", String::from_utf8_lossy(&json.stdout))
            }),
            json_stderr: String::from_utf8_lossy(&json.stderr).into_owned(),
        };
        assert_eq!(human.status.code(), Some(2), "{o:#?}");
        assert_eq!(json.status.code(), Some(2), "{o:#?}");
        o
    }
}

#[derive(Debug)]
struct Outputs {
    human: String,
    human_stderr: String,
    doc: Value,
    json_stderr: String,
}

impl Outputs {
    /// The good file was still linted and its finding reported, in both formats.
    fn assert_rest_reported(&self) {
        assert!(
            self.human.contains("conf.d/good.conf:2:23"),
            "{}",
            self.human
        );
        assert!(
            self.doc["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["file"] == "conf.d/good.conf" && d["code"] == "NGX001"),
            "{}",
            self.doc
        );
    }

    /// `path` is reported as not checked with a message containing `words`: in the human
    /// output as `error: PATH: MESSAGE`, in JSON under summary.unreadable_files and on stderr.
    fn assert_unreadable(&self, path: &str, words: &str) {
        let line = self
            .human
            .lines()
            .find(|l| l.starts_with(&format!("error: {path}: ")))
            .unwrap_or_else(|| panic!("no `error: {path}: ...` line in\n{}", self.human));
        assert!(line.contains(words), "{line}");
        assert!(
            !line.contains(|c: char| c.is_control()),
            "the message quotes control characters: {line:?}"
        );
        let entry = self.doc["summary"]["unreadable_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == path)
            .unwrap_or_else(|| panic!("{path} not in unreadable_files: {}", self.doc));
        assert!(
            entry["message"].as_str().unwrap().contains(words),
            "{entry}"
        );
        assert!(
            self.json_stderr
                .lines()
                .any(|l| l.starts_with(&format!("waitlint: error: {path}: ")) && l.contains(words)),
            "{}",
            self.json_stderr
        );
        assert!(
            self.human.contains("could not be checked"),
            "{}",
            self.human
        );
    }
}

/// Makes `rel` a file that exists but cannot be read, and says how. Permissions (mode 000) do
/// not stop root or a process with CAP_DAC_OVERRIDE, which is common in CI containers; then
/// the file is a symbolic link to /proc/self/mem, whose first page is never mapped, so reading
/// it fails with EIO whoever reads it.
fn make_unreadable(t: &Tree, rel: &str) -> &'static str {
    let path = t.path().join(rel);
    t.write(rel, GOOD_WITH_FINDING.as_bytes());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_err() {
        return "mode 000";
    }
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/proc/self/mem", &path).unwrap();
    assert!(
        std::fs::read(&path).is_err(),
        "running privileged, and /proc/self/mem is readable: no unreadable file to test with"
    );
    eprintln!("privileged: mode 000 does not block reads; using a link to /proc/self/mem");
    "a link to /proc/self/mem"
}

#[test]
fn an_unreadable_file_named_on_the_command_line() {
    let t = Tree::new();
    make_unreadable(&t, "conf.d/secret.conf");
    make_unreadable(&t, "src/secret.rs");
    let o = t.run(&["conf.d/secret.conf", "src/secret.rs", "conf.d/good.conf"]);
    // The operating system's message: "Permission denied" or "Input/output error".
    for path in ["conf.d/secret.conf", "src/secret.rs"] {
        o.assert_unreadable(path, "");
        let entry = o.doc["summary"]["unreadable_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == path)
            .unwrap()
            .clone();
        let message = entry["message"].as_str().unwrap().to_ascii_lowercase();
        assert!(
            message.contains("permission denied") || message.contains("input/output error"),
            "{message}"
        );
    }
    o.assert_rest_reported();
    assert_eq!(o.doc["summary"]["files_checked"], 1);
    assert!(
        o.human.contains("2 files could not be checked"),
        "{}",
        o.human
    );
}

#[test]
fn an_unreadable_file_found_by_walking() {
    let t = Tree::new();
    let how = make_unreadable(&t, "conf.d/secret.conf");
    let o = t.run(&["."]);
    o.assert_unreadable("conf.d/secret.conf", "");
    o.assert_rest_reported();
    assert_eq!(o.doc["summary"]["files_checked"], 1, "{how}");
}

#[test]
fn an_unreadable_conf_that_only_its_content_could_classify() {
    // Outside nginx-shaped directories a walked .conf is nginx only if its content says so; one
    // that cannot be read is reported, not skipped as "not nginx".
    let t = Tree::new();
    let how = make_unreadable(&t, "etc/app.conf");
    let o = t.run(&["."]);
    o.assert_unreadable("etc/app.conf", "");
    o.assert_rest_reported();
    assert_eq!(o.doc["summary"]["files_checked"], 1, "{how}");
}

#[test]
fn a_dangling_symlink() {
    let t = Tree::new();
    std::os::unix::fs::symlink("missing.conf", t.path().join("conf.d/dangling.conf")).unwrap();
    let o = t.run(&["."]);
    o.assert_unreadable("conf.d/dangling.conf", "No such file or directory");
    o.assert_rest_reported();
}

#[test]
fn a_directory_loop() {
    let t = Tree::new();
    std::os::unix::fs::symlink("..", t.path().join("conf.d/loop")).unwrap();
    std::os::unix::fs::symlink(t.path(), t.path().join("conf.d/root")).unwrap();
    t.write("conf.d/broken.conf", b"server {\n");
    let o = t.run(&["."]);
    for stderr in [&o.human_stderr, &o.json_stderr] {
        for link in ["conf.d/loop", "conf.d/root"] {
            assert!(
                stderr.lines().any(|l| l.starts_with("waitlint: warning: ")
                    && l.contains(link)
                    && l.contains("symbolic link loop")),
                "{stderr}"
            );
        }
    }
    o.assert_rest_reported();
    // Each file once, though the loops reach them again.
    assert_eq!(o.doc["summary"]["files_checked"], 2);
    assert_eq!(
        o.doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "NGX001")
            .count(),
        1
    );
}

/// Bytes from a fixed-seed generator (no dependency needed): every byte value, NUL and ESC
/// included.
fn binary_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out: Vec<u8> = (0..=255).collect();
    while out.len() < len {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push((state >> 33) as u8);
    }
    // Text first, so the NUL is not at 1:1.
    let mut file = b"server {\n    listen 80;\n".to_vec();
    file.extend_from_slice(&out);
    file
}

#[test]
fn a_binary_file_named_conf() {
    let t = Tree::new();
    t.write("conf.d/blob.conf", &binary_bytes(4096));
    for args in [&["."][..], &["conf.d/blob.conf", "conf.d/good.conf"]] {
        let o = t.run(args);
        o.assert_unreadable(
            "conf.d/blob.conf",
            "3:1: contains a NUL byte: a binary file",
        );
        o.assert_rest_reported();
        assert!(
            !o.human.contains('\u{1b}') && !o.human.contains('\0'),
            "binary bytes reach the terminal"
        );
        assert_eq!(o.doc["summary"]["unparsed_files"], serde_json::json!([]));
    }
    // From stdin too.
    let out = t
        .waitlint(&[
            "-",
            "--stdin-filename",
            "conf.d/stdin.conf",
            "--color",
            "never",
        ])
        .write_stdin(binary_bytes(512))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("error: conf.d/stdin.conf: 3:1: contains a NUL byte"),
        "{stdout}"
    );
}

#[test]
fn a_non_utf8_rust_file() {
    let t = Tree::new();
    // Latin-1 "é" in a comment on line 2, after `// caf`.
    t.write("src/lib.rs", b"pub fn f() {}\n// caf\xe9\n");
    let o = t.run(&["."]);
    o.assert_unreadable("src/lib.rs", "2:7: not valid UTF-8, so not Rust source");
    o.assert_rest_reported();
    assert_eq!(o.doc["summary"]["files_checked"], 1);
}

#[test]
fn a_broken_nginx_config() {
    let t = Tree::new();
    t.write("conf.d/broken.conf", b"server {\n    listen 80\n}\n");
    let o = t.run(&["."]);
    // A syntax error is a finding with a position (the last word before the missing `;`), not
    // an unreadable file.
    let d = o.doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "WL001")
        .unwrap_or_else(|| panic!("no syntax error in {}", o.doc))
        .clone();
    assert_eq!(d["file"], "conf.d/broken.conf");
    assert_eq!(d["severity"], "error");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(12))
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("not terminated by \";\""),
        "{d}"
    );
    assert_eq!(
        o.doc["summary"]["unparsed_files"],
        serde_json::json!(["conf.d/broken.conf"])
    );
    assert!(
        o.human
            .contains("error[WL001/syntax-error]: directive \"listen\" is not terminated by \";\""),
        "{}",
        o.human
    );
    assert!(o.human.contains("conf.d/broken.conf:"), "{}", o.human);
    o.assert_rest_reported();
}

#[test]
fn every_bad_input_at_once() {
    let t = Tree::new();
    make_unreadable(&t, "conf.d/secret.conf");
    t.write("conf.d/blob.conf", &binary_bytes(1024));
    t.write("src/lib.rs", b"// \xff\n");
    t.write("conf.d/broken.conf", b"server {\n");
    std::os::unix::fs::symlink("..", t.path().join("conf.d/loop")).unwrap();
    let o = t.run(&[".", "missing-dir"]);
    o.assert_unreadable("conf.d/secret.conf", "");
    o.assert_unreadable("conf.d/blob.conf", "NUL byte");
    o.assert_unreadable("src/lib.rs", "1:4: not valid UTF-8");
    o.assert_unreadable("missing-dir", "No such file or directory");
    assert!(o.json_stderr.contains("conf.d/loop: symbolic link loop"));
    assert_eq!(
        o.doc["summary"]["unparsed_files"],
        serde_json::json!(["conf.d/broken.conf"])
    );
    o.assert_rest_reported();
    // Failures are listed by path, whatever order the parallel linting finished in.
    let listed: Vec<&str> = o.doc["summary"]["unreadable_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted);
    assert_eq!(listed.len(), 4);
}
