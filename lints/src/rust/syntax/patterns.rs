//! What a pattern accepts of an I/O result, as written: `Ok(0)`, `Err(..)`, `None`. Every rule
//! that asks which arm end of stream or a failure reaches reads patterns through these.

use syn::Pat;

/// A variant pattern's name (its path's last segment) and its field when it has exactly one:
/// `Ok(n)` → `("Ok", Some(n))`, `Err(_)` → `("Err", Some(_))`.
pub fn variant(pat: &Pat) -> Option<(String, Option<&Pat>)> {
    let Pat::TupleStruct(t) = pat else {
        return None;
    };
    let name = t.path.segments.last()?.ident.to_string();
    Some((name, t.elems.first().filter(|_| t.elems.len() == 1)))
}

/// `Ok(0)`, alone or as one alternative of an or-pattern.
pub fn is_ok_zero(pat: &Pat) -> bool {
    match pat {
        Pat::Or(o) => o.cases.iter().any(is_ok_zero),
        Pat::Paren(p) => is_ok_zero(&p.pat),
        p => matches!(variant(p), Some((name, Some(Pat::Lit(l))))
            if name == "Ok" && matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == "0")),
    }
}

/// `None` as a path (`None`, `Option::None`) or as the bare identifier syn parses it as.
pub fn is_none(pat: &Pat) -> bool {
    match pat {
        Pat::Ident(i) => i.ident == "None" && i.subpat.is_none(),
        Pat::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "None"),
        _ => false,
    }
}

/// Whether some alternative of the pattern is an `Err(..)` (through guards, parentheses and
/// `e @ ..` bindings): `Ok(0) | Err(_)` may be an error.
pub fn may_be_err(pat: &Pat) -> bool {
    errs(pat, false)
}

/// Whether every alternative of the pattern is an `Err(..)`: an arm only a failure reaches.
pub fn only_err(pat: &Pat) -> bool {
    errs(pat, true)
}

fn errs(pat: &Pat, every: bool) -> bool {
    match pat {
        Pat::Or(o) if every => o.cases.iter().all(|c| errs(c, every)),
        Pat::Or(o) => o.cases.iter().any(|c| errs(c, every)),
        Pat::Guard(g) => errs(&g.pat, every),
        Pat::Paren(p) => errs(&p.pat, every),
        Pat::Ident(i) => i.subpat.as_ref().is_some_and(|(_, p)| errs(p, every)),
        p => variant(p).is_some_and(|(name, _)| name == "Err"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(src: &str) -> Pat {
        let arm: syn::Arm = syn::parse_str(&format!("{src} => ()")).unwrap();
        arm.pat
    }

    #[test]
    fn ok_zero_is_found_in_alternatives_and_parentheses() {
        for p in ["Ok(0)", "io::Result::Ok(0)", "Ok(0) | Err(_)", "(Ok(0))"] {
            assert!(is_ok_zero(&pat(p)), "{p}");
        }
        for p in ["Ok(n)", "Ok(1)", "Err(0)", "Some(0)", "_"] {
            assert!(!is_ok_zero(&pat(p)), "{p}");
        }
    }

    #[test]
    fn error_patterns_tell_some_alternative_from_every_alternative() {
        for p in [
            "Err(_)",
            "Err(e) if e.kind() == K",
            "e @ Err(_)",
            "(Err(_))",
            "Err(a) | Err(b)",
        ] {
            assert!(only_err(&pat(p)) && may_be_err(&pat(p)), "{p}");
        }
        let mixed = pat("Ok(0) | Err(_)");
        assert!(may_be_err(&mixed) && !only_err(&mixed));
        for p in ["Ok(_)", "_", "e", "None"] {
            assert!(!may_be_err(&pat(p)), "{p}");
        }
    }

    #[test]
    fn none_is_a_path_or_a_bare_identifier() {
        assert!(is_none(&pat("None")) && is_none(&pat("Option::None")));
        assert!(!is_none(&pat("Some(x)")) && !is_none(&pat("none")));
    }
}
