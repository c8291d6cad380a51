//! Where a setting applies. Client keep-alive settings are evaluated per location: a value set
//! in `http` applies to every server and location that does not set its own. Rules report a
//! value where it is written, with labels on the servers that inherit it, and stay quiet (or
//! say it is dead) when every context below overrides it.

use std::collections::BTreeMap;

use super::model::{ContextKind, Entry, Model, NodeId};
use crate::diagnostic::Diagnostic;

/// One written value of a directive and the request contexts it governs.
pub struct Setting<'t> {
    pub entry: Entry<'t>,
    /// The context it is written in.
    pub node: NodeId,
    /// Request contexts (leaf servers and locations) where this value is the effective one.
    pub users: Vec<NodeId>,
    /// Whether any request context exists below `node` at all. When none does (a snippet, an
    /// `http {}` whose servers live in files that were not found), the value applies to whatever
    /// includes it and is judged as written.
    pub has_contexts_below: bool,
}

impl Setting<'_> {
    /// Every context below overrides it: the value never applies.
    pub fn is_dead(&self) -> bool {
        self.users.is_empty() && self.has_contexts_below
    }
}

fn is_below(model: &Model<'_>, node: NodeId, ancestor: NodeId) -> bool {
    let mut cur = Some(node);
    while let Some(n) = cur {
        if n == ancestor {
            return true;
        }
        cur = model.nodes[n].parent;
    }
    false
}

/// Every value of `name` written in an http-family context, with where it is effective.
pub fn settings<'t>(model: &Model<'t>, name: &str) -> Vec<Setting<'t>> {
    let contexts = model.request_contexts();
    let mut by_node: BTreeMap<(NodeId, u32, usize), Setting<'t>> = BTreeMap::new();
    for (node, n) in model.nodes.iter().enumerate() {
        if !matches!(
            n.kind,
            ContextKind::Http | ContextKind::Server | ContextKind::Location | ContextKind::If
        ) {
            continue;
        }
        if let Some(entry) = model.local(node, name) {
            let has_contexts_below = contexts.iter().any(|&c| is_below(model, c, node));
            by_node.insert(
                (node, entry.directive.span.start, entry.file),
                Setting {
                    entry,
                    node,
                    users: Vec::new(),
                    has_contexts_below,
                },
            );
        }
    }
    for &c in &contexts {
        if let Some((node, entry)) = model.effective(c, name) {
            if let Some(s) = by_node.get_mut(&(node, entry.directive.span.start, entry.file)) {
                s.users.push(c);
            }
        }
    }
    by_node.into_values().collect()
}

/// Request contexts where no value of `name` is written anywhere up the chain: nginx's default
/// applies there.
pub fn default_users(model: &Model<'_>, name: &str) -> Vec<NodeId> {
    model
        .request_contexts()
        .into_iter()
        .filter(|&c| model.effective(c, name).is_none())
        .collect()
}

/// Most servers labelled on one diagnostic; the rest are counted in a note.
const MAX_LABELS: usize = 5;

/// Labels each server that inherits the setting from a higher level (a setting written in the
/// server itself, or in a location, needs no such label).
pub fn label_inheritors(
    mut d: Diagnostic,
    model: &Model<'_>,
    setting: &Setting<'_>,
    what: &str,
) -> Diagnostic {
    if model.nodes[setting.node].kind != ContextKind::Http {
        return d;
    }
    let mut servers: Vec<NodeId> = setting
        .users
        .iter()
        .filter_map(|&u| model.server_of(u))
        .collect();
    servers.dedup();
    let total = servers.len();
    for &s in servers.iter().take(MAX_LABELS) {
        if let Some(at) = model.opener_location(s) {
            d = d.label(at, format!("this server inherits {what}"));
        }
    }
    if total > MAX_LABELS {
        d = d.note(format!("{} more servers inherit it", total - MAX_LABELS));
    }
    d
}

/// The informational diagnostic for a value that every context below overrides.
pub fn dead(
    rule: &'static crate::registry::Rule,
    model: &Model<'_>,
    setting: &Setting<'_>,
) -> Diagnostic {
    let d = setting.entry.directive;
    let mut diag = Diagnostic::new(
        rule,
        setting.entry.head(),
        format!(
            "`{}` here is overridden everywhere below and never applies",
            d.head_text()
        ),
    )
    .primary_label("no server or location uses this value");
    diag.severity = crate::diagnostic::Severity::Info;
    // Point at a block below that really sets its own value (not merely the first child,
    // which may be an upstream or a server that overrides nothing).
    let name = d.name.text();
    let overrider = (0..model.nodes.len()).find(|&n| {
        n != setting.node
            && matches!(
                model.nodes[n].kind,
                ContextKind::Server | ContextKind::Location | ContextKind::If
            )
            && is_below(model, n, setting.node)
            && model.local(n, &name).is_some()
    });
    if let Some(at) = overrider.and_then(|n| model.opener_location(n)) {
        diag = diag.label(at, "for example, this block sets its own value");
    }
    diag.help("remove it, or keep it only if you expect servers that do not override it")
}
