//! The state-sync phase of `mycel bench network --sync`: a full node joins a long chain.
//!
//! One validator grows a chain of `--sync-blocks` blocks (its heartbeat at 0 ms, so an idle
//! chain gets a block as fast as consensus finalizes one) while `--sync-accounts` transfers to
//! fresh addresses give its state that many accounts. Then the validator is restarted with the
//! default heartbeat, as a chain of that length would run, and:
//! 1. a full node with `state_sync` pointing at the validator starts: the time from its process
//!    start to its API answering (the snapshot fetched, checked against the finality proof and
//!    imported) and to its head reaching the validator's head at its start;
//! 2. it must not hold block 1 (it did not replay), and must have the validator's block hash and
//!    state root at a height both have passed;
//! 3. the peer figure of the same run: a second full node without state sync replays the chain
//!    from genesis for as long as the first took (at least `--sync-replay-seconds`) or until it
//!    reaches that head, and its blocks per second give the time a replay of the whole chain
//!    would take.

use super::{Net, consistency, request, rss_mb, transfer};
use mycel_node::{Error, Home, Result, client::Client, http::sync::Snapshot, keystore::Keystore};
use mycel_primitives::{Address, PrivateKey};
use std::{
    fmt,
    time::{Duration, Instant},
};

/// The issue-15 target: a full node joins a chain of ≥100,000 blocks by state sync in ≤30 s.
const TARGET_SYNC_S: f64 = 30.0;
/// The chain length that target is stated for.
const TARGET_BLOCKS: u64 = 100_000;
/// Node indexes in the phase's network.
const VALIDATOR: usize = 0;
const SYNCER: usize = 1;
const REPLAYER: usize = 2;

/// What the state-sync phase measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncRun {
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// Seconds the chain took to grow.
    pub build_seconds: f64,
    /// Transfers to fresh addresses accepted while it grew.
    pub accounts_created: usize,
    /// The validator's head when the full node started.
    pub chain_height: u64,
    /// State entries and JSON bytes of the snapshot the validator serves then.
    pub snapshot_entries: usize,
    /// See `snapshot_entries`.
    pub snapshot_bytes: usize,
    /// Full-node process start → its API answers (the snapshot imported), seconds.
    pub api_seconds: f64,
    /// Full-node process start → its head at `chain_height` or above, seconds.
    pub sync_seconds: f64,
    /// The height the synced node started from (its first block).
    pub synced_from: u64,
    /// The synced node holds block 1 (it should not: it did not replay).
    pub holds_block_1: bool,
    /// Height compared between the validator and the synced node, and whether hash and root
    /// agree there.
    pub checked_height: u64,
    /// See `checked_height`.
    pub consistent: bool,
    /// The synced node's resident memory after catching up, MB.
    pub synced_rss_mb: f64,
    /// Seconds the replaying node ran, and the height it reached.
    pub replay_seconds: f64,
    /// See `replay_seconds`.
    pub replay_height: u64,
}

impl SyncRun {
    fn replay_blocks_per_s(&self) -> f64 {
        self.replay_height as f64 / self.replay_seconds.max(1e-3)
    }
}

/// Runs the phase.
pub(super) async fn run(args: &super::NetworkBenchArgs) -> Result<SyncRun> {
    if args.sync_blocks < 2 || args.sync_epoch_length == 0 {
        return Err(Error::Invalid {
            what: "bench network sync options".into(),
            why: "sync blocks must be at least 2 and the epoch length positive".into(),
        });
    }
    eprintln!(
        "network bench: sync phase: 1 validator grows a chain of {} blocks with {} new accounts",
        args.sync_blocks, args.sync_accounts
    );
    let mut net = Net::init(1, 2, args.accounts, args.sync_epoch_length)?;
    let homes: Vec<Home> = net.homes.iter().map(|h| Home(h.clone())).collect();
    let mut cfg = homes[VALIDATOR].config()?;
    let heartbeat = cfg.heartbeat_ms;
    cfg.heartbeat_ms = 0;
    homes[VALIDATOR].write_config(&cfg)?;
    let mut syncer = homes[SYNCER].config()?;
    syncer.state_sync = Some(net.clients[VALIDATOR].base().to_string());
    homes[SYNCER].write_config(&syncer)?;
    let validator = net.clients[VALIDATOR].clone();
    net.children.push(net.spawn(VALIDATOR)?);
    wait_for(&net, VALIDATOR, 1, Duration::from_secs(120)).await?;

    let start = Instant::now();
    let chain_id = request(validator.status()).await?.chain_id;
    let ks = Keystore::new(homes[VALIDATOR].keys_dir());
    let keys: Vec<PrivateKey> = (0..args.accounts)
        .map(|i| ks.load(&format!("dev{i}"))?.private_key())
        .collect::<Result<_>>()?;
    let senders: Vec<_> = keys
        .into_iter()
        .enumerate()
        .map(|(k, key)| {
            let share = args.sync_accounts / args.accounts
                + usize::from(k < args.sync_accounts % args.accounts);
            tokio::spawn(fund_new_accounts(
                validator.clone(),
                key,
                chain_id.clone(),
                k as u32,
                share,
            ))
        })
        .collect();
    let mut accounts_created = 0;
    for t in senders {
        accounts_created += t.await.map_err(|e| Error::Invalid {
            what: "sync phase sender".into(),
            why: e.to_string(),
        })??;
    }
    let mut last_report = Instant::now();
    loop {
        let h = request(validator.status()).await?.height;
        if h >= args.sync_blocks {
            break;
        }
        if let Some(status) = net.exited(VALIDATOR) {
            return Err(died(&net, VALIDATOR, status));
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "network bench: sync phase: height {h} after {:.0} s",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let build_seconds = start.elapsed().as_secs_f64();

    // The chain now runs as a chain of that length would: the default heartbeat.
    net.kill(VALIDATOR);
    cfg.heartbeat_ms = heartbeat;
    homes[VALIDATOR].write_config(&cfg)?;
    net.restart(VALIDATOR)?;
    let chain_height =
        wait_for(&net, VALIDATOR, args.sync_blocks, Duration::from_secs(120)).await?;
    let snap: Snapshot = request(validator.get("/api/v1/sync/snapshot")).await?;
    let snapshot_entries = snap.entries.len();
    let snapshot_bytes = serde_json::to_vec(&snap).map_or(0, |b| b.len());
    drop(snap);
    eprintln!(
        "network bench: sync phase: chain of {chain_height} blocks in {build_seconds:.0} s, \
         {snapshot_entries} state entries; a full node joins by state sync"
    );

    let t0 = Instant::now();
    net.children.push(net.spawn(SYNCER)?);
    let syncer = net.clients[SYNCER].clone();
    let deadline = Duration::from_secs(600);
    let synced_from = loop {
        if let Some(status) = net.exited(SYNCER) {
            return Err(died(&net, SYNCER, status));
        }
        if let Ok(s) = syncer.status().await {
            break s.height;
        }
        if t0.elapsed() > deadline {
            return Err(slow(&net, SYNCER, "answer", deadline));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let api_seconds = t0.elapsed().as_secs_f64();
    wait_for(&net, SYNCER, chain_height, deadline).await?;
    let sync_seconds = t0.elapsed().as_secs_f64();
    let synced_rss_mb = rss_mb(net.children[SYNCER].id());
    let holds_block_1 = request(syncer.get::<serde_json::Value>("/api/v1/blocks/1"))
        .await
        .is_ok();
    let (checked_height, consistent) = consistency(&[validator.clone(), syncer.clone()]).await?;

    // The peer: a node that replays every block from genesis, for as long as the sync took.
    let replay_for = Duration::from_secs_f64(sync_seconds.max(args.sync_replay_seconds as f64));
    eprintln!(
        "network bench: sync phase: synced in {sync_seconds:.1} s; a full node replays from \
         genesis for {:.0} s",
        replay_for.as_secs_f64()
    );
    let t1 = Instant::now();
    net.children.push(net.spawn(REPLAYER)?);
    let mut replay_height = 0;
    while t1.elapsed() < replay_for && replay_height < chain_height {
        if let Some(status) = net.exited(REPLAYER) {
            return Err(died(&net, REPLAYER, status));
        }
        if let Ok(s) = net.clients[REPLAYER].status().await {
            replay_height = s.height;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let replay_seconds = t1.elapsed().as_secs_f64();
    if consistent && !holds_block_1 && std::env::var_os("MYCEL_BENCH_KEEP").is_none() {
        net.keep = false;
    }
    Ok(SyncRun {
        epoch_length: args.sync_epoch_length,
        build_seconds,
        accounts_created,
        chain_height,
        snapshot_entries,
        snapshot_bytes,
        api_seconds,
        sync_seconds,
        synced_from,
        holds_block_1,
        checked_height,
        consistent,
        synced_rss_mb,
        replay_seconds,
        replay_height,
    })
}

/// Sends `n` transfers of one base unit from `key`, each to an address no one has used,
/// one at a time; how many were accepted.
async fn fund_new_accounts(
    client: Client,
    key: PrivateKey,
    chain_id: String,
    sender: u32,
    n: usize,
) -> Result<usize> {
    let from = Address::from_public_key(&commonware_cryptography::Signer::public_key(&key));
    let mut nonce = request(client.account(&from)).await?.nonce;
    let mut accepted = 0;
    for j in 0..n as u64 {
        let mut to = [0u8; 20];
        to[0] = 0x5c;
        to[4..8].copy_from_slice(&sender.to_be_bytes());
        to[12..20].copy_from_slice(&j.to_be_bytes());
        let tx = transfer(&key, &chain_id, nonce, Address(to), 1, super::FEE);
        match request(client.submit(&tx)).await {
            Ok(_) => {
                accepted += 1;
                nonce += 1;
            }
            // A full pool, or this sender's share of it: wait for a block and send the same
            // transfer again.
            Err(Error::Api { code, .. }) if code == "mempool_full" || code == "sender_limit" => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(accepted)
}

/// Waits until node `i` answers at height `h` or more; its height then.
async fn wait_for(net: &Net, i: usize, h: u64, timeout: Duration) -> Result<u64> {
    let start = Instant::now();
    loop {
        if let Ok(s) = net.clients[i].status().await
            && s.height >= h
        {
            return Ok(s.height);
        }
        if start.elapsed() > timeout {
            return Err(slow(net, i, &format!("reach height {h}"), timeout));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn died(net: &Net, i: usize, status: std::process::ExitStatus) -> Error {
    Error::Invalid {
        what: format!("sync phase node {i}"),
        why: format!(
            "exited ({status}); see {}",
            net.homes[i].join("node.log").display()
        ),
    }
}

fn slow(net: &Net, i: usize, what: &str, timeout: Duration) -> Error {
    Error::Unreachable {
        url: net.clients[i].base().to_string(),
        why: format!(
            "sync phase node {i} did not {what} within {} s; logs in {}",
            timeout.as_secs(),
            net.dir.display()
        ),
    }
}

impl fmt::Display for SyncRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = |b: bool| if b { "met" } else { "NOT met" };
        let replay = self.replay_blocks_per_s();
        let replay_all = self.chain_height as f64 / replay.max(1e-9);
        writeln!(
            f,
            "state sync: a chain of {} blocks ({} per epoch, grown in {:.0} s with {} new \
             accounts); a full node joins by state sync beside one replaying from genesis in the \
             same run",
            self.chain_height, self.epoch_length, self.build_seconds, self.accounts_created
        )?;
        let met = self.chain_height >= TARGET_BLOCKS
            && self.sync_seconds <= TARGET_SYNC_S
            && self.consistent
            && !self.holds_block_1;
        let rows: Vec<(String, String, String)> = vec![
            (
                "snapshot: state entries, JSON MB".into(),
                format!(
                    "{}, {:.1}",
                    self.snapshot_entries,
                    self.snapshot_bytes as f64 / 1e6
                ),
                String::new(),
            ),
            (
                "start -> API up (snapshot checked, imported) (s)".into(),
                format!("{:.2}", self.api_seconds),
                String::new(),
            ),
            (
                "start -> at the validator's head (s)".into(),
                format!("{:.2}", self.sync_seconds),
                format!("<= 30 s at >= {TARGET_BLOCKS} blocks ({})", ok(met)),
            ),
            (
                "synced from height / holds block 1".into(),
                format!(
                    "{} / {}",
                    self.synced_from,
                    if self.holds_block_1 { "YES" } else { "no" }
                ),
                "no".into(),
            ),
            (
                "same block and state root as the validator at".into(),
                format!(
                    "{} ({})",
                    self.checked_height,
                    if self.consistent { "yes" } else { "NO" }
                ),
                "yes".into(),
            ),
            (
                "synced node RSS (MB)".into(),
                format!("{:.0}", self.synced_rss_mb),
                String::new(),
            ),
            (
                "peer: replay from genesis, blocks/s".into(),
                format!(
                    "{replay:.0} ({} in {:.0} s)",
                    self.replay_height, self.replay_seconds
                ),
                String::new(),
            ),
            (
                "peer: replay of the whole chain would take (s)".into(),
                format!("{replay_all:.0}"),
                String::new(),
            ),
        ];
        for (name, v, t) in rows {
            writeln!(f, "{name:<50} {v:>22} {t:>33}")?;
        }
        Ok(())
    }
}
