//! A Linux network-namespace topology for end-to-end tests over real links: a hub and edges, each
//! edge on its own veth link to the hub, cut and healed with `ip link`. It needs root and
//! `ip netns`; tests that use it fail (never skip) without them, with [`available`]'s reason.

use mycel_bench::netfault::{self, Faults};
use std::{
    io::{self, Read, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

/// Makes namespace names unique within the process (`cargo test` runs tests on threads).
static SEQ: AtomicU32 = AtomicU32::new(0);

/// A hub namespace and `edges` edge namespaces, edge `i` linked to the hub by a veth pair on
/// `10.X.i.0/24` (hub `.1`, edge `.2`). Edges route everything through the hub, which forwards
/// between them. Dropping it deletes the namespaces; a process still running in one keeps that
/// namespace and its links alive until it exits, so kill children first.
pub struct Topology {
    hub: String,
    edges: Vec<String>,
    /// Interface names are `{short}h{i}` (hub side) and `{short}e{i}` (edge side).
    short: String,
    /// The `X` of `10.X.i.0/24`.
    net: u8,
}

impl Topology {
    /// Creates `<prefix>-<pid>-<n>-hub` and `<prefix>-<pid>-<n>-e<i>`, unique per process and per
    /// topology in it, after removing stale namespaces of the same names.
    pub fn new(prefix: &str, edges: usize) -> io::Result<Topology> {
        assert!(edges <= 254, "one /24 per edge in 10.X.0.0/16");
        let pid = std::process::id();
        let base = format!("{prefix}-{pid}-{}", SEQ.fetch_add(1, Ordering::Relaxed));
        let topo = Topology {
            hub: format!("{base}-hub"),
            edges: (0..edges).map(|i| format!("{base}-e{i}")).collect(),
            // Interfaces live only inside these namespaces, so the names need not be globally
            // unique; pid_max (2^22) keeps them within the 15-character limit.
            short: format!("v{pid:x}"),
            net: (pid % 250) as u8 + 1,
        };
        // Built before the first namespace exists, so that a failure half way cleans up on drop.
        for ns in topo.namespaces() {
            let _ = ip(&["netns", "del", ns]);
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        // Edge-to-edge traffic crosses the hub; /proc/sys/net is per namespace.
        sh_in(&topo.hub, "echo 1 > /proc/sys/net/ipv4/ip_forward")?;
        for i in 0..edges {
            let (h, e) = (topo.hub_if(i), topo.edge_if(i));
            let edge = &topo.edges[i];
            ip(&[
                "-n", &topo.hub, "link", "add", &h, "type", "veth", "peer", "name", &e, "netns",
                edge,
            ])?;
            ip(&[
                "-n",
                &topo.hub,
                "addr",
                "add",
                &format!("{}/24", topo.hub_addr_for(i)),
                "dev",
                &h,
            ])?;
            ip(&[
                "-n",
                edge,
                "addr",
                "add",
                &format!("{}/24", topo.edge_addr(i)),
                "dev",
                &e,
            ])?;
            topo.link_up(i)?;
        }
        Ok(topo)
    }

    /// The hub's namespace name.
    pub fn hub_ns(&self) -> &str {
        &self.hub
    }

    /// Edge `i`'s namespace name.
    pub fn edge_ns(&self, i: usize) -> &str {
        &self.edges[i]
    }

    /// The hub's address on edge `i`'s link: what edge `i` dials to reach the hub.
    pub fn hub_addr_for(&self, i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, self.net, i as u8, 1))
    }

    /// Edge `i`'s address.
    pub fn edge_addr(&self, i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, self.net, i as u8, 2))
    }

    /// Cuts edge `i`'s link: both ends down, so packets neither leave nor arrive.
    pub fn link_down(&self, i: usize) -> io::Result<()> {
        ip(&["-n", &self.hub, "link", "set", &self.hub_if(i), "down"])?;
        ip(&[
            "-n",
            &self.edges[i],
            "link",
            "set",
            &self.edge_if(i),
            "down",
        ])
    }

    /// Heals edge `i`'s link.
    pub fn link_up(&self, i: usize) -> io::Result<()> {
        ip(&["-n", &self.hub, "link", "set", &self.hub_if(i), "up"])?;
        ip(&["-n", &self.edges[i], "link", "set", &self.edge_if(i), "up"])?;
        // The kernel drops routes through a device that goes down; put the default back.
        let via = self.hub_addr_for(i).to_string();
        ip(&[
            "-n",
            &self.edges[i],
            "route",
            "replace",
            "default",
            "via",
            &via,
        ])
    }

    fn hub_if(&self, i: usize) -> String {
        format!("{}h{i}", self.short)
    }

    fn edge_if(&self, i: usize) -> String {
        format!("{}e{i}", self.short)
    }

    fn namespaces(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hub.as_str()).chain(self.edges.iter().map(String::as_str))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veth ends, and with them their peers.
        for ns in self.namespaces() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// `ip netns exec <ns> <program>`: a command (the `mycel` binary, say) to run inside `ns`. `ip`
/// execs the program, so the child's pid is the program's and killing it kills the program.
pub fn command(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]);
    cmd
}

/// Whether this machine can build a [`Topology`]: root, and `ip netns add`/`del` working.
pub fn available() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc: {e}"))?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    if uid != "0" {
        return Err(format!(
            "network-namespace tests need root (effective uid {uid})"
        ));
    }
    let probe = format!(
        "mycel-probe-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    ip(&["netns", "add", &probe])
        .map_err(|e| format!("network-namespace tests need `ip netns`: {e}"))?;
    ip(&["netns", "del", &probe])
        .map_err(|e| format!("network-namespace tests need `ip netns`: {e}"))
}

fn ip(args: &[&str]) -> io::Result<()> {
    run(
        Command::new("ip").args(args),
        &format!("ip {}", args.join(" ")),
    )
}

fn sh_in(ns: &str, script: &str) -> io::Result<()> {
    run(
        command(ns, "sh").args(["-c", script]),
        &format!("in {ns}: {script}"),
    )
}

fn run(cmd: &mut Command, what: &str) -> io::Result<()> {
    let out = cmd
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(io::Error::other(format!(
        "{what}: {}: {}",
        out.status,
        stderr.trim()
    )))
}

fn require_netns() {
    if let Err(e) = available() {
        panic!("{e}");
    }
}

/// A deterministic body of `len` bytes.
fn body(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8)
        .collect()
}

/// A minimal HTTP/1.0 server in `ns` answering every request with `body`; it lives as long as the
/// test process. Returns its port (it listens on all of the namespace's addresses).
fn serve_in(ns: &str, body: Vec<u8>) -> u16 {
    let listener = netfault::in_netns(ns, || TcpListener::bind("0.0.0.0:0"))
        .unwrap()
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || answer(conn, &body));
        }
    });
    port
}

fn answer(mut conn: TcpStream, body: &[u8]) {
    // Read the request head; a bare reachability probe sends nothing and closes.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let header = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let _ = conn
        .write_all(header.as_bytes())
        .and_then(|()| conn.write_all(body));
}

/// GET / from `addr`, dialled from inside `ns`; the body, checked against Content-Length.
fn get_from(ns: &str, addr: SocketAddr) -> io::Result<Vec<u8>> {
    let mut conn = netfault::in_netns(ns, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(5))
    })??;
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no content-length in {head:?}")))?;
    let got = response.split_off(split + 4);
    if got.len() != len {
        return Err(io::Error::other(format!(
            "{} body bytes of {len}",
            got.len()
        )));
    }
    Ok(got)
}

/// Whether a TCP connection from `ns` to `addr` opens within a short timeout.
fn reaches(ns: &str, addr: SocketAddr) -> bool {
    netfault::in_netns(ns, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })
    .unwrap()
    .is_ok()
}

/// Edges reach the hub over their own links; cutting one link isolates that edge only, and
/// healing it restores it.
#[test]
fn netns_topology_links_cut_and_heal() {
    require_netns();
    let topo = Topology::new("mycel-it", 2).unwrap();

    // command() runs inside the namespace: the edge sees its own address.
    let out = command(topo.edge_ns(0), "ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .unwrap();
    let addrs = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && addrs.contains(&format!("{}/24", topo.edge_addr(0))),
        "{addrs}"
    );
    assert!(!addrs.contains(&topo.edge_addr(1).to_string()), "{addrs}");

    let port = serve_in(topo.hub_ns(), b"hello from the hub".to_vec());
    let hub = |i| SocketAddr::new(topo.hub_addr_for(i), port);
    assert_eq!(
        get_from(topo.edge_ns(0), hub(0)).unwrap(),
        b"hello from the hub"
    );
    assert!(reaches(topo.edge_ns(1), hub(1)));
    // Edges route through the hub: to its other addresses and to each other.
    assert!(reaches(topo.edge_ns(1), hub(0)));
    let on_edge0 = serve_in(topo.edge_ns(0), Vec::new());
    assert!(reaches(
        topo.edge_ns(1),
        SocketAddr::new(topo.edge_addr(0), on_edge0)
    ));

    topo.link_down(0).unwrap();
    assert!(
        !reaches(topo.edge_ns(0), hub(0)),
        "edge 0 still reaches the hub with its link down"
    );
    assert!(
        reaches(topo.edge_ns(1), hub(1)),
        "edge 1 lost the hub when edge 0's link went down"
    );

    topo.link_up(0).unwrap();
    // The link is up at once, but give neighbour discovery a moment: poll, do not sleep blind.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reaches(topo.edge_ns(0), hub(0)) {
        assert!(
            Instant::now() < deadline,
            "edge 0 did not heal after link_up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        get_from(topo.edge_ns(0), hub(0)).unwrap(),
        b"hello from the hub"
    );
}

/// A 1 MiB body crosses a netfault proxy in the hub with 30% chunk loss intact.
#[test]
fn netns_lossy_proxy_delivers_intact() {
    require_netns();
    let topo = Topology::new("mycel-it", 1).unwrap();
    let body = body(1 << 20);
    let port = serve_in(topo.hub_ns(), body.clone());

    let upstream = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let listen = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    let proxy = netfault::spawn_in_netns(
        topo.hub_ns(),
        listen,
        upstream,
        Faults::lossy(netfault::seed(), 30),
    )
    .unwrap();
    let via_proxy = SocketAddr::new(topo.hub_addr_for(0), proxy.local_addr().port());
    let got = get_from(topo.edge_ns(0), via_proxy).unwrap();
    assert!(got == body, "body differs (seed {})", proxy.faults().seed);
    let stats = proxy.stats();
    assert!(
        stats.bytes > body.len() as u64 && stats.lost > 0,
        "{stats:?}"
    );
}
