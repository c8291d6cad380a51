//! Recognising calls and values in syntax, without types: paths as written (after `use`),
//! literal zeros in their common spellings, and file-level constants.

use std::collections::HashMap;

use syn::{Expr, Item, Lit};

/// The last segments of a path expression, as strings: `std::time::Duration::from_secs` gives
/// `["std", "time", "Duration", "from_secs"]`.
pub fn path_segments(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Path(p) => Some(
            p.path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
        ),
        Expr::Paren(p) => path_segments(&p.expr),
        _ => None,
    }
}

/// Whether a path ends with `tail` (`Duration::ZERO` matches `["Duration", "ZERO"]` and
/// `std::time::Duration::ZERO`).
pub fn path_ends_with(expr: &Expr, tail: &[&str]) -> bool {
    path_segments(expr).is_some_and(|s| {
        s.len() >= tail.len()
            && s[s.len() - tail.len()..]
                .iter()
                .zip(tail)
                .all(|(a, b)| a == b)
    })
}

/// An integer literal equal to zero (`0`, `0u64`, `0_0`), through parentheses and casts.
pub fn is_zero_int(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse::<u128>().ok() == Some(0),
            Lit::Float(f) => f.base10_parse::<f64>().ok() == Some(0.0),
            _ => false,
        },
        Expr::Paren(p) => is_zero_int(&p.expr),
        Expr::Cast(c) => is_zero_int(&c.expr),
        _ => false,
    }
}

/// Values of `const NAME: T = EXPR;` and `static NAME: T = EXPR;` items at any depth of the
/// file, by name, so that `set_linger(Some(NO_LINGER))` can be judged.
pub fn file_constants(file: &syn::File) -> HashMap<String, &Expr> {
    let mut out = HashMap::new();
    let mut stack: Vec<&Item> = file.items.iter().collect();
    while let Some(item) = stack.pop() {
        match item {
            Item::Const(c) => {
                out.insert(c.ident.to_string(), &*c.expr);
            }
            Item::Static(s) => {
                out.insert(s.ident.to_string(), &*s.expr);
            }
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    stack.extend(items.iter());
                }
            }
            _ => {}
        }
    }
    out
}

/// A `Duration` of zero: `Duration::ZERO`, `Duration::from_secs(0)` (and `from_millis`,
/// `from_micros`, `from_nanos`, `from_secs_f32/f64`), `Duration::new(0, 0)`, or a constant of
/// the file with such a value. `depth` bounds constant chasing.
pub fn is_zero_duration(expr: &Expr, consts: &HashMap<String, &Expr>) -> bool {
    is_zero_duration_at(expr, consts, 0)
}

fn is_zero_duration_at(expr: &Expr, consts: &HashMap<String, &Expr>, depth: u8) -> bool {
    if depth > 8 {
        return false;
    }
    match expr {
        Expr::Paren(p) => is_zero_duration_at(&p.expr, consts, depth + 1),
        Expr::Path(_) if path_ends_with(expr, &["Duration", "ZERO"]) => true,
        Expr::Path(p) if p.path.segments.len() == 1 => {
            let name = p.path.segments[0].ident.to_string();
            consts
                .get(&name)
                .is_some_and(|v| is_zero_duration_at(v, consts, depth + 1))
        }
        Expr::Call(call) => {
            let ctor = [
                "from_secs",
                "from_millis",
                "from_micros",
                "from_nanos",
                "from_secs_f32",
                "from_secs_f64",
            ];
            if ctor
                .iter()
                .any(|c| path_ends_with(&call.func, &["Duration", c]))
            {
                return call.args.len() == 1 && is_zero_int(&call.args[0]);
            }
            if path_ends_with(&call.func, &["Duration", "new"]) {
                return call.args.len() == 2 && call.args.iter().all(is_zero_int);
            }
            false
        }
        _ => false,
    }
}

/// `Some(x)` → `x`.
pub fn unwrap_some(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Call(call) if path_ends_with(&call.func, &["Some"]) && call.args.len() == 1 => {
            Some(&call.args[0])
        }
        Expr::Paren(p) => unwrap_some(&p.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Expr {
        syn::parse_str(s).unwrap()
    }

    #[test]
    fn zero_durations() {
        let consts = HashMap::new();
        for z in [
            "Duration::ZERO",
            "std::time::Duration::ZERO",
            "Duration::from_secs(0)",
            "Duration::from_millis(0u64)",
            "Duration::new(0, 0)",
            "(Duration::from_nanos(0))",
            "Duration::from_secs_f64(0.0)",
        ] {
            assert!(is_zero_duration(&expr(z), &consts), "{z}");
        }
        for nz in [
            "Duration::from_secs(1)",
            "Duration::new(0, 1)",
            "Duration::MAX",
            "timeout",
            "Duration::from_secs(n)",
        ] {
            assert!(!is_zero_duration(&expr(nz), &consts), "{nz}");
        }
    }

    #[test]
    fn constants_are_followed() {
        let file: syn::File = syn::parse_str(
            "const NO_LINGER: Duration = Duration::from_secs(0); const A: Duration = NO_LINGER;",
        )
        .unwrap();
        let consts = file_constants(&file);
        assert!(is_zero_duration(&expr("NO_LINGER"), &consts));
        assert!(is_zero_duration(&expr("A"), &consts));
    }
}
