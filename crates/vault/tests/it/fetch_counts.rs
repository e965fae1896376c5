//! How a fetch of many refs talks to Vault, counted on the wire: a loopback proxy in front
//! of the real OpenBao dev server counts the connections secretstore opens and the reads
//! it sends (the proxy forwards every byte; OpenBao answers).

use secretstore_core::{Fetch, ScopePath, SecretName, SecretValue, StoredMaterial, ValueBackend};
use secretstore_vault::{VaultBackend, VaultSettings};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy saw.
#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    reads: AtomicUsize,
}

/// Forwards 127.0.0.1:PORT to `upstream`, counting connections and KV v2 data reads.
async fn proxy(upstream: String) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            c.connections.fetch_add(1, Ordering::SeqCst);
            let (c, upstream) = (c.clone(), upstream.clone());
            tokio::spawn(async move {
                let server = TcpStream::connect(upstream.trim_start_matches("http://"))
                    .await
                    .unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 16384];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        seen.extend_from_slice(&buf[..n]);
                        let needle = b"GET /v1/secret/data/";
                        while let Some(at) = seen.windows(needle.len()).position(|w| w == needle) {
                            c.reads.fetch_add(1, Ordering::SeqCst);
                            seen.drain(..at + needle.len());
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, counts)
}

#[tokio::test]
async fn a_fetch_of_n_vault_refs_sends_n_reads_at_once_over_a_pool_of_kept_connections() {
    let addr = secretstore_testkit::services::vault_addr();
    let token = || SecretValue::new(secretstore_testkit::services::vault_token()).unwrap();
    let direct = VaultBackend::new(VaultSettings::new(addr.clone(), token())).unwrap();
    let scope = ScopePath::parse(&format!("acme/t{}", secretstore_testkit::unique())).unwrap();
    let mut materials: Vec<StoredMaterial> = Vec::new();
    for i in 0..20 {
        let name = SecretName::parse(&format!("COUNTED_{i}")).unwrap();
        let value = SecretValue::new(format!("value-{i}")).unwrap();
        materials.push(
            direct
                .write(&scope, &name, &value, None)
                .await
                .unwrap()
                .material,
        );
    }
    let (via, counts) = proxy(addr).await;
    let settings = VaultSettings::new(via, token());
    let concurrency = settings.concurrency;
    let backend = VaultBackend::new(settings).unwrap();
    let refs: Vec<&StoredMaterial> = materials.iter().collect();

    let got = backend.fetch(&refs, Fetch::Current).await;
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            r.as_ref().unwrap().value.expose_secret(),
            format!("value-{i}")
        );
    }
    let (reads, connections) = (
        counts.reads.load(Ordering::SeqCst),
        counts.connections.load(Ordering::SeqCst),
    );
    assert_eq!(reads, 20, "one read per ref");
    assert!(
        (2..=concurrency).contains(&connections),
        "{connections} connections for 20 reads: asked at once (more than one), at most \
         {concurrency} (the concurrency setting)"
    );

    // Again: the same kept-alive connections, no new ones.
    let again = backend.fetch(&refs, Fetch::Current).await;
    assert!(again.iter().all(Result::is_ok));
    assert_eq!(counts.reads.load(Ordering::SeqCst), 40);
    assert_eq!(
        counts.connections.load(Ordering::SeqCst),
        connections,
        "the second fetch reused the pool"
    );
    println!(
        "20 Vault refs: 20 reads over {connections} connections (concurrency {concurrency}), reused by the next fetch"
    );
}
