//! The value backends that are configured, by kind.

use crate::error::{Error, Result};
use crate::model::BackendKind;
use crate::ports::ValueBackend;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The value backends that are configured, by kind.
#[derive(Clone, Default)]
pub struct Backends {
    map: BTreeMap<BackendKind, Arc<dyn ValueBackend>>,
    /// Why a backend is missing, with a hint, for the error a user sees.
    missing: BTreeMap<BackendKind, (String, String)>,
}

impl Backends {
    /// No backend configured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the backend of `backend.kind()`.
    pub fn with(mut self, backend: Arc<dyn ValueBackend>) -> Self {
        self.map.insert(backend.kind(), backend);
        self
    }

    /// Every configured backend replaced by `wrap(backend)` (which keeps its kind): a
    /// decorator, such as the server's metrics, around each.
    pub fn map_each(
        mut self,
        wrap: impl Fn(Arc<dyn ValueBackend>) -> Arc<dyn ValueBackend>,
    ) -> Self {
        for backend in self.map.values_mut() {
            *backend = wrap(Arc::clone(backend));
        }
        self
    }

    /// Records why `kind` is not available and what to do about it.
    pub fn without(
        mut self,
        kind: BackendKind,
        why: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        self.missing.insert(kind, (why.into(), hint.into()));
        self
    }

    /// The backend of `kind`, or `NotConfigured` saying why it is missing.
    pub fn get(&self, kind: BackendKind) -> Result<&Arc<dyn ValueBackend>> {
        self.map
            .get(&kind)
            .ok_or_else(|| match self.missing.get(&kind) {
                Some((why, hint)) => Error::NotConfigured {
                    message: why.clone(),
                    hint: Some(hint.clone()),
                },
                None => Error::NotConfigured {
                    message: format!("the {kind} backend is not configured"),
                    hint: Some("see the README's section on backends".to_owned()),
                },
            })
    }
}
