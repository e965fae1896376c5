//! One module per resource.

pub mod accounts;
pub mod audit;
pub mod boot;
pub mod briefs;
pub mod health;
pub mod leaks;
pub mod leases;
pub mod scopes;
pub mod search;
pub mod secrets;
pub mod sessions;
pub mod tasks;
