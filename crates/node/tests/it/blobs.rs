//! Blob uploads under abuse: unsigned, forged and unfunded uploads are refused, an account's
//! uploads stop at its quota, and concurrent uploads of one body all succeed.

use crate::common::start_node_configured;
use mycel_node::{Error, http::blobs::upload_headers, keystore::Keystore};
use mycel_primitives::keys::private_key_from_seed;
use mycel_store::blob_hash;

const QUOTA: u64 = 3 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_signed_funded_and_within_quota() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) =
        start_node_configured(dir.path(), false, |c| c.blob_quota_bytes = QUOTA).await;
    let dev0 = Keystore::new(home.keys_dir())
        .load("dev0")
        .unwrap()
        .private_key()
        .unwrap();
    let url = format!("{}/api/v1/blobs", client.base());
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, headers: Vec<(&'static str, String)>| {
        let mut r = http.post(&url).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let code = |v: serde_json::Value| v["error"]["code"].as_str().unwrap_or("").to_string();

    // Anonymous: refused.
    let r = post(b"anonymous".to_vec(), vec![]).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(code(r.json().await.unwrap()), "unsigned_upload");
    // A signature over another body: refused.
    let r = post(
        b"this body".to_vec(),
        upload_headers(&dev0, b"another body").to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(code(r.json().await.unwrap()), "bad_signature");
    // A key made for the occasion holds nothing: refused.
    let fresh = private_key_from_seed(b"sybil");
    let r = client.put_blob(&fresh, b"sybil data".to_vec()).await;
    assert!(
        matches!(&r, Err(Error::Api { code, .. }) if code == "unfunded_uploader"),
        "{r:?}"
    );
    assert!(
        !home
            .blobs_dir()
            .join(&blob_hash(b"sybil data").to_hex()[..2])
            .exists()
    );

    // Eight concurrent uploads of one 1 MiB body all succeed, and are charged once.
    let body: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 253) as u8).collect();
    let uploads = (0..8).map(|_| client.put_blob(&dev0, body.clone()));
    for r in futures::future::join_all(uploads).await {
        assert_eq!(r.unwrap(), blob_hash(&body));
    }
    assert_eq!(client.get_blob(&blob_hash(&body)).await.unwrap(), body);
    // Two more MiB fill the quota; one byte more is refused; a known blob still costs nothing.
    let two: Vec<u8> = (0..(2u32 << 20)).map(|i| (i % 241) as u8).collect();
    client.put_blob(&dev0, two).await.unwrap();
    let r = client.put_blob(&dev0, b"x".to_vec()).await;
    assert!(
        matches!(&r, Err(Error::Api { code, .. }) if code == "upload_quota_exceeded"),
        "{r:?}"
    );
    client.put_blob(&dev0, body.clone()).await.unwrap();
    // Another funded account has its own quota.
    let dev1 = Keystore::new(home.keys_dir())
        .load("dev1")
        .unwrap()
        .private_key()
        .unwrap();
    client.put_blob(&dev1, b"x".to_vec()).await.unwrap();
}
