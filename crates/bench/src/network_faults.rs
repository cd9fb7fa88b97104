//! The fault phase of `mycel bench network` (`--faults`): the offered load on a network of real
//! processes while validators crash, one is cut off, one joins and one leaves.
//!
//! The network: 4 genesis validators and a fifth node started with `--role validator`, which
//! follows the chain until it bonds and an epoch includes it. Every p2p connection goes through
//! a [`netfault`] proxy in this process: node `i`'s `config.toml` lists, for each peer `j`, a
//! proxy on 127.0.0.1 that forwards to `j`'s real p2p address, so a node is partitioned by
//! pausing every proxy into and out of it.
//!
//! Under `--fault-rate` tx/s for `--fault-seconds`:
//! - every `--kill-every` seconds one validator is killed with SIGKILL and restarted
//!   `--down-seconds` later, in rotation; a kill waits until the previous victim (or the healed
//!   node) caught up, at most until the next kill is due (else it is skipped and reported), and
//!   during the partition the partitioned node is the one killed, so that never two are down;
//! - one validator is partitioned from every node (both directions) for `--partition-seconds`,
//!   then healed;
//! - at the start a dev account funds the fifth node, which bonds 10,000 MYC as a validator; at
//!   mid-run a genesis validator (funded for the fee) unbonds its whole stake.
//!
//! Then every node must reach one common height and agree on the block hash and state root at
//! every height up to it (every height up to 2,000, else an even sample), every accepted
//! transaction must be finalized, the fifth node must propose from the epoch after its bond and
//! the unbonded validator none from the epoch after its unbond. Any failure is reported as a
//! problem (and `mycel bench network` exits non-zero with the homes and logs kept).

use super::{FEE, LoadRun, Net, NetworkBenchArgs, Plan, head, load, request, transfer};
use crate::netfault::{self, Faults, Proxy};
use commonware_cryptography::Signer;
use futures::StreamExt as _;
use mycel_consensus::light::TrustedSet;
use mycel_ledger::{
    Message, Tx, TxBody,
    modules::staking::{self, events as staking_events},
};
use mycel_node::{
    Error, Home, Result,
    client::{Account, Client},
    error::io,
    http::{
        TxStatus,
        sync::{Handoffs, Snapshot},
    },
    keystore::Keystore,
    services::sync,
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use mycel_store::Store;
use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// Genesis validators of the fault network.
const GENESIS_VALIDATORS: usize = 4;
/// The node that bonds and joins (not in genesis).
const JOINER: usize = 4;
/// The genesis validator that unbonds and leaves.
const LEAVER: usize = 1;
/// The validator that is partitioned.
const PARTITIONED: usize = 3;
/// Kill victims outside the partition, in turn.
const KILL_ORDER: [usize; 4] = [0, 1, 2, JOINER];
/// What the joiner bonds (the genesis validators' stake).
const BOND: Amount = Amount::from_myc(10_000);
/// What a validator gets for its fees.
const FEE_MONEY: Amount = Amount::from_myc(10);
/// Heights compared on every node: all of them up to this many, else an even sample.
const MAX_CHECKED: u64 = 2_000;
/// A recovering node has caught up within this many blocks of the others' head.
const CATCH_UP_SLACK: u64 = 3;
/// How often the fault driver looks at the network.
const TICK: Duration = Duration::from_millis(200);
/// A kill keeps this far (seconds) from the partition unless it targets the partitioned node.
const PARTITION_MARGIN: u64 = 5;

/// One kill and restart.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Kill {
    /// The node killed.
    pub node: usize,
    /// When it was due, seconds from the start of the phase.
    pub planned_s: f64,
    /// When it was killed.
    pub at_s: f64,
    /// The highest finalized height over the nodes then.
    pub head: u64,
    /// Whether the node was partitioned at the time.
    pub partitioned: bool,
    /// When it was restarted (none if the restart failed).
    pub restarted_s: Option<f64>,
    /// Seconds from the restart until it was within a few blocks of the others' head (none if
    /// it never was during the phase, or was killed again first); for a node killed while
    /// partitioned this includes the rest of the partition.
    pub caught_up_s: Option<f64>,
}

/// The partition window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Partition {
    /// The node cut off.
    pub node: usize,
    /// Seconds from the start of the phase when its links went down.
    pub from_s: f64,
    /// When they came back.
    pub to_s: Option<f64>,
    /// The highest finalized height over the nodes at each end.
    pub head_from: u64,
    /// See [`Partition::head_from`].
    pub head_to: u64,
    /// Its own height when healed.
    pub node_height_at_heal: Option<u64>,
    /// Seconds from the heal until it was within a few blocks of the others' head.
    pub caught_up_s: Option<f64>,
    /// Connections the proxies reset when the links went down, and refused while down.
    pub links_reset: u64,
    /// See [`Partition::links_reset`].
    pub connections_refused: u64,
}

/// A staking transaction of the phase.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StakingTx {
    /// The node whose validator key signed it.
    pub node: usize,
    /// Its address.
    pub address: String,
    /// Seconds from the start of the phase when it was finalized.
    pub finalized_s: Option<f64>,
    /// Its height.
    pub height: Option<u64>,
    /// The epoch of that height.
    pub epoch: Option<u64>,
    /// Whether it applied (a failed one still pays its fee).
    pub success: bool,
    /// Its error code when it failed, or why it was not finalized.
    pub error: String,
    /// The first epoch whose set includes (bond) or excludes (unbond) the validator.
    pub effective_epoch: Option<u64>,
    /// Validator stake of the address at the end, base units.
    pub stake_after: u128,
    /// The first (bond) or last (unbond) epoch in which the validator proposed a block.
    pub proposal_epoch: Option<u64>,
    /// Heights at which it proposed where it must not have (before joining, after leaving).
    pub wrong_proposals: Vec<u64>,
}

/// What the fault phase measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultRun {
    /// Offered load, tx/s.
    pub rate: u64,
    /// Seconds of load and faults.
    pub seconds: u64,
    /// Sending accounts.
    pub accounts: usize,
    /// Genesis validators.
    pub genesis_validators: usize,
    /// Nodes (the genesis validators and the joiner).
    pub nodes: usize,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// p2p proxies (one per ordered pair of nodes).
    pub proxies: usize,
    /// The load under the faults (latency is submit -> finalized during the phase).
    pub load: LoadRun,
    /// Every kill.
    pub kills: Vec<Kill>,
    /// Restarts that started a process.
    pub restarts: usize,
    /// Kills not made (the previous victim had not caught up before the next kill was due).
    pub kills_skipped: Vec<String>,
    /// The partition.
    pub partition: Option<Partition>,
    /// The fifth node's bond.
    pub join: StakingTx,
    /// The genesis validator's unbond.
    pub leave: StakingTx,
    /// Size of each epoch's validator set (`staking.validator_set` events), by epoch.
    pub set_sizes: BTreeMap<u64, usize>,
    /// Nodes that proposed a block, by epoch (from the blocks compared).
    pub proposers: BTreeMap<u64, Vec<usize>>,
    /// Validators jailed for downtime: (epoch, node).
    pub downtime: Vec<(u64, usize)>,
    /// Each node's finalized height at the end.
    pub final_heights: Vec<Option<u64>>,
    /// The height every node reached.
    pub common_height: u64,
    /// Heights compared on every node.
    pub heights_checked: usize,
    /// Heights where some node had another block hash or state root, or a broken parent link.
    pub mismatches: usize,
    /// Accepted transactions not finalized on any node by the end.
    pub lost: usize,
    /// A light client across the set changes.
    pub light: LightCheck,
    /// Failed checks; empty when the phase passed.
    pub problems: Vec<String>,
    /// Where the homes and logs are kept (when a check failed).
    pub kept: Option<String>,
}

/// What a client that trusts only the genesis validators could check after the set changes.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LightCheck {
    /// The epoch the hand-offs were asked for (that of the height every node reached).
    pub epoch: u64,
    /// Epochs whose end changed the set, as node 0 serves their hand-offs.
    pub handoff_epochs: Vec<u64>,
    /// Nodes serving the same hand-offs as node 0.
    pub nodes_agreeing: usize,
    /// The height of node 0's state snapshot, imported into a fresh store that trusts only the
    /// genesis validators (no trusted digest).
    pub imported_height: Option<u64>,
}

/// What a light client reached following one node's hand-offs: each hand-off's (epoch, block)
/// and the set after the last.
type Followed = (Vec<(u64, Hash)>, TrustedSet);

/// Asks every node for the hand-offs up to the epoch of `common`, then imports node 0's state
/// snapshot the way a new full node would, trusting only the genesis validators.
async fn light_check(
    net: &Net,
    epoch_length: u64,
    common: u64,
    set_changed: bool,
    problems: &mut Vec<String>,
) -> LightCheck {
    let epoch = common / epoch_length;
    let mut out = LightCheck {
        epoch,
        ..Default::default()
    };
    let path = format!("/api/v1/sync/handoffs?epoch={epoch}");
    let served: Vec<Result<Handoffs>> = futures::future::join_all(
        net.clients
            .iter()
            .map(|c| request(c.get::<Handoffs>(&path))),
    )
    .await;
    // Each node's list as a light client trusting the genesis validators follows it: the same
    // blocks handed off and the same set reached. (The certificates themselves may differ: each
    // node aggregates the quorum of votes it received.)
    let genesis_keys = match Home(net.homes[0].clone()).genesis() {
        Ok(g) => g.validator_keys().unwrap_or_default(),
        Err(e) => {
            problems.push(format!("node 0's genesis: {e}"));
            Vec::new()
        }
    };
    let followed: Vec<std::result::Result<Followed, String>> = served
        .iter()
        .map(|s| {
            let s = s
                .as_ref()
                .map_err(|e| format!("serves no hand-offs: {e}"))?;
            let set = TrustedSet::genesis(&genesis_keys)
                .follow_all(&s.handoffs)
                .map_err(|e| format!("serves hand-offs a light client refuses: {e}"))?;
            let blocks = s
                .handoffs
                .iter()
                .map(|h| (h.epoch().unwrap_or(u64::MAX), h.header.digest()))
                .collect();
            Ok((blocks, set))
        })
        .collect();
    match &followed[0] {
        Ok((blocks, set)) => {
            out.handoff_epochs = blocks.iter().map(|(e, _)| *e).collect();
            for (i, f) in followed.iter().enumerate() {
                match f {
                    Ok((b, s)) if b == blocks && s == set => out.nodes_agreeing += 1,
                    Ok((b, _)) => problems.push(format!(
                        "node {i} serves hand-offs of epochs {:?} (or of other blocks), node 0 of {:?}",
                        b.iter().map(|(e, _)| e).collect::<Vec<_>>(),
                        out.handoff_epochs
                    )),
                    Err(e) => problems.push(format!("node {i} {e}")),
                }
            }
        }
        Err(e) => problems.push(format!("node 0 {e}")),
    }
    if set_changed && out.handoff_epochs.is_empty() {
        problems.push("the set changed but node 0 serves no hand-off".into());
    }
    let imported = async {
        let genesis = Home(net.homes[0].clone()).genesis()?;
        let snap: Snapshot = request(net.clients[0].get("/api/v1/sync/snapshot")).await?;
        let store = Store::open(net.dir.join("light-client.redb"))?;
        Ok::<u64, Error>(sync::import(&store, &genesis, None, &snap)?.height)
    };
    match imported.await {
        Ok(h) => out.imported_height = Some(h),
        Err(e) => problems.push(format!(
            "node 0's snapshot does not import trusting only the genesis validators: {e}"
        )),
    }
    out
}

/// The planned faults, in seconds from the start of the phase.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Schedule {
    /// (due, node) of each kill.
    kills: Vec<(u64, usize)>,
    /// The partition window.
    partition: Option<(u64, u64)>,
    /// When the leaver unbonds.
    leave_at: u64,
}

/// Kills every `every` seconds from `every / 2`, each down `down` seconds and restarted at least
/// 5 s before the end; the partition of `partition_len` seconds (at most half the phase) a little
/// after the middle. A kill near or in the partition targets the partitioned node; the others
/// take [`KILL_ORDER`] in turn.
fn schedule(seconds: u64, every: u64, down: u64, partition_len: u64) -> Schedule {
    let len = partition_len.min(seconds / 2);
    let partition = (len > 0).then(|| {
        let from = ((seconds - len) / 2 + 10).min(seconds.saturating_sub(len + 5));
        (from, from + len)
    });
    let mut kills = Vec::new();
    if every > 0 {
        let mut turn = 0;
        let mut t = every / 2;
        while t + down + 5 <= seconds {
            let near = partition.is_some_and(|(from, to)| {
                t < to + PARTITION_MARGIN && t + down + PARTITION_MARGIN > from
            });
            let node = if near {
                PARTITIONED
            } else {
                turn += 1;
                KILL_ORDER[(turn - 1) % KILL_ORDER.len()]
            };
            kills.push((t, node));
            t += every;
        }
    }
    Schedule {
        kills,
        partition,
        leave_at: seconds / 2,
    }
}

/// Every node's p2p links to every other, each through its own proxy.
struct Links {
    /// (from, to) → the proxy `from` dials to reach `to`.
    proxies: BTreeMap<(usize, usize), Proxy>,
}

impl Links {
    /// Starts a proxy per ordered pair of nodes and points each node's peer entries at them.
    async fn route(net: &Net) -> Result<Links> {
        let homes: Vec<Home> = net.homes.iter().map(|h| Home(h.clone())).collect();
        let mut cfgs = homes.iter().map(Home::config).collect::<Result<Vec<_>>>()?;
        let real: Vec<SocketAddr> = cfgs.iter().map(|c| c.p2p_addr).collect();
        // The nodes' own ports, free until they start: no proxy may take one.
        let reserved: BTreeSet<u16> = cfgs
            .iter()
            .flat_map(|c| [c.api_addr.port(), c.p2p_addr.port()])
            .collect();
        let mut proxies = BTreeMap::new();
        for (i, cfg) in cfgs.iter_mut().enumerate() {
            for peer in &mut cfg.peers {
                let j = real
                    .iter()
                    .position(|a| *a == peer.address)
                    .ok_or_else(|| Error::Invalid {
                        what: format!("node {i}'s peer {}", peer.address),
                        why: "not the p2p address of any node of the network".into(),
                    })?;
                let proxy = spawn_proxy(real[j], &reserved).await?;
                peer.address = proxy.local_addr();
                proxies.insert((i, j), proxy);
            }
            homes[i].write_config(cfg)?;
        }
        Ok(Links { proxies })
    }

    /// Takes every link into and out of `node` down (`true`) or back up.
    fn isolate(&self, node: usize, down: bool) {
        for ((from, to), p) in &self.proxies {
            if *from == node || *to == node {
                p.pause(down);
            }
        }
    }

    /// Connections reset by a link going down, and refused while down, on `node`'s links.
    fn partition_stats(&self, node: usize) -> (u64, u64) {
        self.proxies
            .iter()
            .filter(|((from, to), _)| *from == node || *to == node)
            .map(|(_, p)| p.stats())
            .fold((0, 0), |(r, f), s| (r + s.link_resets, f + s.refused))
    }
}

/// A clean proxy to `upstream` on a free port of 127.0.0.1 outside `reserved`.
async fn spawn_proxy(upstream: SocketAddr, reserved: &BTreeSet<u16>) -> Result<Proxy> {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    for _ in 0..16 {
        let p = netfault::spawn(any, upstream, Faults::none())
            .await
            .map_err(io(Path::new("netfault proxy")))?;
        if !reserved.contains(&p.local_addr().port()) {
            return Ok(p);
        }
    }
    Err(Error::Invalid {
        what: "proxy port".into(),
        why: "kept getting a port a node needs".into(),
    })
}

/// Runs the fault phase.
pub(super) async fn run(args: &NetworkBenchArgs) -> Result<FaultRun> {
    if args.fault_rate == 0 || args.fault_seconds == 0 || args.fault_epoch_length == 0 {
        return Err(Error::Invalid {
            what: "bench network fault options".into(),
            why: "fault rate, seconds and epoch length must be positive".into(),
        });
    }
    let nodes = GENESIS_VALIDATORS + 1;
    eprintln!(
        "network bench: fault phase: {GENESIS_VALIDATORS} genesis validators and a joining node, \
         every p2p link through a proxy"
    );
    // The last dev account funds the joiner and the leaver; the others carry the load.
    let mut net = Net::init(
        GENESIS_VALIDATORS,
        1,
        args.accounts + 1,
        args.fault_epoch_length,
    )?;
    net.node_args[JOINER] = vec!["--role".into(), "validator".into()];
    let links = Links::route(&net).await?;
    net.start_all()?;
    net.wait_ready(2, Duration::from_secs(180)).await?;
    let chain_id = request(net.clients[0].status()).await?.chain_id;
    let ks = Keystore::new(Home(net.homes[0].clone()).keys_dir());
    let mut keys: Vec<PrivateKey> = (0..=args.accounts)
        .map(|i| ks.load(&format!("dev{i}"))?.private_key())
        .collect::<Result<_>>()?;
    let funder = keys.pop().expect("accounts + 1 keys");
    let validator_key = |i: usize| -> Result<PrivateKey> {
        Keystore::new(Home(net.homes[i].clone()).keys_dir())
            .load("validator")?
            .private_key()
    };
    let addrs: Vec<Address> = (0..nodes)
        .map(|i| Ok(Address::from_public_key(&validator_key(i)?.public_key())))
        .collect::<Result<_>>()?;
    let (joiner, leaver) = (validator_key(JOINER)?, validator_key(LEAVER)?);
    let sched = schedule(
        args.fault_seconds,
        args.kill_every,
        args.down_seconds,
        args.partition_seconds,
    );
    eprintln!(
        "network bench: fault phase: {} tx/s for {} s; kills at {:?} (s, node), partition of \
         node {PARTITIONED} {:?} s, node {JOINER} bonds at once, node {LEAVER} unbonds at {} s",
        args.fault_rate, args.fault_seconds, sched.kills, sched.partition, sched.leave_at
    );

    let clients = net.clients.clone();
    let up = Arc::new(Mutex::new(vec![true; nodes]));
    let plan = Plan {
        rate: args.fault_rate,
        seconds: args.fault_seconds,
        drain: args.drain.max(90),
        epoch_length: args.fault_epoch_length,
    };
    let pids = net.pids();
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(args.fault_seconds);
    let ctl = Control {
        clients: clients.clone(),
        up: up.clone(),
        chain_id: chain_id.clone(),
        t0,
        deadline: end + Duration::from_secs(60),
    };
    let (loaded, driven, (mut join, mut leave)) = tokio::join!(
        load(&clients, pids, &keys, &chain_id, &plan),
        drive(
            &mut net,
            &links,
            &sched,
            Duration::from_secs(args.down_seconds),
            args.kill_every,
            t0,
            up.clone(),
        ),
        async {
            let join = ctl.join(&funder, &joiner, &leaver).await;
            tokio::time::sleep_until(tokio::time::Instant::from_std(
                t0 + Duration::from_secs(sched.leave_at),
            ))
            .await;
            let leave = ctl.leave(&leaver).await;
            (join, leave)
        },
    );
    let (mut run, unseen) = loaded?;
    run.validators = GENESIS_VALIDATORS;
    let mut problems = driven.problems;
    eprintln!("network bench: fault phase: faults over; checking");

    // Every node reaches one height.
    let target = head(&net.clients).await;
    let wait_end = Instant::now() + Duration::from_secs(180);
    let final_heights = loop {
        let hs = heights(&net.clients).await;
        if hs.iter().all(|h| h.is_some_and(|h| h >= target)) || Instant::now() > wait_end {
            break hs;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for (i, h) in final_heights.iter().enumerate() {
        if let Some(status) = net.exited(i) {
            problems.push(format!(
                "node {i} exited ({status}); see {}",
                net.homes[i].join("node.log").display()
            ));
        } else if !h.is_some_and(|h| h >= target) {
            problems.push(format!(
                "node {i} did not reach height {target} within 180 s (it is at {})",
                h.map_or("no answer".to_string(), |h| h.to_string())
            ));
        }
    }
    let common = final_heights
        .iter()
        .map(|h| h.unwrap_or(0))
        .min()
        .unwrap_or(0);

    // The same blocks and roots everywhere.
    let checked = compare_blocks(&net.clients, common).await;
    let mismatches = checked.mismatches.len();
    for m in checked.mismatches.iter().take(5) {
        problems.push(m.clone());
    }
    if mismatches > 5 {
        problems.push(format!("… {} more heights differ", mismatches - 5));
    }

    // Nothing accepted is lost.
    let mut lost = 0;
    for (h, node) in &unseen {
        let statuses =
            futures::future::join_all(net.clients.iter().map(|c| request(c.tx(h)))).await;
        if !statuses
            .iter()
            .any(|s| s.as_ref().is_ok_and(|s| s.status == "finalized"))
        {
            lost += 1;
            if lost <= 5 {
                let seen: Vec<String> = statuses
                    .iter()
                    .map(|s| match s {
                        Ok(s) => s.status.clone(),
                        Err(e) => super::error_code(e),
                    })
                    .collect();
                problems.push(format!(
                    "transaction {h} accepted by node {node} is not finalized (per node: {})",
                    seen.join(", ")
                ));
            }
        }
    }
    run.lost = lost;
    if lost > 5 {
        problems.push(format!("{lost} accepted transactions not finalized in all"));
    }

    // A light client across the set changes.
    let set_changed = join.success || leave.success;
    let light = light_check(
        &net,
        args.fault_epoch_length,
        common,
        set_changed,
        &mut problems,
    )
    .await;

    // Who validated when.
    let epoch_length = args.fault_epoch_length;
    let node_of: BTreeMap<String, usize> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| (a.to_string(), i))
        .collect();
    let set_sizes: BTreeMap<u64, usize> =
        events(&net.clients[0], common, staking_events::VALIDATOR_SET)
            .await
            .iter()
            .filter_map(|attrs| {
                Some((
                    attr(attrs, "epoch")?.parse().ok()?,
                    attr(attrs, "size")?.parse().ok()?,
                ))
            })
            .collect();
    let downtime: Vec<(u64, usize)> = events(&net.clients[0], common, staking_events::DOWNTIME)
        .await
        .iter()
        .filter_map(|attrs| {
            Some((
                attr(attrs, "epoch")?.parse().ok()?,
                *node_of.get(attr(attrs, "address")?)?,
            ))
        })
        .collect();
    let mut proposers: BTreeMap<u64, BTreeSet<usize>> = BTreeMap::new();
    for (h, p) in &checked.proposers {
        if let Some(n) = node_of.get(&p.to_string()) {
            proposers.entry(h / epoch_length).or_default().insert(*n);
        }
    }
    for (s, addr, joining) in [
        (&mut join, &addrs[JOINER], true),
        (&mut leave, &addrs[LEAVER], false),
    ] {
        s.address = addr.to_string();
        s.epoch = s.height.map(|h| h / epoch_length);
        s.effective_epoch = s.epoch.map(|e| e + 1).filter(|_| s.success);
        s.stake_after = request(net.clients[0].account(addr))
            .await
            .map_or(0, |a| a.stake(staking::Role::Validator).0);
        let mine: Vec<u64> = checked
            .proposers
            .iter()
            .filter(|(_, p)| *p == addr)
            .map(|(h, _)| *h)
            .collect();
        let Some(effective) = s.effective_epoch else {
            problems.push(format!(
                "node {}'s {} was not applied: {}",
                s.node,
                if joining { "bond" } else { "unbond" },
                s.error
            ));
            continue;
        };
        let boundary = effective * epoch_length;
        if joining {
            s.proposal_epoch = mine
                .iter()
                .find(|h| **h >= boundary)
                .map(|h| h / epoch_length);
            s.wrong_proposals = mine.iter().copied().filter(|h| *h < boundary).collect();
            if s.proposal_epoch.is_none() {
                problems.push(format!(
                    "node {JOINER} bonded at height {:?} but proposed no block from epoch \
                     {effective} (height {boundary}) to height {common}",
                    s.height
                ));
            }
            if s.stake_after < BOND.0 {
                problems.push(format!(
                    "node {JOINER} has {} validator stake after bonding {}",
                    s.stake_after, BOND.0
                ));
            }
        } else {
            s.proposal_epoch = mine.last().map(|h| h / epoch_length);
            s.wrong_proposals = mine.iter().copied().filter(|h| *h >= boundary).collect();
            if s.stake_after != 0 {
                problems.push(format!(
                    "node {LEAVER} still has {} validator stake after unbonding",
                    s.stake_after
                ));
            }
        }
        if !s.wrong_proposals.is_empty() {
            problems.push(format!(
                "node {} proposed at heights {:?} although it was {} the set from epoch \
                 {effective}",
                s.node,
                &s.wrong_proposals[..s.wrong_proposals.len().min(10)],
                if joining { "only in" } else { "out of" }
            ));
        }
    }
    let (links_reset, refused) = links.partition_stats(PARTITIONED);
    let mut partition = driven.partition;
    if let Some(p) = &mut partition {
        p.links_reset = links_reset;
        p.connections_refused = refused;
    }
    // MYCEL_BENCH_KEEP keeps the homes (and the nodes' logs) of a passing run too.
    if problems.is_empty() && std::env::var_os("MYCEL_BENCH_KEEP").is_none() {
        net.keep = false;
    }
    let kept = net.keep.then(|| net.dir.display().to_string());
    Ok(FaultRun {
        rate: args.fault_rate,
        seconds: args.fault_seconds,
        accounts: args.accounts,
        genesis_validators: GENESIS_VALIDATORS,
        nodes,
        epoch_length,
        proxies: links.proxies.len(),
        load: run,
        restarts: driven
            .kills
            .iter()
            .filter(|k| k.restarted_s.is_some())
            .count(),
        kills: driven.kills,
        kills_skipped: driven.skipped,
        partition,
        join,
        leave,
        set_sizes,
        proposers: proposers
            .into_iter()
            .map(|(e, s)| (e, s.into_iter().collect()))
            .collect(),
        downtime,
        final_heights,
        common_height: common,
        heights_checked: checked.heights,
        mismatches,
        lost,
        light,
        problems,
        kept,
    })
}

/// Each node's finalized height (none when it does not answer within 2 s).
async fn heights(clients: &[Client]) -> Vec<Option<u64>> {
    futures::future::join_all(clients.iter().map(|c| async move {
        tokio::time::timeout(Duration::from_secs(2), c.status())
            .await
            .ok()?
            .ok()
            .map(|s| s.height)
    }))
    .await
}

/// What the fault driver did.
struct Driven {
    kills: Vec<Kill>,
    skipped: Vec<String>,
    partition: Option<Partition>,
    problems: Vec<String>,
}

/// A node back from a fault, not yet caught up: (node, since, the kill it recovers from, or
/// none for the partition).
type Recovering = (usize, Instant, Option<usize>);

/// Carries out `sched` on `net`: kills and restarts, the partition and its heal; marks in `up`
/// the nodes fit to take a transaction (running, connected, caught up). Returns once the phase
/// is over and every node is back, or 60 s later.
async fn drive(
    net: &mut Net,
    links: &Links,
    sched: &Schedule,
    down: Duration,
    every: u64,
    t0: Instant,
    up: Arc<Mutex<Vec<bool>>>,
) -> Driven {
    let secs = |t: Instant| t.duration_since(t0).as_secs_f64();
    let set_up = |i: usize, v: bool| up.lock().unwrap_or_else(PoisonError::into_inner)[i] = v;
    let mut out = Driven {
        kills: Vec::new(),
        skipped: Vec::new(),
        partition: None,
        problems: Vec::new(),
    };
    let phase_end = sched
        .kills
        .iter()
        .map(|k| k.0)
        .max()
        .unwrap_or(0)
        .max(sched.partition.map_or(0, |p| p.1));
    let mut next_kill = 0;
    // (node, when it was killed, index into out.kills)
    let mut killed: Option<(usize, Instant, usize)> = None;
    let mut recovering: Vec<Recovering> = Vec::new();
    let mut partitioned: Option<Instant> = None;
    let give_up = t0 + Duration::from_secs(phase_end + 60);
    loop {
        let hs = heights(&net.clients).await;
        let now = Instant::now();
        let t = now.duration_since(t0);

        // Catch-up of the nodes back from a fault.
        recovering.retain(|(node, since, kill)| {
            let others = hs
                .iter()
                .enumerate()
                .filter(|(j, _)| j != node)
                .filter_map(|(_, h)| *h)
                .max()
                .unwrap_or(0);
            let blocked = killed.is_some_and(|k| k.0 == *node)
                || (partitioned.is_some() && *node == PARTITIONED);
            let back = !blocked && hs[*node].is_some_and(|h| h + CATCH_UP_SLACK >= others);
            if back {
                let took = since.elapsed().as_secs_f64();
                match kill {
                    Some(k) => out.kills[*k].caught_up_s = Some(took),
                    None => {
                        if let Some(p) = &mut out.partition {
                            p.caught_up_s = Some(took);
                        }
                    }
                }
                set_up(*node, true);
            }
            !back
        });

        // A killed node comes back after `down`.
        if let Some((node, at, k)) = killed
            && now >= at + down
        {
            match net.restart(node) {
                Ok(()) => {
                    out.kills[k].restarted_s = Some(secs(Instant::now()));
                    recovering.push((node, Instant::now(), Some(k)));
                    eprintln!(
                        "network bench: fault phase: {:.1} s: node {node} restarted",
                        t.as_secs_f64()
                    );
                }
                Err(e) => out
                    .problems
                    .push(format!("node {node} could not be restarted: {e}")),
            }
            killed = None;
        }

        // The partition.
        if let Some((from, to)) = sched.partition {
            match (&out.partition, partitioned) {
                (None, _) if t >= Duration::from_secs(from) => {
                    // Only with everyone else healthy.
                    let busy = killed.is_some() || !recovering.is_empty();
                    if !busy {
                        links.isolate(PARTITIONED, true);
                        set_up(PARTITIONED, false);
                        partitioned = Some(now);
                        let head = hs.iter().filter_map(|h| *h).max().unwrap_or(0);
                        out.partition = Some(Partition {
                            node: PARTITIONED,
                            from_s: secs(now),
                            to_s: None,
                            head_from: head,
                            head_to: 0,
                            node_height_at_heal: None,
                            caught_up_s: None,
                            links_reset: 0,
                            connections_refused: 0,
                        });
                        eprintln!(
                            "network bench: fault phase: {:.1} s: node {PARTITIONED} partitioned \
                             at height {head}",
                            t.as_secs_f64()
                        );
                    }
                }
                (Some(_), Some(since)) if now >= since + Duration::from_secs(to - from) => {
                    links.isolate(PARTITIONED, false);
                    partitioned = None;
                    let head = hs
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != PARTITIONED)
                        .filter_map(|(_, h)| *h)
                        .max()
                        .unwrap_or(0);
                    if let Some(p) = &mut out.partition {
                        p.to_s = Some(secs(now));
                        p.head_to = head;
                        p.node_height_at_heal = hs[PARTITIONED];
                    }
                    recovering.push((PARTITIONED, now, None));
                    eprintln!(
                        "network bench: fault phase: {:.1} s: node {PARTITIONED} healed at \
                         height {head} (its own {:?})",
                        t.as_secs_f64(),
                        hs[PARTITIONED]
                    );
                }
                _ => {}
            }
        }

        // The next kill, when due and nobody else is down.
        if let Some(&(due, node)) = sched.kills.get(next_kill)
            && t >= Duration::from_secs(due)
            && killed.is_none()
        {
            let in_partition = partitioned.is_some();
            let others_busy = recovering.iter().any(|(n, _, _)| *n != node)
                || (in_partition && node != PARTITIONED);
            // A kill may wait for the previous victim until the next one is due.
            let late = t > Duration::from_secs(due + every.max(1))
                || (node == PARTITIONED) != in_partition;
            if late {
                let waiting: BTreeSet<usize> = recovering.iter().map(|r| r.0).collect();
                out.skipped.push(format!(
                    "node {node} at {due} s: {}",
                    if (node == PARTITIONED) != in_partition {
                        "the partition was not where planned".to_string()
                    } else {
                        format!("node(s) {waiting:?} still catching up")
                    }
                ));
                next_kill += 1;
            } else if !others_busy {
                let head = hs.iter().filter_map(|h| *h).max().unwrap_or(0);
                net.kill(node);
                set_up(node, false);
                // A node killed while still recovering starts over.
                recovering.retain(|r| r.0 != node);
                out.kills.push(Kill {
                    node,
                    planned_s: due as f64,
                    at_s: secs(now),
                    head,
                    partitioned: in_partition && node == PARTITIONED,
                    restarted_s: None,
                    caught_up_s: None,
                });
                killed = Some((node, now, out.kills.len() - 1));
                next_kill += 1;
                eprintln!(
                    "network bench: fault phase: {:.1} s: node {node} killed at height {head}",
                    t.as_secs_f64()
                );
            }
        }

        let done = t >= Duration::from_secs(phase_end)
            && next_kill >= sched.kills.len()
            && killed.is_none()
            && partitioned.is_none()
            && (sched.partition.is_none() || out.partition.is_some());
        if (done && recovering.is_empty()) || now > give_up {
            break;
        }
        tokio::time::sleep(TICK).await;
    }
    // Whatever happens, nothing stays down or cut off.
    if let Some((node, _, _)) = killed {
        let _ = net.restart(node);
    }
    if partitioned.is_some() {
        links.isolate(PARTITIONED, false);
    }
    if sched.partition.is_some() && out.partition.is_none() {
        out.problems
            .push("the partition never started (a node was always recovering)".into());
    }
    for (node, since, _) in &recovering {
        out.problems.push(format!(
            "node {node} had not caught up {:.0} s after coming back",
            since.elapsed().as_secs_f64()
        ));
    }
    out
}

/// Submits the staking transactions, each to a node fit to take it.
struct Control {
    clients: Vec<Client>,
    up: Arc<Mutex<Vec<bool>>>,
    chain_id: String,
    t0: Instant,
    deadline: Instant,
}

impl Control {
    /// Funds the joiner (its bond and fees) and the leaver (fees), then bonds the joiner.
    async fn join(
        &self,
        funder: &PrivateKey,
        joiner: &PrivateKey,
        leaver: &PrivateKey,
    ) -> StakingTx {
        let mut s = StakingTx {
            node: JOINER,
            ..Default::default()
        };
        let result: std::result::Result<TxStatus, String> = async {
            let nonce = self.nonce(funder).await?;
            let to = |k: &PrivateKey| Address::from_public_key(&k.public_key());
            for (i, (addr, amount)) in [
                (to(joiner), BOND.0 + FEE_MONEY.0),
                (to(leaver), FEE_MONEY.0),
            ]
            .into_iter()
            .enumerate()
            {
                let tx = transfer(funder, &self.chain_id, nonce + i as u64, addr, amount, FEE);
                let st = self.finalize(&tx).await?;
                if !st.receipt.as_ref().is_some_and(|r| r.success) {
                    return Err(format!("funding {addr} failed: {:?}", st.receipt));
                }
            }
            let nonce = self.nonce(joiner).await?;
            let bond = staking::Msg::Bond {
                role: staking::Role::Validator,
                amount: BOND,
            };
            self.finalize(&self.sign(joiner, nonce, bond)).await
        }
        .await;
        self.note(&mut s, result);
        s
    }

    /// Unbonds the leaver's whole validator stake.
    async fn leave(&self, leaver: &PrivateKey) -> StakingTx {
        let mut s = StakingTx {
            node: LEAVER,
            ..Default::default()
        };
        let result = async {
            let account = self.account(leaver).await?;
            let amount = account.stake(staking::Role::Validator);
            if amount.is_zero() {
                return Err(format!("{} has no validator stake", account.address));
            }
            let unbond = staking::Msg::Unbond {
                role: staking::Role::Validator,
                amount,
            };
            self.finalize(&self.sign(leaver, account.nonce, unbond))
                .await
        }
        .await;
        self.note(&mut s, result);
        s
    }

    fn note(&self, s: &mut StakingTx, result: std::result::Result<TxStatus, String>) {
        match result {
            Ok(st) => {
                s.finalized_s = Some(self.t0.elapsed().as_secs_f64());
                s.height = st.height;
                s.success = st.receipt.as_ref().is_some_and(|r| r.success);
                s.error = st.receipt.map(|r| r.code).unwrap_or_default();
                eprintln!(
                    "network bench: fault phase: {:.1} s: node {}'s {} finalized at height {:?} \
                     (success: {})",
                    self.t0.elapsed().as_secs_f64(),
                    s.node,
                    if s.node == JOINER { "bond" } else { "unbond" },
                    s.height,
                    s.success
                );
            }
            Err(e) => s.error = e,
        }
    }

    fn sign(&self, key: &PrivateKey, nonce: u64, msg: staking::Msg) -> Tx {
        TxBody {
            chain_id: self.chain_id.clone(),
            sender: key.public_key(),
            nonce,
            fee: FEE,
            messages: vec![Message::Staking(msg)],
            memo: String::new(),
        }
        .sign(key)
    }

    /// The nodes fit to take a transaction now.
    fn up(&self) -> Vec<usize> {
        let up = self.up.lock().unwrap_or_else(PoisonError::into_inner);
        (0..up.len()).filter(|i| up[*i]).collect()
    }

    /// `key`'s account as a node fit to take transactions has it.
    async fn account(&self, key: &PrivateKey) -> std::result::Result<Account, String> {
        let a = Address::from_public_key(&key.public_key());
        while Instant::now() < self.deadline {
            for i in self.up() {
                if let Ok(acc) = request(self.clients[i].account(&a)).await {
                    return Ok(acc);
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(format!("no node answered for account {a}"))
    }

    /// The next nonce of `key`'s account.
    async fn nonce(&self, key: &PrivateKey) -> std::result::Result<u64, String> {
        Ok(self.account(key).await?.nonce)
    }

    /// Submits `tx` (again every 5 s, to whichever node is fit) until some node has it
    /// finalized.
    async fn finalize(&self, tx: &Tx) -> std::result::Result<TxStatus, String> {
        let hash = tx.hash();
        let mut submitted: Option<Instant> = None;
        let mut last_error = String::from("never submitted");
        while Instant::now() < self.deadline {
            let up = self.up();
            if submitted.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                for i in &up {
                    match request(self.clients[*i].submit(tx)).await {
                        Ok(_) => {}
                        Err(Error::Api { code, .. })
                            if code == "duplicate_tx" || code == "nonce_too_low" => {}
                        Err(e) => {
                            last_error = format!("node {i}: {e}");
                            continue;
                        }
                    }
                    submitted = Some(Instant::now());
                    break;
                }
            }
            for i in &up {
                if let Ok(st) = request(self.clients[*i].tx(&hash)).await
                    && st.status == "finalized"
                {
                    return Ok(st);
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(format!(
            "{hash} not finalized in time (last error: {last_error})"
        ))
    }
}

/// What the block comparison found.
struct Checked {
    heights: usize,
    mismatches: Vec<String>,
    /// Node 0's proposer of each height checked.
    proposers: BTreeMap<u64, Address>,
}

/// The header fields compared.
#[derive(serde::Deserialize, Clone, PartialEq, Eq)]
struct Header {
    hash: Hash,
    parent: Hash,
    proposer: Address,
    state_root: Hash,
}

/// The heights compared up to `top`: all of them up to [`MAX_CHECKED`], else an even sample
/// that includes `top`.
fn heights_to_check(top: u64) -> Vec<u64> {
    if top <= MAX_CHECKED {
        return (1..=top).collect();
    }
    let mut hs: Vec<u64> = (0..MAX_CHECKED)
        .map(|k| 1 + k * (top - 1) / (MAX_CHECKED - 1))
        .collect();
    hs.dedup();
    hs
}

/// Fetches the block at each height to check from every node and compares hash and state root;
/// checks node 0's parent links where consecutive heights were fetched.
async fn compare_blocks(clients: &[Client], top: u64) -> Checked {
    let hs = heights_to_check(top);
    let fetched: Vec<(u64, Vec<Result<Header>>)> = futures::stream::iter(hs.iter().copied())
        .map(|h| async move {
            let path = format!("/api/v1/blocks/{h}");
            let got =
                futures::future::join_all(clients.iter().map(|c| request(c.get::<Header>(&path))))
                    .await;
            (h, got)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut mismatches = Vec::new();
    let mut first: BTreeMap<u64, Header> = BTreeMap::new();
    for (h, got) in fetched {
        let mut differ = Vec::new();
        let mut reference: Option<&Header> = None;
        for (i, g) in got.iter().enumerate() {
            match g {
                Err(e) => differ.push(format!("node {i}: {e}")),
                Ok(b) => match reference {
                    None => reference = Some(b),
                    Some(r) if r == b => {}
                    Some(r) => differ.push(format!(
                        "node {i}: block {} root {} (first answer: block {} root {})",
                        b.hash, b.state_root, r.hash, r.state_root
                    )),
                },
            }
        }
        if !differ.is_empty() {
            mismatches.push((h, format!("height {h}: {}", differ.join("; "))));
        }
        if let Some(r) = reference {
            first.insert(h, r.clone());
        }
    }
    for (h, b) in &first {
        if let Some(prev) = h.checked_sub(1).and_then(|p| first.get(&p))
            && b.parent != prev.hash
        {
            mismatches.push((
                *h,
                format!(
                    "height {h}: parent {} is not the block at {} ({})",
                    b.parent,
                    h - 1,
                    prev.hash
                ),
            ));
        }
    }
    mismatches.sort();
    Checked {
        heights: hs.len(),
        mismatches: mismatches.into_iter().map(|(_, m)| m).collect(),
        proposers: first.into_iter().map(|(h, b)| (h, b.proposer)).collect(),
    }
}

/// The attributes of every `kind` event at heights 0..=`top`, in height order.
async fn events(client: &Client, top: u64, kind: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut from = 0;
    while from <= top {
        let to = (from + 999).min(top);
        if let Ok(blocks) = request(client.events(Some(from), Some(to), Some(kind))).await {
            out.extend(
                blocks
                    .into_iter()
                    .flat_map(|b| b.events)
                    .filter(|e| e.event.kind == kind)
                    .map(|e| e.event.attrs),
            );
        }
        from = to + 1;
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs of equal values over consecutive keys: `a-b: v` (or `a: v`), joined by `; `.
fn runs<V: PartialEq>(m: &BTreeMap<u64, V>, show: impl Fn(&V) -> String) -> String {
    let mut parts = Vec::new();
    let mut it = m.iter().peekable();
    while let Some((&start, v)) = it.next() {
        let mut end = start;
        while let Some(&(&k, w)) = it.peek() {
            if k == end + 1 && w == v {
                end = k;
                it.next();
            } else {
                break;
            }
        }
        parts.push(match start == end {
            true => format!("{start}: {}", show(v)),
            false => format!("{start}-{end}: {}", show(v)),
        });
    }
    parts.join("; ")
}

impl fmt::Display for FaultRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.load;
        let myc = |base: u128| base / Amount::from_myc(1).0;
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        let opt_u = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let plus = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("+{v:.1} s"));
        writeln!(
            f,
            "faults: {} genesis validators and node {JOINER} (bonds {} MYC, joins at the next \
             epoch), every p2p link through one of {} proxies, {} blocks per epoch; {} tx/s \
             offered for {} s from {} accounts while validators are killed (SIGKILL) and \
             restarted, node {PARTITIONED} is partitioned and node {LEAVER} unbonds",
            self.genesis_validators,
            myc(BOND.0),
            self.proxies,
            self.epoch_length,
            self.rate,
            self.seconds,
            self.accounts
        )?;
        let mut rows: Vec<(String, String, String)> = vec![
            (
                "offered (rate x seconds) / sent".into(),
                format!("{} / {}", l.offered, l.sent),
                String::new(),
            ),
            (
                "submitted per second (held)".into(),
                format!("{:.0}", l.sent_per_s),
                self.rate.to_string(),
            ),
            ("accepted".into(), l.accepted.to_string(), String::new()),
            (
                "submit errors".into(),
                l.submit_errors.values().sum::<usize>().to_string(),
                String::new(),
            ),
        ];
        for (code, n) in &l.submit_errors {
            rows.push((format!("  {code}"), n.to_string(), String::new()));
        }
        rows.extend([
            (
                "accepted and finalized".into(),
                l.finalized.to_string(),
                String::new(),
            ),
            (
                "sustained: finalized in the load window, tx/s".into(),
                format!("{:.0}", l.sustained_tps),
                self.rate.to_string(),
            ),
            (
                "submit -> finalized p50 (ms), under faults".into(),
                format!("{:.0}", l.latency.p50),
                String::new(),
            ),
            (
                "submit -> finalized p99 (ms), under faults".into(),
                format!("{:.0}", l.latency.p99),
                String::new(),
            ),
            (
                "submit -> finalized max (ms), under faults".into(),
                format!("{:.0}", l.latency.max),
                String::new(),
            ),
            (
                "  p50 / p99 by the node submitted to (ms)".into(),
                l.latency_by_node
                    .iter()
                    .enumerate()
                    .map(|(i, x)| format!("{i}: {:.0}/{:.0}", x.p50, x.p99))
                    .collect::<Vec<_>>()
                    .join(", "),
                String::new(),
            ),
            (
                "blocks finalized, most txs in one".into(),
                format!("{}, {}", l.blocks, l.max_block_txs),
                String::new(),
            ),
            (
                "kills (SIGKILL) / restarts".into(),
                format!("{} / {}", self.kills.len(), self.restarts),
                String::new(),
            ),
        ]);
        for k in &self.kills {
            rows.push((
                format!(
                    "  node {} killed at {:.1} s, height {}",
                    k.node, k.at_s, k.head
                ),
                format!(
                    "up {}, caught up {}",
                    plus(k.restarted_s.map(|r| r - k.at_s)),
                    plus(k.caught_up_s)
                ),
                if k.partitioned { "(partitioned)" } else { "" }.into(),
            ));
        }
        for s in &self.kills_skipped {
            rows.push(("  kill skipped".into(), s.clone(), String::new()));
        }
        if let Some(p) = &self.partition {
            rows.extend([
                (
                    format!("partition of node {} (s)", p.node),
                    format!("{:.1} -> {}", p.from_s, opt(p.to_s)),
                    String::new(),
                ),
                (
                    "  head at cut -> at heal (its own at heal)".into(),
                    format!(
                        "{} -> {} ({})",
                        p.head_from,
                        p.head_to,
                        opt_u(p.node_height_at_heal)
                    ),
                    String::new(),
                ),
                (
                    "  connections reset / refused by its proxies".into(),
                    format!("{} / {}", p.links_reset, p.connections_refused),
                    String::new(),
                ),
                (
                    "  caught up after the heal (s)".into(),
                    opt(p.caught_up_s),
                    String::new(),
                ),
            ]);
        }
        let j = &self.join;
        let v = &self.leave;
        rows.extend([
            (
                format!("node {JOINER} bond: height (epoch) -> in the set from"),
                format!(
                    "{} ({}) -> epoch {}",
                    opt_u(j.height),
                    opt_u(j.epoch),
                    opt_u(j.effective_epoch)
                ),
                if j.success { "applied" } else { "NOT applied" }.into(),
            ),
            (
                format!("  first epoch node {JOINER} proposed in"),
                opt_u(j.proposal_epoch),
                format!(">= {}", opt_u(j.effective_epoch)),
            ),
            (
                format!("  node {JOINER}'s validator stake at the end (MYC)"),
                myc(j.stake_after).to_string(),
                myc(BOND.0).to_string(),
            ),
            (
                format!("node {LEAVER} unbond: height (epoch) -> out of the set from"),
                format!(
                    "{} ({}) -> epoch {}",
                    opt_u(v.height),
                    opt_u(v.epoch),
                    opt_u(v.effective_epoch)
                ),
                if v.success { "applied" } else { "NOT applied" }.into(),
            ),
            (
                format!("  last epoch node {LEAVER} proposed in"),
                opt_u(v.proposal_epoch),
                format!("< {}", opt_u(v.effective_epoch)),
            ),
            (
                format!("  node {LEAVER}'s validator stake at the end (MYC)"),
                myc(v.stake_after).to_string(),
                "0".into(),
            ),
            (
                "height every node reached (each node's)".into(),
                format!(
                    "{} ({})",
                    self.common_height,
                    self.final_heights
                        .iter()
                        .map(|h| opt_u(*h))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                String::new(),
            ),
            (
                "heights compared on every node (hash, root)".into(),
                self.heights_checked.to_string(),
                self.common_height.min(MAX_CHECKED).to_string(),
            ),
            (
                "heights where nodes differ".into(),
                self.mismatches.to_string(),
                "0".into(),
            ),
            (
                format!(
                    "light client to epoch {}: set changes at the end of epochs",
                    self.light.epoch
                ),
                format!("{:?}", self.light.handoff_epochs),
                String::new(),
            ),
            (
                "  nodes serving the same hand-offs".into(),
                self.light.nodes_agreeing.to_string(),
                self.nodes.to_string(),
            ),
            (
                "  node 0's snapshot imported from genesis trust, height".into(),
                opt_u(self.light.imported_height),
                "(no trusted digest)".into(),
            ),
            (
                "accepted but not finalized (lost)".into(),
                self.lost.to_string(),
                "0".into(),
            ),
        ]);
        for (name, v, t) in rows {
            writeln!(f, "{name:<50} {v:>28} {t:>12}")?;
        }
        writeln!(
            f,
            "validator set size by epoch: {}",
            runs(&self.set_sizes, |n| n.to_string())
        )?;
        writeln!(
            f,
            "nodes that proposed, by epoch: {}",
            runs(&self.proposers, |ns| ns
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" "))
        )?;
        writeln!(
            f,
            "jailed for downtime (node@epoch): {}",
            match self.downtime.is_empty() {
                true => "none".to_string(),
                false => self
                    .downtime
                    .iter()
                    .map(|(e, n)| format!("{n}@{e}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        )?;
        match self.problems.is_empty() {
            true => writeln!(f, "fault phase checks: all passed")?,
            false => {
                writeln!(f, "fault phase checks FAILED:")?;
                for p in &self.problems {
                    writeln!(f, "  {p}")?;
                }
            }
        }
        if let Some(k) = &self.kept {
            writeln!(f, "fault phase homes and logs kept in {k}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule() {
        let s = schedule(150, 30, 5, 60);
        assert_eq!(s.partition, Some((55, 115)));
        assert_eq!(
            s.kills,
            vec![
                (15, 0),
                (45, 1),
                (75, PARTITIONED),
                (105, PARTITIONED),
                (135, 2)
            ]
        );
        assert_eq!(s.leave_at, 75);
    }

    #[test]
    fn short_schedules_stay_inside_the_phase() {
        for secs in [1, 10, 30, 60, 90, 300] {
            let s = schedule(secs, 30, 5, 60);
            for (t, _) in &s.kills {
                assert!(t + 5 + 5 <= secs, "{secs}: kill at {t}");
            }
            if let Some((from, to)) = s.partition {
                assert!(from < to && to <= secs, "{secs}: {from}..{to}");
            }
        }
        assert!(schedule(150, 0, 5, 0).kills.is_empty());
        assert_eq!(schedule(150, 0, 5, 0).partition, None);
    }

    #[test]
    fn sampled_heights() {
        assert_eq!(heights_to_check(3), vec![1, 2, 3]);
        assert_eq!(heights_to_check(0), Vec::<u64>::new());
        let hs = heights_to_check(10_000);
        assert_eq!(hs.len(), MAX_CHECKED as usize);
        assert_eq!((hs[0], hs[hs.len() - 1]), (1, 10_000));
    }

    #[test]
    fn runs_of_values() {
        let m: BTreeMap<u64, usize> = [(0, 4), (1, 4), (2, 5), (4, 5), (5, 3)].into();
        assert_eq!(runs(&m, |v| v.to_string()), "0-1: 4; 2: 5; 4: 5; 5: 3");
        assert_eq!(runs(&BTreeMap::<u64, usize>::new(), |v| v.to_string()), "");
    }
}
