//! Output into a closed pipe (`secretstore audit | head -1`) panicked: "error: internal
//! error at …/stdio.rs", exit 101. It now ends quietly, as a program ended by SIGPIPE.

use super::*;

#[test]
fn output_into_a_closed_pipe_panicked_with_internal_error() {
    let e = Env::new();
    e.run(&["org", "create", "acme"]).ok();
    for args in [&["audit"][..], &["audit", "--json"], &["keygen"]] {
        // The reading end is closed before the command starts: its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = e
            .command(args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
