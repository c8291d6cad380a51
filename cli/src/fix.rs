//! `waitlint check --fix` and `--diff`: apply the fixes that findings carry (docs/fixes.md).
//!
//! A fix is a list of byte-range edits, in one file or several. The applicable fixes (the safe
//! ones, and the unsafe ones too with `--unsafe-fixes`) are taken in report order; a fix with an
//! edit that overlaps an edit already taken is skipped whole (the next run applies it). The edits
//! are applied in memory, per file, from the end so that offsets stay valid, and a fix that would
//! make an nginx file fail to parse (or a UTF-8 file stop being UTF-8) is refused. Then `--diff`
//! prints the changes as a unified diff, and `--fix` writes each changed file atomically (a
//! temporary file in the same directory, synced, with the original's permissions, renamed over
//! it), or prints the fixed text to stdout for `-`, and lints again to report what remains.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lints::{Diagnostic, Edit, Fix};
use nginx_parser::{ParseErrorKind, Span};

use crate::args::{CheckArgs, Kind};
use crate::report::{Report, Source};

/// `waitlint check --fix` / `--diff`.
pub fn run(args: &CheckArgs) -> ExitCode {
    let outcome = crate::run::check(args);
    if let Some(fatal) = &outcome.fatal {
        eprintln!("waitlint: error: {fatal}");
        return ExitCode::from(2);
    }
    let report = outcome.report;
    let plan = plan(&report, args.unsafe_fixes);
    for (i, why) in &plan.refused {
        let d = &report.diagnostics[*i];
        eprintln!(
            "waitlint: warning: {}: not applying the fix of {} ({}): {why}",
            position(&report, d),
            d.rule.code,
            d.fix.as_ref().map_or("", |f| f.description.as_str()),
        );
    }
    if args.diff {
        return diff(&report, &plan);
    }
    fix(args, report, &plan)
}

/// What applying the applicable fixes of a report does.
#[derive(Default)]
struct Plan {
    /// The new text of every file whose text the applied fixes change, by source index.
    changed: BTreeMap<usize, Vec<u8>>,
    /// The edits applied, by source index, sorted by position.
    edits: BTreeMap<usize, Vec<Edit>>,
    /// The findings (indices into the report's diagnostics) whose fix is applied.
    applied: Vec<usize>,
    /// Findings whose fix overlaps a fix applied before it: the next run applies it.
    skipped: Vec<usize>,
    /// Findings whose fix is not applied, and why (it would break the file, or is malformed).
    refused: Vec<(usize, String)>,
    /// Unsafe fixes not applied because `--unsafe-fixes` is not given.
    unsafe_hidden: usize,
}

/// Whether two edits would touch the same bytes. Edits that only meet are applied in order
/// (an insertion at the start of a replaced range goes before the replacement); two insertions
/// at one offset conflict, since neither order is the obvious one.
fn overlaps(a: Span, b: Span) -> bool {
    (a.is_empty() && a == b) || (a.start < b.end && b.start < a.end)
}

/// The edits taken so far, by source index.
#[derive(Clone, Default)]
struct Selection {
    edits: HashMap<usize, Vec<Edit>>,
}

impl Selection {
    /// Takes a fix unless one of its edits overlaps an edit already taken. An edit identical
    /// to one already taken (two findings with the same fix) is taken once.
    fn try_add(&mut self, fix: &Fix) -> bool {
        let mut new = Vec::with_capacity(fix.edits.len());
        for e in &fix.edits {
            let taken = self
                .edits
                .get(&e.location.file)
                .map_or(&[][..], Vec::as_slice);
            if taken.contains(e) {
                continue;
            }
            if taken
                .iter()
                .any(|t| overlaps(t.location.span, e.location.span))
            {
                return false;
            }
            new.push(e.clone());
        }
        for e in new {
            self.edits.entry(e.location.file).or_default().push(e);
        }
        true
    }

    fn text(&self, report: &Report, file: usize) -> Vec<u8> {
        let source = &report.sources[file];
        match self.edits.get(&file) {
            Some(edits) => apply_edits(&source.text, edits),
            None => source.text.clone(),
        }
    }
}

/// Applies non-overlapping edits of one file, from the last to the first so that the offsets
/// of the ones still to apply stay valid. Nothing outside the edited ranges changes.
fn apply_edits(text: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.location.span.start, e.location.span.end));
    let mut out = text.to_vec();
    for e in sorted.into_iter().rev() {
        out.splice(e.location.span.range(), e.replacement.bytes());
    }
    out
}

/// A fix whose edits point outside their file or overlap each other cannot be applied.
fn validate(report: &Report, fix: &Fix) -> Result<(), String> {
    for (k, e) in fix.edits.iter().enumerate() {
        let Some(source) = report.sources.get(e.location.file) else {
            return Err("an edit points to an unknown file".to_string());
        };
        let span = e.location.span;
        if span.start > span.end || span.end as usize > source.text.len() {
            return Err(format!(
                "an edit ({}..{}) is outside {}",
                span.start, span.end, source.name
            ));
        }
        if fix.edits[..k]
            .iter()
            .any(|o| o.location.file == e.location.file && overlaps(o.location.span, span))
        {
            return Err("two of its edits overlap".to_string());
        }
    }
    Ok(())
}

/// Syntax errors counted by kind and message (not by position: the edits move them).
type ErrorCounts = HashMap<(ParseErrorKind, String), usize>;

fn syntax_errors(text: &[u8]) -> ErrorCounts {
    let mut counts = ErrorCounts::new();
    for e in nginx_parser::parse(text).errors {
        *counts.entry((e.kind, e.message)).or_default() += 1;
    }
    counts
}

/// Checks the edited text of files against their original text.
struct Guard<'r> {
    report: &'r Report,
    /// The syntax errors of the original nginx files, computed when first needed.
    baseline: HashMap<usize, ErrorCounts>,
}

impl Guard<'_> {
    /// Why the new text of a file must not be written: it has a syntax error the original does
    /// not have, or the original is UTF-8 and the new text is not.
    fn breakage(&mut self, file: usize, new: &[u8]) -> Option<String> {
        let source: &Source = &self.report.sources[file];
        if std::str::from_utf8(&source.text).is_ok() && std::str::from_utf8(new).is_err() {
            return Some(format!("it would leave invalid UTF-8 in {}", source.name));
        }
        if source.kind != Kind::Nginx {
            return None;
        }
        let baseline = self
            .baseline
            .entry(file)
            .or_insert_with(|| syntax_errors(&source.text));
        let mut remaining = baseline.clone();
        let lines = nginx_parser::LineIndex::new(new);
        for e in nginx_parser::parse(new).errors {
            match remaining.get_mut(&(e.kind, e.message.clone())) {
                Some(n) if *n > 0 => *n -= 1,
                _ => {
                    let (line, column) = lines.line_col(new, e.span.start);
                    return Some(format!(
                        "{} would no longer parse ({line}:{column}: {})",
                        source.name, e.message
                    ));
                }
            }
        }
        None
    }

    /// The first file touched by `files` whose new text in `selection` is broken.
    fn first_breakage(
        &mut self,
        selection: &Selection,
        files: impl IntoIterator<Item = usize>,
    ) -> Option<String> {
        let mut files: Vec<usize> = files.into_iter().collect();
        files.sort_unstable();
        files.dedup();
        files
            .into_iter()
            .find_map(|f| self.breakage(f, &selection.text(self.report, f)))
    }
}

fn plan(report: &Report, unsafe_fixes: bool) -> Plan {
    let mut plan = Plan::default();
    let fix_of = |i: usize| {
        report.diagnostics[i]
            .fix
            .as_ref()
            .expect("only findings with a fix are planned")
    };
    let mut candidates = Vec::new();
    for (i, d) in report.diagnostics.iter().enumerate() {
        let Some(fix) = &d.fix else { continue };
        if !fix.safe && !unsafe_fixes {
            plan.unsafe_hidden += 1;
            continue;
        }
        match validate(report, fix) {
            Ok(()) => candidates.push(i),
            Err(why) => plan.refused.push((i, why)),
        }
    }

    let mut selection = Selection::default();
    let mut taken = Vec::new();
    for i in candidates {
        if selection.try_add(fix_of(i)) {
            taken.push(i);
        } else {
            plan.skipped.push(i);
        }
    }

    // Usually every file is still fine with all the fixes at once. When one is not, find the
    // fixes that break it: take them one at a time, checking the files each one touches.
    let mut guard = Guard {
        report,
        baseline: HashMap::new(),
    };
    let touched = selection.edits.keys().copied().collect::<Vec<_>>();
    if guard.first_breakage(&selection, touched).is_some() {
        selection = Selection::default();
        let mut kept = Vec::with_capacity(taken.len());
        for i in taken {
            let fix = fix_of(i);
            let mut trial = selection.clone();
            let added = trial.try_add(fix);
            debug_assert!(added, "a subset of non-overlapping fixes does not overlap");
            match guard.first_breakage(&trial, fix.edits.iter().map(|e| e.location.file)) {
                Some(why) => plan.refused.push((i, why)),
                None => {
                    selection = trial;
                    kept.push(i);
                }
            }
        }
        taken = kept;
    }
    plan.refused.sort_by_key(|(i, _)| *i);
    plan.applied = taken;

    for (file, mut edits) in selection.edits {
        let source = &report.sources[file];
        let text = apply_edits(&source.text, &edits);
        edits.sort_by_key(|e| (e.location.span.start, e.location.span.end));
        plan.edits.insert(file, edits);
        if text != source.text {
            plan.changed.insert(file, text);
        }
    }
    plan
}

/// `name:line:column` of a finding, for messages.
fn position(report: &Report, d: &Diagnostic) -> String {
    let source = &report.sources[d.primary.location.file];
    let (line, column) = source.line_col(d.primary.location.span.start);
    format!("{}:{line}:{column}", source.name)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `fixed 2 findings in 1 file`, then what was left out and why.
fn summary(verb: &str, findings: usize, files: usize, plan: &Plan) -> String {
    let mut line = format!(
        "{verb} {} in {}",
        plural(findings, "finding"),
        plural(files, "file")
    );
    if !plan.skipped.is_empty() {
        let n = plan.skipped.len();
        line.push_str(&format!(
            "; {} skipped because {} another fix (run --fix again to apply {})",
            plural(n, "fix"),
            if n == 1 {
                "it overlaps"
            } else {
                "they overlap"
            },
            if n == 1 { "it" } else { "them" },
        ));
    }
    if !plan.refused.is_empty() {
        line.push_str(&format!(
            "; {} refused (see the warnings above)",
            plural(plan.refused.len(), "fix")
        ));
    }
    if plan.unsafe_hidden > 0 {
        let n = plan.unsafe_hidden;
        line.push_str(&format!(
            "; {} {} available with --unsafe-fixes",
            n,
            if n == 1 { "unsafe fix" } else { "unsafe fixes" }
        ));
    }
    line
}

/// `--diff`: the unified diff of every file `--fix` would change; writes nothing.
fn diff(report: &Report, plan: &Plan) -> ExitCode {
    for w in &report.warnings {
        eprintln!("waitlint: warning: {w}");
    }
    let mut files: Vec<(&Source, &Vec<u8>)> = plan
        .changed
        .iter()
        .map(|(&file, text)| (&report.sources[file], text))
        .collect();
    files.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = files
        .iter()
        .try_for_each(|(source, new)| {
            let old = crate::render::lossy(&source.text);
            let new = crate::render::lossy(new);
            let diff = similar::TextDiff::from_lines(&old, &new);
            write!(
                out,
                "{}",
                diff.unified_diff()
                    .header(&format!("a/{}", source.name), &format!("b/{}", source.name))
            )
        })
        .and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("waitlint: error: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    for f in &report.failures {
        eprintln!("waitlint: error: {}: {}", f.path, f.message);
    }
    eprintln!(
        "waitlint: {}",
        summary("would fix", plan.applied.len(), files.len(), plan)
    );
    if !report.failures.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::from(u8::from(!files.is_empty()))
    }
}

/// The source read from stdin (`-`), if any: it is never written, its fixed text goes to stdout.
fn stdin_source(report: &Report, args: &CheckArgs) -> Option<usize> {
    if !reads_stdin(args) {
        return None;
    }
    let name = stdin_name(args);
    report.sources.iter().position(|s| s.path == name)
}

fn reads_stdin(args: &CheckArgs) -> bool {
    args.paths.iter().any(|p| p.as_os_str() == "-")
}

fn stdin_name(args: &CheckArgs) -> PathBuf {
    args.stdin_filename
        .clone()
        .unwrap_or_else(|| PathBuf::from("<stdin>"))
}

/// `--fix`: write the changed files, print stdin's fixed text, lint again and report.
fn fix(args: &CheckArgs, report: Report, plan: &Plan) -> ExitCode {
    let stdin = stdin_source(&report, args);
    let mut failed: HashSet<usize> = HashSet::new();
    for (&file, text) in &plan.changed {
        if Some(file) == stdin {
            continue;
        }
        let source = &report.sources[file];
        if let Err(e) = write_atomically(&source.path, &source.text, text) {
            eprintln!(
                "waitlint: error: cannot write the fixes of {}: {e}",
                source.name
            );
            failed.insert(file);
        }
    }
    let fixed = plan
        .applied
        .iter()
        .filter(|&&i| {
            let fix = report.diagnostics[i].fix.as_ref();
            fix.is_some_and(|f| f.edits.iter().all(|e| !failed.contains(&e.location.file)))
        })
        .count();
    let files = plan.changed.len() - failed.len();

    if let Some(file) = stdin {
        let text = plan
            .changed
            .get(&file)
            .unwrap_or(&report.sources[file].text);
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text).and_then(|()| out.flush()) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("waitlint: error: cannot write output: {e}");
                return ExitCode::from(2);
            }
        }
    }

    let after = match relint(args, report, plan, stdin) {
        Ok(after) => after,
        Err(fatal) => {
            eprintln!("waitlint: error: {fatal}");
            return ExitCode::from(2);
        }
    };
    let status = crate::print_report(&after, args, reads_stdin(args));
    eprintln!("waitlint: {}", summary("fixed", fixed, files, plan));
    if failed.is_empty() {
        ExitCode::from(status)
    } else {
        ExitCode::from(2)
    }
}

/// Lints the same paths again, so that the report shows what remains. Standard input cannot be
/// read twice: its findings are the first run's minus the fixed ones, moved to where they are in
/// the fixed text.
fn relint(
    args: &CheckArgs,
    first: Report,
    plan: &Plan,
    stdin: Option<usize>,
) -> Result<Report, String> {
    let files: Vec<PathBuf> = args
        .paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    if !reads_stdin(args) {
        return check_again(args, files);
    }
    let mut after = if files.is_empty() {
        Report {
            sources: Vec::new(),
            diagnostics: Vec::new(),
            failures: Vec::new(),
            warnings: first.warnings,
            files_checked: 0,
        }
    } else {
        check_again(args, files)?
    };
    let stdin_display = display_name(&stdin_name(args));
    after.failures.extend(
        first
            .failures
            .into_iter()
            .filter(|f| f.path == stdin_display),
    );
    let Some(file) = stdin else {
        return Ok(after);
    };
    let applied: HashSet<usize> = plan.applied.iter().copied().collect();
    let edits = plan.edits.get(&file).map_or(&[][..], Vec::as_slice);
    let id = after.sources.len();
    for (i, mut d) in first.diagnostics.into_iter().enumerate() {
        if d.primary.location.file != file || applied.contains(&i) {
            continue;
        }
        let relocate = |l: &mut lints::Location| {
            if l.file == file {
                l.file = id;
                l.span = map_span(edits, l.span);
            }
        };
        relocate(&mut d.primary.location);
        for l in &mut d.secondary {
            relocate(&mut l.location);
        }
        if let Some(fix) = &mut d.fix {
            for e in &mut fix.edits {
                relocate(&mut e.location);
            }
        }
        after.diagnostics.push(d);
    }
    let mut sources = first.sources;
    let source = sources.swap_remove(file);
    let text = plan.changed.get(&file).cloned().unwrap_or(source.text);
    after
        .sources
        .push(Source::new(source.path, source.name, source.kind, text));
    after.files_checked += 1;
    let sources = &after.sources;
    after.diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            (
                sources[d.primary.location.file].name.clone(),
                d.primary.location.span.start,
                d.primary.location.span.end,
                d.rule.code,
                d.message.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    after.failures.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(after)
}

fn check_again(args: &CheckArgs, paths: Vec<PathBuf>) -> Result<Report, String> {
    let mut again = args.clone();
    again.paths = paths;
    let outcome = crate::run::check(&again);
    match outcome.fatal {
        Some(fatal) => Err(fatal),
        None => Ok(outcome.report),
    }
}

/// The name the report gives a path (as `run` does).
fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Where a span of the original text is in the text after `edits` (sorted, non-overlapping).
/// An end inside or at an edited range follows the replacement; a start inside one moves to its
/// start.
fn map_span(edits: &[Edit], span: Span) -> Span {
    let map = |offset: u32, is_end: bool| {
        let mut delta: i64 = 0;
        for e in edits {
            let (start, end) = (e.location.span.start, e.location.span.end);
            let added = e.replacement.len() as i64 - i64::from(end - start);
            if end < offset || (end == offset && !(is_end && start == end)) {
                delta += added;
            } else if start < offset {
                // Inside the edited range.
                let base = i64::from(start) + delta;
                return if is_end {
                    base + e.replacement.len() as i64
                } else {
                    base
                };
            } else {
                break;
            }
        }
        i64::from(offset) + delta
    };
    let start = map(span.start, false).max(0) as usize;
    let end = map(span.end, true).max(0) as usize;
    Span::new(start, end.max(start))
}

/// Replaces the file at `path` (through symlinks) with `text`, atomically: a temporary file in
/// the same directory, written, given the original's permissions (and owner, when allowed),
/// synced, then renamed over the original. Refuses when the file changed since it was read.
fn write_atomically(path: &Path, expected: &[u8], text: &[u8]) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    if std::fs::read(&target)? != expected {
        return Err(std::io::Error::other(
            "it changed since it was read (run again)",
        ));
    }
    // Fails, leaving nothing behind, when the file is not writable: the rename alone would
    // replace a read-only file.
    drop(std::fs::OpenOptions::new().write(true).open(&target)?);
    let metadata = std::fs::metadata(&target)?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".waitlint-fix-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(text)?;
    preserve_owner(tmp.as_file(), &metadata);
    tmp.as_file().set_permissions(metadata.permissions())?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Gives the new file the original's owner and group. Only root may give a file away, and only
/// to a group one belongs to otherwise: when not allowed, the file belongs to whoever ran
/// waitlint, as with any editor that saves by renaming.
#[cfg(unix)]
fn preserve_owner(file: &File, original: &Metadata) {
    use std::os::unix::fs::{fchown, MetadataExt};
    let Ok(now) = file.metadata() else { return };
    if now.uid() == original.uid() && now.gid() == original.gid() {
        return;
    }
    if fchown(file, Some(original.uid()), Some(original.gid())).is_err() {
        let _ = fchown(file, None, Some(original.gid()));
    }
}

#[cfg(not(unix))]
fn preserve_owner(_file: &File, _original: &Metadata) {}

/// Makes the rename durable (best effort: not every system can sync a directory).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;
    use lints::Location;

    fn edit(start: usize, end: usize, replacement: &str) -> Edit {
        Edit {
            location: Location::new(0, Span::new(start, end)),
            replacement: replacement.to_string(),
        }
    }

    #[test]
    fn edits_apply_from_the_end() {
        let text = b"keepalive_timeout 0; # keep\nkeepalive_requests 0;\n";
        let edits = [edit(47, 48, "1000"), edit(18, 19, "65s"), edit(20, 27, "")];
        assert_eq!(
            apply_edits(text, &edits),
            b"keepalive_timeout 65s;\nkeepalive_requests 1000;\n"
        );
    }

    #[test]
    fn insertion_goes_before_a_replacement_at_the_same_offset() {
        let edits = [edit(1, 2, "B"), edit(1, 1, "+")];
        assert_eq!(apply_edits(b"abc", &edits), b"a+Bc");
        let edits = [edit(0, 1, "A"), edit(1, 1, "+")];
        assert_eq!(apply_edits(b"abc", &edits), b"A+bc");
    }

    #[test]
    fn overlap_rules() {
        let s = Span::new;
        assert!(overlaps(s(0, 5), s(4, 6)));
        assert!(overlaps(s(2, 2), s(2, 2)));
        assert!(overlaps(s(3, 3), s(2, 5)));
        assert!(!overlaps(s(0, 5), s(5, 6)));
        assert!(!overlaps(s(2, 2), s(2, 5)));
        assert!(!overlaps(s(5, 5), s(2, 5)));
    }

    #[test]
    fn identical_edits_are_taken_once_and_overlapping_fixes_skipped() {
        let fix = |edits: Vec<Edit>| Fix {
            description: String::new(),
            edits,
            safe: true,
        };
        let mut selection = Selection::default();
        assert!(selection.try_add(&fix(vec![edit(0, 2, "x")])));
        assert!(selection.try_add(&fix(vec![edit(0, 2, "x")])));
        assert!(!selection.try_add(&fix(vec![edit(5, 6, "y"), edit(1, 3, "z")])));
        assert_eq!(selection.edits[&0], vec![edit(0, 2, "x")]);
    }

    fn report(text: &str, fixes: Vec<Fix>) -> Report {
        let source = Source::new(
            PathBuf::from("nginx.conf"),
            "nginx.conf".into(),
            Kind::Nginx,
            text.as_bytes().to_vec(),
        );
        let diagnostics = fixes
            .into_iter()
            .map(|f| {
                let at = f.edits[0].location;
                Diagnostic::new(&lints::meta::UNUSED_SUPPRESSION, at, "test").fix(f)
            })
            .collect();
        Report {
            sources: vec![source],
            diagnostics,
            failures: Vec::new(),
            warnings: Vec::new(),
            files_checked: 1,
        }
    }

    fn fix(safe: bool, edits: Vec<Edit>) -> Fix {
        Fix {
            description: "test".into(),
            edits,
            safe,
        }
    }

    #[test]
    fn plan_skips_overlaps_refuses_breakage_and_counts_hidden_unsafe_fixes() {
        let text = "http {\n    keepalive_timeout 0;\n    keepalive_requests 0;\n}\n";
        let t = text.find("0;").unwrap();
        let r = text.find("0;\n}").unwrap();
        let report = report(
            text,
            vec![
                fix(true, vec![edit(t, t + 1, "65s")]),
                // Overlaps the first.
                fix(true, vec![edit(t - 1, t + 2, " 1m;")]),
                // Removes a `;`: nginx would no longer parse the file.
                fix(true, vec![edit(r + 1, r + 2, "")]),
                fix(false, vec![edit(r, r + 1, "1000")]),
                // Outside the file.
                fix(true, vec![edit(text.len(), text.len() + 1, "")]),
            ],
        );
        let plan = plan(&report, false);
        assert_eq!(plan.applied, [0]);
        assert_eq!(plan.skipped, [1]);
        assert_eq!(
            plan.refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [2, 4]
        );
        assert!(
            plan.refused[0].1.contains("would no longer parse"),
            "{}",
            plan.refused[0].1
        );
        assert_eq!(plan.unsafe_hidden, 1);
        assert_eq!(
            String::from_utf8(plan.changed[&0].clone()).unwrap(),
            "http {\n    keepalive_timeout 65s;\n    keepalive_requests 0;\n}\n"
        );

        let plan = super::plan(&report, true);
        assert_eq!(plan.applied, [0, 3]);
        assert_eq!(plan.unsafe_hidden, 0);
        assert_eq!(
            String::from_utf8(plan.changed[&0].clone()).unwrap(),
            "http {\n    keepalive_timeout 65s;\n    keepalive_requests 1000;\n}\n"
        );
    }

    #[test]
    fn existing_syntax_errors_do_not_block_fixes() {
        // The missing `;` is there before: only new errors refuse a fix.
        let text = "http {\n    keepalive_timeout 0\n}\n";
        let t = text.find('0').unwrap();
        let report = report(text, vec![fix(true, vec![edit(t, t + 1, "65s")])]);
        let plan = plan(&report, false);
        assert_eq!(plan.applied, [0]);
        assert!(plan.refused.is_empty());
    }

    #[test]
    fn spans_follow_the_edits() {
        // "ab 0; cd" -> "ab 65s; cd"
        let edits = [edit(3, 4, "65s")];
        assert_eq!(map_span(&edits, Span::new(6, 8)), Span::new(8, 10));
        assert_eq!(map_span(&edits, Span::new(0, 2)), Span::new(0, 2));
        assert_eq!(map_span(&edits, Span::new(3, 4)), Span::new(3, 6));
        // A removed line before.
        let edits = [edit(0, 5, "")];
        assert_eq!(map_span(&edits, Span::new(7, 9)), Span::new(2, 4));
        // An insertion at a span's start moves it; at its end it does not grow it.
        let edits = [edit(4, 4, "xy")];
        assert_eq!(map_span(&edits, Span::new(4, 6)), Span::new(6, 8));
        assert_eq!(map_span(&edits, Span::new(2, 4)), Span::new(2, 4));
    }
}
