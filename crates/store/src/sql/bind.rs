//! Statements with a variable number of parameters (IN lists, "at or under one of these
//! scopes"), numbered as both databases read them.
//!
//! Not `sqlx::QueryBuilder`: under the `Any` driver it writes `?` placeholders, which
//! PostgreSQL rejects (sqlx issue #3000). [`Sql`] is the same idea with `$N`.

use super::error::StoreResult;
use secretstore_core::{ScopePath, Visible};
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::query::{Query, QueryAs};
use sqlx::{Arguments, AssertSqlSafe, Encode, FromRow, Type};
use std::fmt::Write;

/// A statement being built: its text, and the parameters bound so far.
pub(super) struct Sql {
    text: String,
    args: Result<AnyArguments, BoxDynError>,
}

impl Sql {
    /// A statement that starts with `text`.
    pub(super) fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            args: Ok(AnyArguments::default()),
        }
    }

    /// Appends SQL text (never a value: values go through [`bind`](Self::bind)).
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the placeholder of a new parameter bound to `value`.
    pub(super) fn bind<'t, T: Encode<'t, Any> + Type<Any> + 't>(&mut self, value: T) -> &mut Self {
        if let Ok(args) = &mut self.args {
            match args.add(value) {
                // `write!` into a String cannot fail.
                Ok(()) => _ = write!(self.text, "${}", args.len()),
                Err(e) => self.args = Err(e),
            }
        }
        self
    }

    /// Appends `(p1, p2, …)`, one parameter per item. The list must not be empty.
    pub(super) fn bind_list<'t, T: Encode<'t, Any> + Type<Any> + 't>(
        &mut self,
        items: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        self.push("(");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(item);
        }
        self.push(")")
    }

    /// Appends `(column = r OR column LIKE 'r/%' …)` for each root: the rows whose scope
    /// `column` is at or under one of `roots`. The list must not be empty.
    pub(super) fn under<'r>(
        &mut self,
        column: &str,
        roots: impl IntoIterator<Item = &'r str>,
    ) -> &mut Self {
        self.push("(");
        for (i, root) in roots.into_iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            self.push(column).push(" = ").bind(root.to_owned());
            self.push(" OR ").push(column).push(" LIKE ");
            self.bind(format!("{}/%", root.replace('_', "\\_")));
            self.push(" ESCAPE '\\'");
        }
        self.push(")")
    }

    /// Appends the condition that `column` names a scope in `visible`: at or under one of
    /// its subtrees, or one of its exact scopes. `visible` must not be empty.
    pub(super) fn visible(&mut self, column: &str, visible: &Visible) -> &mut Self {
        self.push("(");
        if !visible.subtrees.is_empty() {
            self.under(column, visible.subtrees.iter().map(ScopePath::as_str));
        }
        if !visible.exact.is_empty() {
            if !visible.subtrees.is_empty() {
                self.push(" OR ");
            }
            self.push(column)
                .push(" IN ")
                .bind_list(visible.exact.iter().map(|s| s.as_str().to_owned()));
        }
        self.push(")")
    }

    /// The statement, to execute.
    pub(super) fn query(self) -> StoreResult<Query<'static, Any, AnyArguments>> {
        let args = self.args.map_err(sqlx::Error::Encode)?;
        Ok(sqlx::query_with(AssertSqlSafe(self.text), args))
    }

    /// The statement, its rows read as `O`.
    pub(super) fn query_as<O: for<'r> FromRow<'r, AnyRow>>(
        self,
    ) -> StoreResult<QueryAs<'static, Any, O, AnyArguments>> {
        let args = self.args.map_err(sqlx::Error::Encode)?;
        Ok(sqlx::query_as_with(AssertSqlSafe(self.text), args))
    }
}
