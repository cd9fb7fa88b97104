//! The HTTP server under abuse: slow clients (slowloris) and one client opening hundreds of
//! connections do not starve other users.

use crate::common::{start_node, start_node_with};
use mycel_node::http::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS_PER_CLIENT};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// True when the server has closed `s` (reads end or fail) within `wait`.
async fn closed(s: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => true, // an answer (e.g. a timeout response) and then the close
        Err(_) => false,
    }
}

/// A client on 127.0.0.2 opens more connections than the per-client cap and trickles half a
/// request head on each: those beyond the cap are closed at once, the rest when the header
/// timeout ends, and meanwhile a user on 127.0.0.1 is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_greedy_clients_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let (_home, client) = start_node_with(dir.path(), true).await;
    let addr: std::net::SocketAddr = client.base().trim_start_matches("http://").parse().unwrap();
    let greedy = MAX_CONNECTIONS_PER_CLIENT + 88;
    let mut held = Vec::with_capacity(greedy);
    for _ in 0..greedy {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut s = sock.connect(addr).await.unwrap();
        let _ = s
            .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: slow\r\n")
            .await;
        held.push(s);
    }
    // Another user is answered while all of that is open.
    let status = tokio::time::timeout(Duration::from_secs(10), client.status())
        .await
        .expect("a user on another address was starved")
        .unwrap();
    assert!(status.height > 0 || status.chain_id.starts_with("mycel"));
    // The connections over the cap were closed at accept.
    let mut over = 0;
    for s in held.iter_mut() {
        if closed(s, Duration::from_millis(20)).await {
            over += 1;
        }
    }
    assert!(
        over >= 88,
        "only {over} of {greedy} connections were refused"
    );
    assert!(over < greedy, "the cap refused everything");
    // The slow ones are closed once the header timeout has passed.
    tokio::time::sleep(HEADER_READ_TIMEOUT + Duration::from_secs(1)).await;
    let mut still_open = 0;
    for s in held.iter_mut() {
        if !closed(s, Duration::from_millis(20)).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "slow clients keep their connections");
}

/// `GET /api/v1/status?after=H` is a long poll: it answers once a block above `H` is committed,
/// and with the head unchanged when its wait runs out; a malformed query is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_waits_for_a_block_above_after() {
    let dir = tempfile::tempdir().unwrap();
    let (_home, client) = start_node(dir.path()).await;
    let now = client.status().await.unwrap().height;
    let next = client
        .status_after(now, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        next.height > now,
        "answered at height {} without a block above {now}",
        next.height
    );
    let ahead = next.height + 1_000_000;
    let unchanged = client
        .status_after(ahead, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(unchanged.height < ahead);
    assert!(unchanged.height >= next.height);
    let bad = client
        .get::<serde_json::Value>("/api/v1/status?after=soon")
        .await;
    assert!(matches!(bad, Err(mycel_node::Error::Api { .. })), "{bad:?}");
}
