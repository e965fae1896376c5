//! The Fernet keyring: any key list and any token (a database row, a file another tool
//! wrote), never a panic. What the ring encrypts decrypts to the same bytes, by the newest
//! key; a token with any byte changed never decrypts; a token of an older key opens with
//! that key.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use secretstore_store::Keyring;
use std::sync::OnceLock;

#[derive(Arbitrary, Debug)]
struct Input {
    keys: String,
    token: String,
    plaintext: Vec<u8>,
    flip: usize,
    mask: u8,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE;

fn rings() -> &'static (Keyring, Keyring) {
    static RINGS: OnceLock<(Keyring, Keyring)> = OnceLock::new();
    RINGS.get_or_init(|| {
        let (new, old) = (Keyring::generate_key(), Keyring::generate_key());
        let both = Keyring::parse(&format!("{new},{old}")).expect("two keys");
        let old_only = Keyring::parse(&old).expect("one key");
        (both, old_only)
    })
}

fuzz_target!(|input: Input| {
    let _ = Keyring::parse(&input.keys).map(|k| k.decrypt(&input.token));
    let (both, old_only) = rings();
    let _ = both.decrypt(&input.token);
    let _ = secretstore_store::crypto::token_timestamp(&input.token);

    let token = both.encrypt(&input.plaintext);
    let (plain, index) = both.decrypt_with_index(&token).expect("its own token");
    assert_eq!((plain.as_slice(), index), (input.plaintext.as_slice(), 0));
    assert!(
        old_only.decrypt(&token).is_err(),
        "the old key opened the new key's token"
    );

    let older = old_only.encrypt(&input.plaintext);
    let (plain, index) = both
        .decrypt_with_index(&older)
        .expect("an older key's token");
    assert_eq!((plain.as_slice(), index), (input.plaintext.as_slice(), 1));

    let mut raw = B64.decode(&token).expect("a token is base64");
    let at = input.flip % raw.len();
    let mask = input.mask.max(1);
    raw[at] ^= mask;
    assert!(
        both.decrypt(&B64.encode(&raw)).is_err(),
        "a changed token decrypted"
    );
});
