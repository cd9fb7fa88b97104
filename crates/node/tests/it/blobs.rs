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

/// Two nodes of one chain, each the other's blob peer: an upload to one is pushed to the other;
/// a blob only one holds is fetched through the other (checked, kept) and served in ranges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_move_between_nodes() {
    use crate::common::FullNode;
    let dir = tempfile::tempdir().unwrap();
    let full = FullNode::prepare(dir.path());
    let full_api = format!("http://{}", full.api);
    let (home, a) = start_node_configured(dir.path(), false, |c| {
        c.peers.push(full.peer());
        c.blob_peers = vec![full_api];
        c.blob_replicas = 1;
    })
    .await;
    let a_api = a.base().to_string();
    let b = full
        .start(&home, |c| {
            c.blob_peers = vec![a_api];
            c.blob_replicas = 0;
        })
        .await;
    let dev0 = Keystore::new(home.keys_dir())
        .load("dev0")
        .unwrap()
        .private_key()
        .unwrap();
    let http = reqwest::Client::new();
    let local = |base: &str, h: &mycel_primitives::Hash| {
        http.get(format!("{base}/api/v1/blobs/{h}?local=1")).send()
    };

    // An upload to A is pushed to B, signed by the same uploader.
    let x = b"a manifest every node should hold".to_vec();
    let hx = a.put_blob(&dev0, x.clone()).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !local(b.base(), &hx).await.unwrap().status().is_success() {
        assert!(std::time::Instant::now() < deadline, "never replicated");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // An upload to B (which pushes nowhere) is fetched through A from B, and kept by A.
    let y: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let hy = b.put_blob(&dev0, y.clone()).await.unwrap();
    assert_eq!(local(a.base(), &hy).await.unwrap().status(), 404);
    assert_eq!(a.get_blob(&hy).await.unwrap(), y);
    assert!(local(a.base(), &hy).await.unwrap().status().is_success());
    // Ranges, for resumption.
    let r = http
        .get(format!("{}/api/v1/blobs/{hy}", a.base()))
        .header("range", "bytes=99990-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &y[99_990..]);
    let r = http
        .get(format!("{}/api/v1/blobs/{hy}", a.base()))
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    // A blob nobody holds: a typed 404 naming the peers' answer.
    let missing = mycel_store::blob_hash(b"nobody has this");
    let r = a.get_blob(&missing).await;
    assert!(
        matches!(&r, Err(Error::Api { code, .. }) if code == "not_found"),
        "{r:?}"
    );
}

/// Uploads nothing references are deleted after the grace period and their bytes go back to the
/// quota; a registered dataset's manifest, signature table and chunks (uploaded from another
/// home, so only the chain's manifest lists them) are kept and released from the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreferenced_uploads_are_collected_and_referenced_ones_kept() {
    use mycel_data::{
        ingest::{self, AddOptions, Format},
        profile::Profile,
    };
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node_configured(dir.path(), false, |c| {
        c.blob_quota_bytes = 1 << 20;
        c.blob_grace_secs = 4;
    })
    .await;
    let dev0 = Keystore::new(home.keys_dir())
        .load("dev0")
        .unwrap()
        .private_key()
        .unwrap();
    let http = reqwest::Client::new();
    let held = |h: mycel_primitives::Hash| {
        let url = format!("{}/api/v1/blobs/{h}?local=1", client.base());
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };

    // A contributor ingests in its own home and registers through the node: the node holds
    // the chunks only as uploads.
    let mine = dir.path().join("contributor");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for i in 0..3u32 {
        let text: String = (0..400)
            .map(|j| format!("w{} ", (i * 7919 + j * 31) % 997))
            .collect();
        std::fs::write(docs.join(format!("doc{i}.txt")), text).unwrap();
    }
    let report = ingest::add(
        &mine,
        &docs,
        &Format::Text,
        &AddOptions {
            license: Some("MIT".into()),
            consent: Some("train".into()),
            signer: Some(dev0.clone()),
            ..AddOptions::default()
        },
        &Profile::text_v1(),
    )
    .unwrap();
    let m = ingest::load_manifest(&mine, &report.registration.root.to_hex()).unwrap();
    mycel_node::services::data::register(
        &mycel_node::Home(mine.clone()),
        &client,
        &dev0,
        &m,
        mycel_primitives::Amount::from_myc(10),
        None,
    )
    .await
    .unwrap();
    let ds: serde_json::Value = client
        .get(&format!("/api/v1/datasets/{}", m.root))
        .await
        .unwrap();
    let reg = &ds["registration"];
    let hash = |k: &str| mycel_primitives::Hash::from_hex(reg[k].as_str().unwrap()).unwrap();
    let mut kept = vec![hash("manifest"), hash("signatures")];
    kept.extend(
        m.entries
            .iter()
            .filter(|e| e.novel)
            .flat_map(|e| e.chunks.iter().map(|c| c.hash)),
    );
    assert!(kept.len() > 2, "the dataset claims chunks");

    // 700 KiB nothing references: the quota has no room for 700 KiB more.
    let junk: Vec<u8> = (0..700u32 << 10).map(|i| (i % 239) as u8).collect();
    let more: Vec<u8> = (0..700u32 << 10).map(|i| (i % 233) as u8).collect();
    let hj = client.put_blob(&dev0, junk.clone()).await.unwrap();
    let r = client.put_blob(&dev0, more.clone()).await;
    assert!(
        matches!(&r, Err(Error::Api { code, .. }) if code == "upload_quota_exceeded"),
        "{r:?}"
    );
    // After the grace period the junk is deleted; the dataset is not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while held(hj).await != 404 {
        assert!(std::time::Instant::now() < deadline, "junk never collected");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    for h in &kept {
        assert_eq!(held(*h).await, 200, "referenced blob {h} was deleted");
    }
    // Its bytes are back in the quota: it can be uploaded again, and is served again.
    assert_eq!(client.put_blob(&dev0, junk.clone()).await.unwrap(), hj);
    assert_eq!(client.get_blob(&hj).await.unwrap(), junk);
    // Charged again: still no room for 700 KiB more beside it.
    let r = client.put_blob(&dev0, more).await;
    assert!(
        matches!(&r, Err(Error::Api { code, .. }) if code == "upload_quota_exceeded"),
        "{r:?}"
    );
}

/// Two nodes that are not each other's blob peers: a blob uploaded to one is found by the
/// other through the chain, at the endpoint a worker's offer publishes (which serves its node's
/// copy), checked and kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_finds_a_blob_through_a_workers_offer() {
    use crate::{
        common::FullNode,
        session::{GenRunner, ReverseEngine},
    };
    use mycel_node::roles::worker::{Worker, WorkerConfig, sessions::SessionServer};
    let dir = tempfile::tempdir().unwrap();
    let full = FullNode::prepare(dir.path());
    let (home, a) = start_node_configured(dir.path(), false, |c| {
        c.peers.push(full.peer());
        c.blob_replicas = 0;
    })
    .await;
    let b = full.start(&home, |c| c.blob_replicas = 0).await;
    let ks = Keystore::new(home.keys_dir());
    let dev0 = ks.load("dev0").unwrap().private_key().unwrap();
    let worker_key = ks.load("dev1").unwrap().private_key().unwrap();

    // A blob only A holds; B has no blob peers and no worker offers to ask yet.
    let x: Vec<u8> = (0..50_000u32).map(|i| (i % 247) as u8).collect();
    let hx = a.put_blob(&dev0, x.clone()).await.unwrap();
    let r = b.get_blob(&hx).await;
    assert!(
        matches!(&r, Err(Error::Api { code, .. }) if code == "not_found"),
        "{r:?}"
    );

    // A worker attached to A publishes its endpoint in an offer.
    let server = SessionServer::open(
        ReverseEngine,
        worker_key.clone(),
        a.clone(),
        dir.path().join("receipts"),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let app = server.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Worker::new(
        a.clone(),
        worker_key,
        GenRunner,
        WorkerConfig {
            endpoint,
            ..Default::default()
        },
    )
    .register()
    .await
    .unwrap();

    // Once B has finalized the offer, it fetches the blob there, checks it and keeps it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let got = loop {
        match b.get_blob(&hx).await {
            Ok(got) => break got,
            Err(e) => assert!(std::time::Instant::now() < deadline, "never found: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(got, x);
    assert_eq!(b.get_blob_local(&hx).await.unwrap(), x);
}
