//! Edge devices end to end, over real links: the devnet in a hub network namespace, two light
//! devices (`mycel edge run`) each in its own namespace behind a seeded fault-injecting proxy
//! (30 % loss), one link cut and one device killed and restarted mid-job. The job (real README
//! lines, embedded by the pinned MiniLM) completes with every unit done once, and its output is
//! byte-identical to one process embedding the same records alone.

use crate::common::{BIN, Devnet, Process, pinned_models};
use crate::netns::{Topology, available, command};
use mycel_bench::netfault::{self, Faults};
use mycel_ml::{
    engine::{EngineConfig, LocalEngine},
    registry::MINILM,
};
use mycel_node::services::devices::quantize;
use std::{
    net::SocketAddr,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

const UNIT: usize = 16;
const RECORDS: usize = 96;

/// Records nobody shaped for this test: the README's longer lines.
fn records() -> Vec<String> {
    let readme = include_str!("../../../../README.md");
    let mut out: Vec<String> = readme
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 24)
        .map(str::to_string)
        .collect();
    out.dedup();
    assert!(
        out.len() >= RECORDS,
        "the README has {} long lines",
        out.len()
    );
    out.truncate(RECORDS);
    out
}

/// The output of one process embedding the records unit by unit.
fn single_run(models: &mycel_ml::registry::ModelStore, texts: &[String]) -> Vec<u8> {
    let mut engine = LocalEngine::new(
        models.clone(),
        EngineConfig {
            threads: 1,
            mode: mycel_node::models::SERVED_MODE,
        },
    );
    let mut out = Vec::new();
    for unit in texts.chunks(UNIT) {
        let (v, _) = engine.embed_counted(MINILM.name, unit).unwrap();
        out.extend(quantize(&v));
    }
    out
}

/// `mycel --home HOME --api URL ARGS` inside namespace `ns`.
fn cli_in(ns: &str, home: &Path, api: &str, args: &[&str]) -> String {
    let out = command(ns, BIN)
        .args(["--home", home.to_str().unwrap(), "--api", api])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mycel {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_in(ns: &str, home: &Path, api: &str, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&cli_in(ns, home, api, &a)).unwrap()
}

fn edge_run(
    topo: &Topology,
    i: usize,
    home: &Path,
    api: &str,
    models: &Path,
    log: &Path,
) -> Process {
    let mut cmd: Command = command(topo.edge_ns(i), BIN);
    cmd.args(["--home", home.to_str().unwrap(), "--api", api])
        .args(["edge", "run", "--key", &format!("edge{i}")])
        .env("MYCEL_MODELS", models)
        .env("RAYON_NUM_THREADS", "1");
    Process::spawn(cmd, log)
}

#[test]
fn real_netns_edge_job_survives_loss_cuts_and_a_killed_device() {
    let Some(models) = pinned_models(&[&MINILM, &mycel_ml::registry::SMOLLM2]) else {
        return;
    };
    available().unwrap();
    let topo = Topology::new("edge", 2).unwrap();
    let hub = topo.hub_ns().to_string();
    let net = Devnet::fresh();
    let port = crate::common::free_port();
    let api = format!("http://127.0.0.1:{port}");
    // The devnet (validator, worker, auditor and device checker) inside the hub namespace.
    let mut cmd = command(&hub, BIN);
    cmd.args(["--home", net.home.to_str().unwrap(), "devnet"])
        .args(["--api.addr", &format!("0.0.0.0:{port}")])
        .args([
            "--p2p.addr",
            &format!("127.0.0.1:{}", crate::common::free_port()),
        ])
        .args([
            "--worker.listen",
            &format!("127.0.0.1:{}", crate::common::free_port()),
        ])
        .env("MYCEL_MODELS", models.root());
    let devnet = Process::spawn(cmd, &net.log());
    let start = Instant::now();
    while command(&hub, BIN)
        .args([
            "--home",
            net.home.to_str().unwrap(),
            "--api",
            &api,
            "query",
            "status",
        ])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "devnet did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let home = net.home.clone();
    for i in 0..2 {
        cli_in(&hub, &home, &api, &["keys", "new", &format!("edge{i}")]);
        cli_in(
            &hub,
            &home,
            &api,
            &[
                "edge",
                "register",
                "--from",
                &format!("dev{i}"),
                "--device",
                &format!("edge{i}"),
                "--class",
                "small",
                "--bond",
                "2",
                "--fund",
                "2",
            ],
        );
    }
    let texts = records();
    let input = net.home.join("input.jsonl");
    std::fs::write(
        &input,
        texts
            .iter()
            .map(|t| serde_json::to_string(t).unwrap() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let posted = json_in(
        &hub,
        &home,
        &api,
        &[
            "edge",
            "job",
            "post",
            "--from",
            "dev2",
            "--input",
            input.to_str().unwrap(),
            "--unit",
            &UNIT.to_string(),
            "--price",
            "1000u",
        ],
    );
    let job = posted["job"].as_str().unwrap().to_string();

    // Each device reaches the node through its own lossy proxy in the hub namespace.
    let seed = netfault::seed();
    let upstream: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let proxies: Vec<_> = (0..2)
        .map(|i| {
            let listen = SocketAddr::new(topo.hub_addr_for(i), 0);
            netfault::spawn_in_netns(&hub, listen, upstream, Faults::lossy(seed + i as u64, 30))
                .unwrap()
        })
        .collect();
    let api_of = |i: usize| format!("http://{}", proxies[i].local_addr());
    let logs: Vec<_> = (0..2)
        .map(|i| net.home.join(format!("edge{i}.log")))
        .collect();
    let mut devices: Vec<Option<Process>> = (0..2)
        .map(|i| {
            Some(edge_run(
                &topo,
                i,
                &home,
                &api_of(i),
                models.root(),
                &logs[i],
            ))
        })
        .collect();

    let done = |v: &serde_json::Value| v["job"]["completed"].as_u64().unwrap_or(0) != 0;
    let show = || json_in(&hub, &home, &api, &["edge", "job", "show", &job]);
    let start = Instant::now();
    let (mut cut, mut killed) = (false, false);
    let v = loop {
        let v = show();
        if done(&v) {
            break v;
        }
        let units_done = v["job"]["done"].as_u64().unwrap();
        // Churn once work is under way: device 1's link goes down for two rounds, device 0 is
        // killed and restarted (a reboot: it keeps nothing but its key).
        if units_done >= 1 && !cut {
            topo.link_down(1).unwrap();
            cut = true;
            std::thread::sleep(Duration::from_secs(16));
            topo.link_up(1).unwrap();
        }
        if units_done >= 2 && !killed {
            devices[0].take().unwrap().kill();
            killed = true;
            std::thread::sleep(Duration::from_secs(3));
            devices[0] = Some(edge_run(
                &topo,
                0,
                &home,
                &api_of(0),
                models.root(),
                &logs[0],
            ));
        }
        assert!(
            start.elapsed() < Duration::from_secs(420),
            "the job did not complete: {v}\nseed {seed}\n{}\n{}",
            std::fs::read_to_string(&logs[0]).unwrap_or_default(),
            std::fs::read_to_string(&logs[1]).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(cut && killed, "the churn happened before the job ended");
    let units = v["units"].as_array().unwrap();
    assert_eq!(units.len(), RECORDS / UNIT);
    for u in units {
        assert_eq!(u[1]["state"], "done", "{u}");
    }
    // Exactly once: the escrow paid for every record and nothing more.
    assert_eq!(v["job"]["escrow"], "0", "{v}");
    // The output, fetched and hash-checked unit by unit, equals one process's run.
    let out = net.home.join("out.bin");
    cli_in(
        &hub,
        &home,
        &api,
        &[
            "edge",
            "job",
            "show",
            &job,
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), RECORDS * 384);
    assert!(
        got == single_run(&models, &texts),
        "edge output differs from a single run"
    );
    // Both devices answered probes, passed their capability checks, and nobody failed one.
    let status = json_in(&hub, &home, &api, &["edge", "status"]);
    for d in status.as_array().unwrap() {
        assert!(d["passed"].as_u64().unwrap() >= 1, "{d}");
        assert_eq!(d["failed"], 0, "{d}");
    }
    eprintln!(
        "proxy stats: {:?} {:?}",
        proxies[0].stats(),
        proxies[1].stats()
    );
    for d in devices.into_iter().flatten() {
        d.kill();
    }
    devnet.kill();
}
