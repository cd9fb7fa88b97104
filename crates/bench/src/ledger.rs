//! `mycel bench ledger`: ledger throughput against the ed25519 ceiling, and HTTP-to-finality
//! latency on a real single-validator devnet, printed side by side.

use crate::{free_port, tempdir};
use commonware_cryptography::Signer;
use mycel_consensus::{Chain, Digest, block::Block};
use mycel_ledger::{
    Message, Tx, TxBody,
    execute::{BlockEnv, execute_block},
    genesis::{Genesis, dev_key},
    modules::bank,
};
use mycel_node::{Error, Home, Result, client::Client, error::io};
use mycel_primitives::{
    Address, Amount, PrivateKey,
    codec::Encode,
    keys::{SignedMessage, verify, verify_batch},
};
use mycel_store::{BlockRecord, Store};
use std::{
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

/// Options of `mycel bench ledger`.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerBenchArgs {
    /// Transfers to apply.
    #[arg(long, default_value_t = 50_000)]
    pub txs: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 5_000)]
    pub block_txs: usize,
    /// Transfers whose finality latency is measured over HTTP (0 to skip).
    #[arg(long, default_value_t = 200)]
    pub latency_samples: usize,
}

fn transfers(keys: &[PrivateKey], chain_id: &str, n: usize, fee: Amount) -> Vec<Tx> {
    let mut nonces = vec![0u64; keys.len()];
    (0..n)
        .map(|i| {
            let k = i % keys.len();
            let key = &keys[k];
            let nonce = nonces[k];
            nonces[k] += 1;
            TxBody {
                chain_id: chain_id.into(),
                sender: key.public_key(),
                nonce,
                fee,
                messages: vec![Message::Bank(bank::Msg::Transfer {
                    to: Address([(i % 251) as u8; 20]),
                    amount: Amount(1),
                })],
                memo: String::new(),
            }
            .sign(key)
        })
        .collect()
}

/// Runs the ledger benchmark and prints its report.
pub fn ledger(args: &LedgerBenchArgs) -> Result<()> {
    let accounts = 1_000usize.min(args.txs.max(1));
    let keys: Vec<PrivateKey> = (0..accounts).map(|i| dev_key("bench", i)).collect();
    let pks: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    let genesis = Genesis::build(
        "bench",
        &[dev_key("validator", 0).public_key()],
        &pks,
        Amount::from_myc(1_000_000),
    );
    let fee = Amount::from_myc(1);
    let txs = transfers(&keys, "bench", args.txs, fee);
    println!(
        "mycel bench ledger: {} signed transfers from {} accounts, {} per block",
        txs.len(),
        accounts,
        args.block_txs
    );

    // Ceiling: raw ed25519 verification on this machine, one core.
    let bodies: Vec<Vec<u8>> = txs.iter().map(|t| t.body.encode().to_vec()).collect();
    let sample = txs.len().min(20_000);
    let t = Instant::now();
    for (tx, body) in txs.iter().zip(&bodies).take(sample) {
        assert!(verify(
            &tx.body.sender,
            mycel_ledger::TX_NAMESPACE,
            body,
            &tx.signature
        ));
    }
    let single = sample as f64 / t.elapsed().as_secs_f64();
    let items: Vec<SignedMessage> = txs
        .iter()
        .zip(&bodies)
        .take(sample)
        .map(|(tx, b)| SignedMessage {
            public_key: &tx.body.sender,
            message: b,
            signature: &tx.signature,
        })
        .collect();
    let t = Instant::now();
    assert!(verify_batch(mycel_ledger::TX_NAMESPACE, &items));
    let batch = sample as f64 / t.elapsed().as_secs_f64();

    // Throughput: execute, compute the state root and commit durably, block after block.
    let dir = tempdir()?;
    let store = Arc::new(Store::open(dir.join("state.redb"))?);
    let chain = Chain::open(store.clone(), &genesis, args.block_txs, 16)?;
    let mut parent = chain.genesis_block().clone();
    let (mut exec_time, mut root_time, mut commit_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let total = Instant::now();
    for chunk in txs.chunks(args.block_txs) {
        let snapshot = store.snapshot(&[])?;
        let env = BlockEnv {
            height: parent.height + 1,
            proposer: Address::default(),
            parent: parent.hash(),
            time_ms: (parent.height + 1) * 100,
            certified: None,
            equivocations: Vec::new(),
        };
        let t = Instant::now();
        let out = execute_block(&snapshot, &env, chunk)?;
        exec_time += t.elapsed();
        let t = Instant::now();
        let layer = snapshot.apply(out.writes)?;
        root_time += t.elapsed();
        let b = Block::new(
            Digest(parent.hash().0),
            parent.height + 1,
            0,
            Address::default(),
            layer.root,
            chunk.to_vec(),
        );
        let t = Instant::now();
        store.commit(
            &layer,
            &BlockRecord {
                height: b.height,
                digest: b.hash(),
                bytes: mycel_consensus::block::encode(&b),
                txs: out
                    .receipts
                    .iter()
                    .map(|r| (r.tx_hash, r.encode().to_vec()))
                    .collect(),
                events: mycel_ledger::events::encode_events(&out.events),
            },
        )?;
        commit_time += t.elapsed();
        parent = b;
    }
    let tps = txs.len() as f64 / total.elapsed().as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / txs.len() as f64;
    println!();
    println!("{:<58} {:>12}", "figure", "value");
    println!(
        "{:<58} {:>12.0}",
        "ed25519 verify, one at a time (ceiling), sig/s", single
    );
    println!("{:<58} {:>12.0}", "ed25519 batch verify, sig/s", batch);
    println!(
        "{:<58} {:>12.0}",
        "signed transfers applied (verify+execute+root+commit), tx/s", tps
    );
    println!("{:<58} {:>12}", "target", ">= 20000");
    println!(
        "{:<58} {:>12.2}",
        "  of which execute incl. batch verify, us/tx",
        per(exec_time)
    );
    println!(
        "{:<58} {:>12.2}",
        "  of which state root (JMT), us/tx",
        per(root_time)
    );
    println!(
        "{:<58} {:>12.2}",
        "  of which durable commit (redb), us/tx",
        per(commit_time)
    );
    println!(
        "{:<58} {:>12.2}",
        "throughput / single-verify ceiling",
        tps / single
    );

    if args.latency_samples > 0 {
        let (p50, p99, n) = latency(args.latency_samples)?;
        println!(
            "{:<58} {:>12.1}",
            "HTTP submit -> finalized on devnet, p50 ms", p50
        );
        println!(
            "{:<58} {:>12.1}",
            "HTTP submit -> finalized on devnet, p99 ms", p99
        );
        println!("{:<58} {:>12}", "  samples", n);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Starts `mycel devnet` as a child process and measures submit-to-finality latency.
fn latency(samples: usize) -> Result<(f64, f64, usize)> {
    let home = tempdir()?;
    let (api, p2p) = (free_port()?, free_port()?);
    let exe = std::env::current_exe().map_err(io(std::path::Path::new("current exe")))?;
    let mut child = Command::new(exe)
        .args([
            "--home",
            home.to_str().unwrap_or("."),
            "devnet",
            "--api.addr",
            &format!("127.0.0.1:{api}"),
            "--p2p.addr",
            &format!("127.0.0.1:{p2p}"),
            "--no-worker",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io(std::path::Path::new("mycel devnet")))?;
    let result = (|| -> Result<(f64, f64, usize)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io(std::path::Path::new("tokio")))?;
        rt.block_on(async {
            let c = Client::new(&format!("http://127.0.0.1:{api}"));
            let start = Instant::now();
            while c.status().await.is_err() {
                if start.elapsed() > Duration::from_secs(60) {
                    return Err(Error::Unreachable {
                        url: format!("127.0.0.1:{api}"),
                        why: "devnet did not start".into(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let key = mycel_node::keystore::Keystore::new(Home(home.clone()).keys_dir())
                .load("dev0")?
                .private_key()?;
            let to = mycel_node::keystore::Keystore::new(Home(home.clone()).keys_dir())
                .load("dev1")?
                .address;
            let mut lat = Vec::with_capacity(samples);
            for _ in 0..samples {
                let tx = c
                    .sign(
                        &key,
                        vec![Message::Bank(bank::Msg::Transfer {
                            to,
                            amount: Amount(1),
                        })],
                        None,
                        "",
                    )
                    .await?;
                let t = Instant::now();
                let h = c.submit(&tx).await?;
                let st = c.wait(&h, Duration::from_secs(30)).await?;
                if st.status != "finalized" {
                    return Err(Error::Api {
                        code: "timeout".into(),
                        message: format!("{h} not finalized"),
                    });
                }
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat.sort_by(|a, b| a.total_cmp(b));
            let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
            Ok((pct(0.5), pct(0.99), lat.len()))
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    result
}
