//! Randomness from the operating system's CSPRNG.

/// Fills a buffer from the OS random source. A failing OS random source is not something
/// to recover from: no token or id may ever be made from anything weaker.
pub fn fill(buf: &mut [u8]) {
    #[allow(
        clippy::expect_used,
        reason = "no safe fallback exists for a broken OS CSPRNG"
    )]
    getrandom::getrandom(buf).expect("the operating system's random source failed");
}

/// A random UUID v4, lower-case and hyphenated.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// True for a lower-case hyphenated UUID.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_valid_and_distinct() {
        let a = uuid_v4();
        assert!(is_uuid(&a), "{a}");
        assert_ne!(a, uuid_v4());
        for bad in [
            "",
            "../etc/passwd",
            "0190E7A4-5B1C-4F3E-9A2B-1C2D3E4F5A6B",
            "x",
        ] {
            assert!(!is_uuid(bad));
        }
    }
}
