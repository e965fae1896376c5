//! The env file `dispatch --env-file` writes: any names and values a dispatch can hand
//! out, written and read back, are the same names and values, in order — no value can
//! end early, run into the next entry or add one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secretstore_core::dotenv::{parse, quote, render};
use secretstore_core::{SecretName, SecretValue};

fuzz_target!(|entries: Vec<(String, String)>| {
    let env: Vec<(String, SecretValue)> = entries
        .into_iter()
        .filter_map(|(k, v)| {
            let name = SecretName::parse(&k).ok()?;
            Some((name.as_str().to_owned(), SecretValue::new(v).ok()?))
        })
        .collect();
    let text = render(&env);
    let back = parse(&text).expect("an env file written by render reads back");
    assert_eq!(back.len(), env.len());
    for ((k1, v1), (k2, v2)) in env.iter().zip(back.iter()) {
        assert_eq!(k1, k2);
        assert_eq!(v1.expose_secret(), v2.as_str());
        // One value alone, quoted, reads back too.
        let one = parse(&format!("{k1}={}", quote(v1.expose_secret()))).expect("one entry");
        assert_eq!(one[0].1.as_str(), v1.expose_secret());
    }
});
