//! The value backends that are configured, by kind.

use crate::error::{Error, Result};
use crate::generator::{GeneratorKind, Minter};
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
    /// The providers of per-task credentials, by generator.
    minters: BTreeMap<GeneratorKind, Arc<dyn Minter>>,
    /// Why a provider is missing, with a hint.
    missing_minters: BTreeMap<GeneratorKind, (String, String)>,
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

    /// Adds (or replaces) the provider of `minter.kind()`'s credentials.
    pub fn with_minter(mut self, minter: Arc<dyn Minter>) -> Self {
        self.minters.insert(minter.kind(), minter);
        self
    }

    /// Records why the provider of `kind` is not available and what to do about it.
    pub fn without_minter(
        mut self,
        kind: GeneratorKind,
        why: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        self.missing_minters.insert(kind, (why.into(), hint.into()));
        self
    }

    /// The provider of `kind`'s credentials, or `NotConfigured` saying why it is missing.
    pub fn minter(&self, kind: GeneratorKind) -> Result<&Arc<dyn Minter>> {
        self.minters
            .get(&kind)
            .ok_or_else(|| match self.missing_minters.get(&kind) {
                Some((why, hint)) => Error::NotConfigured {
                    message: why.clone(),
                    hint: Some(hint.clone()),
                },
                None => Error::NotConfigured {
                    message: format!("the {kind} generator is not configured"),
                    hint: Some("see the README's section on per-task credentials".to_owned()),
                },
            })
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
