//! The pre-commit hooks in `.pre-commit-hooks.yaml`, run by the real pre-commit.
//!
//! Ignored by default: it needs pre-commit (`pip install pre-commit`) and git, and pre-commit
//! installs the hook with `cargo install --bins --path .`, a release build that takes minutes.
//! CI runs it with `cargo test --workspace -- --ignored` (.ci/run).
//!
//! `pre-commit try-repo PATH` clones PATH at HEAD; when tracked files have uncommitted changes it
//! adds them (`git add -u` into a temporary commit), but it never picks up untracked files, such
//! as a new hook manifest or a new source file not yet added. So the test first commits a
//! snapshot of the repository as it is on disk (tracked and untracked files, minus what
//! .gitignore excludes) into a throwaway repository and tries that: the same files a clean CI
//! clone has, and what a developer is about to commit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const BAD: &str = "server {\n    keepalive_timeout 0;\n}\n";
const FIXED: &str = "server {\n    keepalive_timeout 65s;\n}\n";

/// A command with a clean git environment (no GIT_DIR or index inherited from a git hook) and a
/// fixed identity for commits.
fn command(program: &str, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env("GIT_AUTHOR_NAME", "waitlint test")
        .env("GIT_AUTHOR_EMAIL", "test@waitlint.invalid")
        .env("GIT_COMMITTER_NAME", "waitlint test")
        .env("GIT_COMMITTER_EMAIL", "test@waitlint.invalid");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn git(cwd: &Path, args: &[&str]) -> Output {
    run(command("git", cwd)
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args))
}

/// Copies the files of the repository at `root` as they are on disk (tracked, and untracked but
/// not ignored) into a new repository at `dest`, committed.
fn snapshot(root: &Path, dest: &Path) {
    let listed = git(
        root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    let mut copied = 0;
    for rel in listed.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).expect("UTF-8 paths in the repository"));
        let from = root.join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree, or a submodule
        }
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        copied += 1;
    }
    assert!(
        dest.join(".pre-commit-hooks.yaml").is_file(),
        "no .pre-commit-hooks.yaml in the snapshot"
    );
    git(dest, &["init", "--quiet"]);
    git(dest, &["add", "--all"]);
    git(dest, &["commit", "--quiet", "-m", "waitlint as on disk"]);
    eprintln!("snapshot: {copied} files from {}", root.display());
}

/// `pre-commit try-repo HOOKS_REPO waitlint-nginx --all-files` in `project`.
fn try_repo(hooks_repo: &Path, project: &Path, cargo_target: &Path, home: &Path) -> Output {
    let started = Instant::now();
    let out = command("pre-commit", project)
        .arg("try-repo")
        .arg(hooks_repo)
        .args(["waitlint-nginx", "--all-files", "--color", "never"])
        // The two runs install into two fresh pre-commit stores (try-repo makes one per run);
        // a shared target directory lets the second build reuse the first one's dependencies.
        .env("CARGO_TARGET_DIR", cargo_target)
        .env("PRE_COMMIT_HOME", home)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("run pre-commit");
    eprintln!(
        "pre-commit try-repo: {} in {:.0?}\n{}{}",
        out.status,
        started.elapsed(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn require(program: &str, install: &str) {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`{program} --version` failed ({}): {install}", out.status),
        Err(e) => panic!("`{program}` is not on PATH ({e}): {install}"),
    }
}

#[test]
#[ignore = "needs pre-commit: pip install pre-commit"]
fn pre_commit_hook_fails_on_a_bad_nginx_config_and_passes_once_fixed() {
    let started = Instant::now();
    require("pre-commit", "pip install pre-commit");
    require("git", "install git");

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let hooks_repo = work.path().join("waitlint");
    snapshot(root, &hooks_repo);

    // The project whose configuration the hook checks: an http-less fragment, as in conf.d/.
    let project = work.path().join("project");
    std::fs::create_dir_all(project.join("conf.d")).unwrap();
    std::fs::write(project.join("conf.d/api.conf"), BAD).unwrap();
    std::fs::write(project.join("README.md"), "not nginx\n").unwrap();
    git(&project, &["init", "--quiet"]);
    git(&project, &["add", "--all"]);
    git(&project, &["commit", "--quiet", "-m", "bad config"]);

    // Kept between runs under target/tmp, so a second run of this test builds only waitlint's
    // own crates.
    let cargo_target: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("precommit-cargo");
    let home = work.path().join("pre-commit-home");

    let out = try_repo(&hooks_repo, &project, &cargo_target, &home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the hook must fail on keepalive_timeout 0"
    );
    assert!(stdout.contains("Failed"), "{stdout}");
    assert!(stdout.contains("- hook id: waitlint-nginx"), "{stdout}");
    assert!(
        stdout.contains("warning[NGX001/keepalive-disabled]"),
        "{stdout}"
    );
    assert!(stdout.contains("conf.d/api.conf:2:23"), "{stdout}");
    assert!(
        !stdout.contains("README.md"),
        "only nginx files are passed to the hook: {stdout}"
    );

    std::fs::write(project.join("conf.d/api.conf"), FIXED).unwrap();
    git(&project, &["commit", "--quiet", "-am", "fix config"]);
    let out = try_repo(&hooks_repo, &project, &cargo_target, &home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the hook must pass: {stdout}");
    assert!(stdout.contains("Passed"), "{stdout}");
    eprintln!("pre-commit test: {:.0?} in all", started.elapsed());
}
