//! The functions a syntax visitor is inside, for the rules that stay quiet in the code that
//! implements the switch they look for (a crate's own `fn set_zero_linger`, `fn force_close`):
//! such code sets the option because that is its job, not as a choice of its caller. A rule's
//! visitor keeps an [`EnclosingFns`] field and lets [`track_enclosing_fns!`] write the two
//! `Visit` methods that maintain it.

/// The names of the free functions and methods being visited, outermost first.
#[derive(Default)]
pub struct EnclosingFns(Vec<String>);

impl EnclosingFns {
    pub fn enter(&mut self, name: &syn::Ident) {
        self.0.push(name.to_string());
    }

    pub fn leave(&mut self) {
        self.0.pop();
    }

    /// The innermost enclosing function's name.
    pub fn innermost(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// Whether the innermost enclosing function's name satisfies `pred`.
    pub fn innermost_is(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.0.last().is_some_and(|name| pred(name))
    }

    /// Whether any enclosing function's name satisfies `pred`.
    pub fn any_is(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.0.iter().any(|name| pred(name))
    }
}

/// Inside `impl<'a> Visit<'a> for V`, `track_enclosing_fns!('a, field)` writes `visit_item_fn`
/// and `visit_impl_item_fn` so that `self.field` (an [`EnclosingFns`]) names the functions
/// being visited.
macro_rules! track_enclosing_fns {
    ($lt:lifetime, $field:ident) => {
        fn visit_item_fn(&mut self, f: &$lt syn::ItemFn) {
            self.$field.enter(&f.sig.ident);
            syn::visit::visit_item_fn(self, f);
            self.$field.leave();
        }

        fn visit_impl_item_fn(&mut self, f: &$lt syn::ImplItemFn) {
            self.$field.enter(&f.sig.ident);
            syn::visit::visit_impl_item_fn(self, f);
            self.$field.leave();
        }
    };
}
pub(crate) use track_enclosing_fns;
