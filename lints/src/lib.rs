//! Rule registry, diagnostics model and rules (issue 3 onwards).
