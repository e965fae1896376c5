//! The dotenv reader of `secret import`: any text, never a panic; an error names at most
//! the entry before it (never a value); what it reads, written back by the env-file
//! writer, reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secretstore_core::SecretValue;
use secretstore_core::dotenv::{parse, render};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(entries) => {
            let env: Vec<(String, SecretValue)> = entries
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), SecretValue::new(v.to_string()).ok()?)))
                .collect();
            let again = parse(&render(&env)).expect("the writer's output reads back");
            assert_eq!(again.len(), env.len());
            for ((k1, v1), (k2, v2)) in env.iter().zip(again.iter()) {
                assert_eq!(k1, k2);
                assert_eq!(v1.expose_secret(), v2.as_str());
            }
        }
        Err(e) => {
            if let Some(after) = &e.after {
                // The name of an entry that was read, not a piece of a value.
                assert!(parse(text).is_err());
                assert!(
                    after
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                );
            }
        }
    }
});
