//! A seeded fault-injecting TCP proxy for tests and benches of flaky links: loss, latency and
//! resets between a client and its upstream, replayable from a seed.
//!
//! # Fault model
//!
//! TCP never drops bytes silently, so loss is modelled by what it costs a TCP stream. Each
//! direction of each connection is forwarded in chunks of at most [`CHUNK`] bytes (one `read`).
//! For every chunk the proxy asks its [`Decider`], in this order:
//!
//! 1. **cut**: with probability `cut_pct`% both sockets are reset (RST) and the chunk is dropped;
//! 2. **loss**: with probability `loss_pct`% the chunk is "lost" and waits a retransmission
//!    timeout before delivery: 200 ms, doubling with each consecutive lost chunk in that direction,
//!    capped at 1.6 s (TCP's exponential backoff); a chunk delivered first time resets it;
//! 3. **delay**: an extra latency drawn uniformly from `delay_ms` (min..=max).
//!
//! Delivered bytes arrive intact and in order. Waits are paid in sequence, so a late chunk holds
//! back the ones behind it (head-of-line blocking, as in TCP). Half-closes are forwarded; an
//! error on either socket resets both.
//!
//! # Replay
//!
//! Each direction of connection `n` (numbered in accept order from 0) draws from its own PRNG
//! seeded by `(seed, n, direction)`, and every chunk makes the same three draws whatever the
//! outcome, so the decision for chunk `k` depends only on those and on the [`Faults`] in force.
//! [`spawn`] prints the seed; put it back into [`Faults::seed`] (or `MYCEL_NETFAULT_SEED` where the
//! test takes its seed from [`seed`]) to replay a run. Chunk boundaries follow how the kernel
//! splits reads, so a replay repeats the per-chunk decisions exactly and the byte trace closely.
//!
//! # Link down
//!
//! [`Proxy::pause`] models a link going down: existing connections are reset and new ones are
//! accepted and reset at once, until it is lifted.
//!
//! [`spawn_in_netns`] runs the same proxy inside a Linux network namespace, and [`in_netns`] runs
//! any closure there (to bind a listener or connect from a namespace).

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{ReadHalf, WriteHalf},
    },
    sync::watch,
    task::{JoinHandle, JoinSet},
};

/// The most bytes forwarded as one chunk, the unit of every fault decision.
pub const CHUNK: usize = 16 * 1024;
/// The first retransmission timeout of a lost chunk.
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// The cap of the retransmission backoff.
pub const RTO_MAX: Duration = Duration::from_millis(1600);

/// The faults a proxy injects; see the module docs for the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Seeds every connection's decisions.
    pub seed: u64,
    /// Percent of chunks lost, each paying a retransmission timeout.
    pub loss_pct: u8,
    /// Extra latency per chunk, drawn uniformly from `min..=max` milliseconds.
    pub delay_ms: (u64, u64),
    /// Percent of chunks on which the connection is reset.
    pub cut_pct: u8,
}

impl Faults {
    /// A clean link.
    pub const fn none() -> Self {
        Self {
            seed: 0,
            loss_pct: 0,
            delay_ms: (0, 0),
            cut_pct: 0,
        }
    }

    /// `loss_pct`% of chunks lost, nothing else.
    pub const fn lossy(seed: u64, loss_pct: u8) -> Self {
        Self {
            seed,
            loss_pct,
            ..Self::none()
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::none()
    }
}

/// A seed for a test run: `MYCEL_NETFAULT_SEED` when set (to replay a failure), else random.
pub fn seed() -> u64 {
    std::env::var("MYCEL_NETFAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(rand::random)
}

/// Which way a chunk travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the upstream.
    ToUpstream,
    /// From the upstream back to the client.
    ToClient,
}

/// What happens to one chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The chunk is delivered after `delay` (which includes the retransmission timeout if `lost`).
    Deliver {
        /// Whether the chunk was lost once and retransmitted.
        lost: bool,
        /// How long the chunk waits before delivery.
        delay: Duration,
    },
    /// The connection is reset.
    Cut,
}

/// The decision stream of one direction of one connection: a SplitMix64 PRNG (self-written so
/// that a `rand` upgrade cannot change replays) and the retransmission backoff.
#[derive(Clone, Debug)]
pub struct Decider {
    state: u64,
    /// The timeout the next lost chunk pays; `None` after a chunk delivered first time.
    backoff: Option<Duration>,
}

impl Decider {
    /// The stream of direction `dir` of connection `conn` under `seed`.
    pub fn new(seed: u64, conn: u64, dir: Direction) -> Self {
        let lane = conn.wrapping_mul(2).wrapping_add(dir as u64);
        let mut state = seed ^ lane.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let state = splitmix64(&mut state);
        Self {
            state,
            backoff: None,
        }
    }

    /// The decision for the next chunk under `faults`.
    pub fn next(&mut self, faults: &Faults) -> Decision {
        // Always three draws, so that the stream does not shift when the percentages change.
        let cut = splitmix64(&mut self.state) % 100 < u64::from(faults.cut_pct);
        let lost = splitmix64(&mut self.state) % 100 < u64::from(faults.loss_pct);
        let jitter = splitmix64(&mut self.state);
        if cut {
            return Decision::Cut;
        }
        let (min, max) = faults.delay_ms;
        let extra = match max.saturating_sub(min).checked_add(1) {
            Some(span) => min + jitter % span,
            None => jitter,
        };
        let mut delay = Duration::from_millis(extra);
        if lost {
            let rto = self.backoff.unwrap_or(RTO_MIN);
            delay += rto;
            self.backoff = Some((rto * 2).min(RTO_MAX));
        } else {
            self.backoff = None;
        }
        Decision::Deliver { lost, delay }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a proxy has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Connections accepted while the link was up.
    pub connections: u64,
    /// Connections accepted and reset while the link was down.
    pub refused: u64,
    /// Chunks read, in both directions.
    pub chunks: u64,
    /// Chunks lost (and delivered late).
    pub lost: u64,
    /// Connections reset by a cut decision.
    pub cuts: u64,
    /// Connections reset because the link went down.
    pub link_resets: u64,
    /// Bytes delivered, in both directions.
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    refused: AtomicU64,
    chunks: AtomicU64,
    lost: AtomicU64,
    cuts: AtomicU64,
    link_resets: AtomicU64,
    bytes: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// State shared by the accept loop, the connections and the control handles.
struct Shared {
    upstream: SocketAddr,
    faults: Mutex<Faults>,
    paused: watch::Sender<bool>,
    next_conn: AtomicU64,
    counters: Counters,
}

impl Shared {
    fn faults(&self) -> Faults {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_faults(&self, local: SocketAddr, faults: Faults) {
        let old = std::mem::replace(
            &mut *self.faults.lock().unwrap_or_else(PoisonError::into_inner),
            faults,
        );
        if old.seed != faults.seed {
            announce(local, self.upstream, &faults);
        }
    }

    fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            connections: get(&c.connections),
            refused: get(&c.refused),
            chunks: get(&c.chunks),
            lost: get(&c.lost),
            cuts: get(&c.cuts),
            link_resets: get(&c.link_resets),
            bytes: get(&c.bytes),
        }
    }
}

fn announce(local: SocketAddr, upstream: SocketAddr, f: &Faults) {
    eprintln!(
        "netfault: {local} -> {upstream} seed={} loss={}% delay={}..={}ms cut={}%",
        f.seed, f.loss_pct, f.delay_ms.0, f.delay_ms.1, f.cut_pct
    );
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    shared: Arc<Shared>,
    local: SocketAddr,
    accept: JoinHandle<()>,
}

/// Starts a proxy on `listen` (port 0 for a free one) forwarding to `upstream`.
pub async fn spawn(listen: SocketAddr, upstream: SocketAddr, faults: Faults) -> io::Result<Proxy> {
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let shared = Arc::new(Shared {
        upstream,
        faults: Mutex::new(faults),
        paused: watch::Sender::new(false),
        next_conn: AtomicU64::new(0),
        counters: Counters::default(),
    });
    announce(local, upstream, &faults);
    let accept = tokio::spawn(accept_loop(listener, shared.clone()));
    Ok(Proxy {
        shared,
        local,
        accept,
    })
}

impl Proxy {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Changes the faults; open connections keep their PRNG and use the new rates from their next
    /// chunk, new connections also take the new seed.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(self.local, faults);
    }

    /// Takes the link down (`true`: every connection reset, new ones refused) or back up.
    pub fn pause(&self, down: bool) {
        self.shared.paused.send_replace(down);
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The accept task owns the connections' JoinSet, which aborts them when dropped.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) if *shared.paused.borrow() => {
                    bump(&shared.counters.refused, 1);
                    reset(client);
                }
                Ok((client, _)) => {
                    let n = shared.next_conn.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(connection(client, n, shared.clone()));
                }
                // Out of descriptors and the like: back off rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// How a connection ended.
enum End {
    /// Both directions closed cleanly.
    Closed,
    /// A cut decision or a socket error: reset both sides.
    Reset,
    /// The link went down.
    LinkDown,
}

async fn connection(mut client: TcpStream, n: u64, shared: Arc<Shared>) {
    bump(&shared.counters.connections, 1);
    let mut paused = shared.paused.subscribe();
    let upstream = tokio::select! {
        up = TcpStream::connect(shared.upstream) => up.ok(),
        _ = paused.wait_for(|down| *down) => None,
    };
    let Some(mut upstream) = upstream else {
        reset(client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let seed = shared.faults().seed;
    let end = {
        let (client_rx, client_tx) = client.split();
        let (upstream_rx, upstream_tx) = upstream.split();
        let up = pump(
            client_rx,
            upstream_tx,
            Decider::new(seed, n, Direction::ToUpstream),
            &shared,
        );
        let down = pump(
            upstream_rx,
            client_tx,
            Decider::new(seed, n, Direction::ToClient),
            &shared,
        );
        tokio::select! {
            both = async { tokio::try_join!(up, down) } => match both {
                Ok(_) => End::Closed,
                Err(()) => End::Reset,
            },
            _ = paused.wait_for(|down| *down) => End::LinkDown,
        }
    };
    match end {
        End::Closed => {}
        End::Reset => {
            reset(client);
            reset(upstream);
        }
        End::LinkDown => {
            bump(&shared.counters.link_resets, 1);
            reset(client);
            reset(upstream);
        }
    }
}

/// Forwards one direction until EOF (then half-closes) or a reset (`Err`).
async fn pump(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    mut decider: Decider,
    shared: &Shared,
) -> Result<(), ()> {
    let counters = &shared.counters;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).await.map_err(drop)?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        bump(&counters.chunks, 1);
        match decider.next(&shared.faults()) {
            Decision::Cut => {
                bump(&counters.cuts, 1);
                return Err(());
            }
            Decision::Deliver { lost, delay } => {
                if lost {
                    bump(&counters.lost, 1);
                }
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                to.write_all(&buf[..n]).await.map_err(drop)?;
                bump(&counters.bytes, n as u64);
            }
        }
    }
}

/// Closes with RST rather than FIN, as a dropped link or a timed-out TCP would.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
}

/// A proxy running on its own thread inside a network namespace; it stops when dropped.
#[cfg(target_os = "linux")]
pub struct ProxyHandle {
    shared: Arc<Shared>,
    local: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a proxy inside the network namespace `ns` (a name under `/var/run/netns`, as `ip netns`
/// makes, or an absolute path such as `/proc/PID/ns/net`): `listen` and `upstream` are addresses
/// in that namespace. It runs on a dedicated thread with a current-thread runtime, so it needs no
/// runtime from the caller.
#[cfg(target_os = "linux")]
pub fn spawn_in_netns(
    ns: &str,
    listen: SocketAddr,
    upstream: SocketAddr,
    faults: Faults,
) -> io::Result<ProxyHandle> {
    let ns_file = open_netns(ns)?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("netfault-{ns}"))
        .spawn(move || {
            let runtime = enter_netns(&ns_file).and_then(|()| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            });
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                match spawn(listen, upstream, faults).await {
                    Ok(proxy) => {
                        let _ = ready_tx.send(Ok((proxy.shared.clone(), proxy.local)));
                        // Until the handle is dropped (or sends).
                        let _ = stop_rx.await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
    let (shared, local) = ready_rx
        .recv()
        .map_err(|_| io::Error::other("netfault: proxy thread exited before starting"))??;
    Ok(ProxyHandle {
        shared,
        local,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

#[cfg(target_os = "linux")]
impl ProxyHandle {
    /// The address clients connect to, inside the namespace.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// See [`Proxy::set_faults`].
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(self.local, faults);
    }

    /// See [`Proxy::pause`].
    pub fn pause(&self, down: bool) {
        self.shared.paused.send_replace(down);
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

#[cfg(target_os = "linux")]
impl Drop for ProxyHandle {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `f` on a fresh thread inside the network namespace `ns` (as in [`spawn_in_netns`]).
/// Sockets it creates stay in that namespace wherever they are used afterwards.
#[cfg(target_os = "linux")]
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let ns_file = open_netns(ns)?;
    std::thread::scope(|s| {
        s.spawn(|| enter_netns(&ns_file).map(|()| f()))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(target_os = "linux")]
fn open_netns(ns: &str) -> io::Result<std::fs::File> {
    let path = if ns.starts_with('/') {
        std::path::PathBuf::from(ns)
    } else {
        std::path::Path::new("/var/run/netns").join(ns)
    };
    std::fs::File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("netns {}: {e}", path.display())))
}

/// Moves the calling thread into the network namespace behind `ns`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn enter_netns(ns: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `ns` is an open file for the whole call; setns reads nothing from our memory and
    // changes only this thread's network namespace.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCALHOST: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    // Hang protection only: no test asserts on timing.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// An upstream that echoes every connection until EOF.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(LOCALHOST).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut rx, mut tx) = conn.split();
                    if tokio::io::copy(&mut rx, &mut tx).await.is_ok() {
                        let _ = tx.shutdown().await;
                    }
                });
            }
        });
        addr
    }

    fn payload(len: usize) -> Vec<u8> {
        let mut state = 42;
        (0..len).map(|_| splitmix64(&mut state) as u8).collect()
    }

    /// Sends `data` through `addr` and returns what comes back.
    async fn round_trip(addr: SocketAddr, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut conn = TcpStream::connect(addr).await?;
        let (mut rx, mut tx) = conn.split();
        let send = async {
            tx.write_all(data).await?;
            tx.shutdown().await
        };
        let mut back = Vec::new();
        let recv = rx.read_to_end(&mut back);
        tokio::time::timeout(PATIENCE, async { tokio::try_join!(send, recv) })
            .await
            .expect("round trip hung")?;
        Ok(back)
    }

    fn decisions(seed: u64, conn: u64, dir: Direction, faults: &Faults, n: usize) -> Vec<Decision> {
        let mut d = Decider::new(seed, conn, dir);
        (0..n).map(|_| d.next(faults)).collect()
    }

    #[tokio::test]
    async fn bytes_arrive_intact_under_loss() {
        const SEED: u64 = 7;
        let data = payload(200 * 1024);
        let faults = Faults::lossy(SEED, 30);
        // Every read is at most CHUNK bytes, so the upload makes at least this many decisions;
        // under this seed one of them is a loss, whatever the kernel's read sizes.
        let min_chunks = data.len().div_ceil(CHUNK);
        let early = decisions(SEED, 0, Direction::ToUpstream, &faults, min_chunks);
        assert!(
            early
                .iter()
                .any(|d| matches!(d, Decision::Deliver { lost: true, .. }))
        );

        let proxy = spawn(LOCALHOST, echo_server().await, faults).await.unwrap();
        let back = round_trip(proxy.local_addr(), &data).await.unwrap();
        assert!(
            back == data,
            "echo differs: {} bytes back of {}",
            back.len(),
            data.len()
        );
        let stats = proxy.stats();
        assert_eq!(stats.connections, 1);
        assert!(stats.lost >= 1, "{stats:?}");
        assert_eq!(stats.bytes, 2 * data.len() as u64);
        assert_eq!(stats.cuts, 0);
    }

    #[test]
    fn same_seed_same_decisions() {
        let faults = Faults {
            seed: 0,
            loss_pct: 30,
            delay_ms: (5, 50),
            cut_pct: 2,
        };
        let a = decisions(11, 3, Direction::ToClient, &faults, 1000);
        assert_eq!(a, decisions(11, 3, Direction::ToClient, &faults, 1000));
        assert_ne!(a, decisions(12, 3, Direction::ToClient, &faults, 1000));
        assert_ne!(a, decisions(11, 4, Direction::ToClient, &faults, 1000));
        assert_ne!(a, decisions(11, 3, Direction::ToUpstream, &faults, 1000));

        // The rates are honoured (deterministic under this seed, with a wide margin).
        let lost = a
            .iter()
            .filter(|d| matches!(d, Decision::Deliver { lost: true, .. }))
            .count();
        let cuts = a.iter().filter(|d| **d == Decision::Cut).count();
        assert!((200..400).contains(&lost), "{lost} lost of 1000");
        assert!((5..50).contains(&cuts), "{cuts} cuts of 1000");
        for d in &a {
            if let Decision::Deliver { lost: false, delay } = d {
                assert!((5..=50).contains(&delay.as_millis()), "{delay:?}");
            }
        }
    }

    #[test]
    fn rates_do_not_shift_the_stream() {
        // Three draws per chunk whatever the outcome: chunk k's delay draw is the same whether
        // or not earlier chunks were lost.
        let clean = Faults {
            delay_ms: (0, 1000),
            ..Faults::none()
        };
        let lossy = Faults {
            loss_pct: 50,
            ..clean
        };
        let a = decisions(5, 0, Direction::ToClient, &clean, 200);
        let b = decisions(5, 0, Direction::ToClient, &lossy, 200);
        for (a, b) in a.iter().zip(&b) {
            let (Decision::Deliver { delay: da, .. }, Decision::Deliver { lost, delay: db }) =
                (a, b)
            else {
                panic!("no cuts configured");
            };
            if !lost {
                assert_eq!(da, db);
            }
        }
    }

    #[test]
    fn retransmission_backoff_doubles_and_caps() {
        let all_lost = Faults::lossy(1, 100);
        let delays: Vec<u64> = decisions(1, 0, Direction::ToUpstream, &all_lost, 6)
            .into_iter()
            .map(|d| match d {
                Decision::Deliver { lost: true, delay } => delay.as_millis() as u64,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [200, 400, 800, 1600, 1600, 1600]);
        let none = decisions(1, 0, Direction::ToUpstream, &Faults::none(), 100);
        assert!(none.iter().all(|d| *d
            == Decision::Deliver {
                lost: false,
                delay: Duration::ZERO
            }));
    }

    #[tokio::test]
    async fn cut_resets_the_connection() {
        let cut_all = Faults {
            cut_pct: 100,
            ..Faults::none()
        };
        let proxy = spawn(LOCALHOST, echo_server().await, cut_all)
            .await
            .unwrap();
        assert!(round_trip(proxy.local_addr(), b"hello").await.is_err());
        assert_eq!(proxy.stats().cuts, 1);
        assert_eq!(proxy.stats().bytes, 0);

        proxy.set_faults(Faults::none());
        assert_eq!(
            round_trip(proxy.local_addr(), b"hello").await.unwrap(),
            b"hello"
        );
    }

    #[tokio::test]
    async fn pause_resets_connections() {
        let proxy = spawn(LOCALHOST, echo_server().await, Faults::none())
            .await
            .unwrap();
        let mut open = TcpStream::connect(proxy.local_addr()).await.unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        proxy.pause(true);
        // The open connection is reset, not closed cleanly and not left hanging.
        let read = tokio::time::timeout(PATIENCE, open.read(&mut buf))
            .await
            .expect("read hung");
        assert_eq!(read.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        // New connections are refused while the link is down.
        assert!(round_trip(proxy.local_addr(), b"ping").await.is_err());
        let stats = proxy.stats();
        assert_eq!((stats.link_resets, stats.refused), (1, 1), "{stats:?}");

        proxy.pause(false);
        assert_eq!(
            round_trip(proxy.local_addr(), b"pong").await.unwrap(),
            b"pong"
        );
    }
}
