//! The test services: `scripts/services.sh start` prints their `SECRETSTORE_TEST_*`
//! variables (`scripts/test.sh` evaluates them). Every name is read here.

/// The variable `var`, or a panic that says how to start the test services.
#[track_caller]
pub fn need(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with scripts/test.sh, or eval \"$(scripts/services.sh start)\" \
             first (it starts moto, OpenBao and PostgreSQL)"
        )
    })
}

/// The URL of the shared moto server (`SECRETSTORE_TEST_MOTO_URL`).
#[track_caller]
pub fn moto_url() -> String {
    need("SECRETSTORE_TEST_MOTO_URL")
}

/// The `moto_server` program, for a test's own server (`SECRETSTORE_TEST_MOTO_SERVER`).
#[track_caller]
pub fn moto_server() -> String {
    need("SECRETSTORE_TEST_MOTO_SERVER")
}

/// The address of the OpenBao dev server (`SECRETSTORE_TEST_VAULT_ADDR`).
#[track_caller]
pub fn vault_addr() -> String {
    need("SECRETSTORE_TEST_VAULT_ADDR")
}

/// Its root token (`SECRETSTORE_TEST_VAULT_TOKEN`).
#[track_caller]
pub fn vault_token() -> String {
    need("SECRETSTORE_TEST_VAULT_TOKEN")
}

/// The OpenBao server's address and root token when both are set: the tests that only
/// add Vault when it runs.
pub fn vault_if_running() -> Option<(String, String)> {
    match (
        std::env::var("SECRETSTORE_TEST_VAULT_ADDR"),
        std::env::var("SECRETSTORE_TEST_VAULT_TOKEN"),
    ) {
        (Ok(addr), Ok(token)) => Some((addr, token)),
        _ => None,
    }
}

/// The `bao` program (`SECRETSTORE_TEST_BAO`).
#[track_caller]
pub fn bao() -> String {
    need("SECRETSTORE_TEST_BAO")
}

/// The Python with pinned `cryptography` and `boto3` (`SECRETSTORE_TEST_PYTHON`).
#[track_caller]
pub fn python() -> String {
    need("SECRETSTORE_TEST_PYTHON")
}
