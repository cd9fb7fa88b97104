//! `mycel edge`: light edge devices. Consent and register a device under an owner, run it
//! against any node's API, look at devices, post edge jobs and read their outputs.

use crate::{
    chain_cmd::TxOpts,
    glue::{client, print_json},
};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mycel_node::{
    Home,
    http::device::{DeviceView, EdgeJobView},
    roles::edge::{Prober, ProberConfig, load_embedder},
    services::{
        accounts,
        devices::{count_records, device_address, registration},
    },
    types::{
        Amount, Hash, Message, bank,
        device::{self, Class, DeviceEntry, EdgeJob, Registration},
    },
};
use std::path::PathBuf;

/// Edge commands.
#[derive(Subcommand, Debug)]
pub(crate) enum EdgeCmd {
    /// On the device: sign its consent to be registered by OWNER (prints the registration as
    /// JSON for the owner's `mycel edge register --consent`).
    Consent {
        /// The device's key name (in this home's keystore).
        #[arg(long)]
        device: String,
        /// The owner's address (or key name).
        #[arg(long)]
        owner: String,
        /// Declared hardware class: micro (4 records a round), small (16), standard (64).
        #[arg(long, default_value = "small")]
        class: Class,
        /// Use the tiny random embedder (smoke runs without the pinned models).
        #[arg(long)]
        tiny: bool,
    },
    /// Register a device under --from (its owner), with a bond, and fund its fees.
    Register {
        #[command(flatten)]
        opts: TxOpts,
        /// The device's key name, when it is in this home (else --consent).
        #[arg(long, conflicts_with = "consent", required_unless_present = "consent")]
        device: Option<String>,
        /// A consent file from `mycel edge consent` on the device.
        #[arg(long)]
        consent: Option<PathBuf>,
        /// Declared hardware class (with --device).
        #[arg(long, default_value = "small")]
        class: Class,
        /// Bond (at least the chain's minimum, 1 MYC by default).
        #[arg(long, default_value = "1")]
        bond: Amount,
        /// Sent to the device's account for its transaction fees.
        #[arg(long, default_value = "1")]
        fund: Amount,
        /// Use the tiny random embedder (with --device).
        #[arg(long)]
        tiny: bool,
    },
    /// Run a device: answer its probes from the node's API until it leaves.
    Run {
        /// The device's key name.
        #[arg(long)]
        key: String,
        /// Threads for the model.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Use the tiny random embedder.
        #[arg(long)]
        tiny: bool,
        /// Stop after this many revealed answers (0: until the device leaves).
        #[arg(long, default_value_t = 0)]
        rounds: u64,
    },
    /// Devices with their uptime, checks passed and failed, and earnings.
    Status {
        /// One device (address or key name).
        #[arg(long)]
        device: Option<String>,
        /// One owner's devices (address or key name).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Retire a device (by its owner or itself); its bond returns later.
    Leave {
        #[command(flatten)]
        opts: TxOpts,
        /// The device (address or key name).
        #[arg(long)]
        device: String,
    },
    /// Edge jobs: post one, show one, list them.
    #[command(subcommand)]
    Job(EdgeJobCmd),
}

/// Edge job commands.
#[derive(Subcommand, Debug)]
pub(crate) enum EdgeJobCmd {
    /// Post texts to embed (one JSON string or `{"text": …}` per line), paid per record.
    Post {
        #[command(flatten)]
        opts: TxOpts,
        /// The input file.
        #[arg(long)]
        input: PathBuf,
        /// Records per unit (a device's probe takes one unit; at most 64).
        #[arg(long, default_value_t = 16)]
        unit: u32,
        /// Price per record.
        #[arg(long, default_value = "1000u")]
        price: Amount,
        /// The model (default: the device model of this machine, MiniLM or --tiny).
        #[arg(long)]
        model: Option<String>,
        /// Use the tiny random embedder's ID.
        #[arg(long)]
        tiny: bool,
    },
    /// A job and its units.
    Show {
        /// Job ID.
        id: u64,
        /// Write the embeddings (int8, one row per record, units in order) here once done.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Every edge job.
    List,
}

async fn model_id(tiny: bool) -> Result<Hash> {
    Ok(load_embedder(tiny, 1).await?.1)
}

/// Runs an edge command.
pub(crate) async fn run(home: &Home, api: Option<&str>, cmd: EdgeCmd, json: bool) -> Result<()> {
    let c = client(home, api)?;
    match cmd {
        EdgeCmd::Consent {
            device,
            owner,
            class,
            tiny,
        } => {
            let key = accounts::key(home, &device)?;
            let owner = accounts::address(home, &owner)?;
            let r = registration(&owner, &key, class, model_id(tiny).await?, Amount::ZERO);
            print_json(&r);
            Ok(())
        }
        EdgeCmd::Register {
            opts,
            device,
            consent,
            class,
            bond,
            fund,
            tiny,
        } => {
            let owner = accounts::key(home, &opts.from)?;
            let owner_addr = accounts::address(home, &opts.from)?;
            let mut r: Registration = match (device, consent) {
                (Some(d), _) => registration(
                    &owner_addr,
                    &accounts::key(home, &d)?,
                    class,
                    model_id(tiny).await?,
                    bond,
                ),
                (None, Some(f)) => serde_json::from_slice(
                    &std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?,
                )
                .with_context(|| {
                    format!("{} is not a consent from `mycel edge consent`", f.display())
                })?,
                (None, None) => bail!("--device or --consent"),
            };
            r.bond = bond;
            let dev = device_address(&r)?;
            let mut msgs = vec![Message::Device(device::Msg::Register(Box::new(r.clone())))];
            if !fund.is_zero() {
                msgs.push(Message::Bank(bank::Msg::Transfer {
                    to: dev,
                    amount: fund,
                }));
            }
            let sent = c.send_all(&owner, msgs, &opts.send_options()).await?;
            if json {
                print_json(&serde_json::json!({ "device": dev, "tx": sent.hash }));
            } else {
                println!(
                    "device {dev} registered ({}, model {}), bond {bond}; on probation until its first checked probe passes",
                    r.class.as_str(),
                    r.model
                );
            }
            Ok(())
        }
        EdgeCmd::Run {
            key,
            threads,
            tiny,
            rounds,
        } => {
            let key = accounts::key(home, &key)?;
            let t = std::time::Instant::now();
            let (embed, model) = load_embedder(tiny, threads).await?;
            let loaded_ms = t.elapsed().as_millis();
            let mut p = Prober::new(
                c,
                key,
                embed,
                model,
                ProberConfig {
                    rounds,
                    ..Default::default()
                },
            );
            eprintln!(
                "edge: device {} answering probes (model {model}, loaded in {loaded_ms} ms)",
                p.address()
            );
            p.run_device().await?;
            Ok(())
        }
        EdgeCmd::Status { device, owner } => {
            let list: Vec<DeviceEntry> = match (device, owner) {
                (Some(d), _) => {
                    let a = accounts::address(home, &d)?;
                    let v: DeviceView = c.get(&format!("/api/v1/devices/{a}")).await?;
                    if json {
                        print_json(&v);
                        return Ok(());
                    }
                    vec![v.device]
                }
                (None, Some(o)) => {
                    let a = accounts::address(home, &o)?;
                    c.get(&format!("/api/v1/devices?owner={a}")).await?
                }
                (None, None) => c.get("/api/v1/devices").await?,
            };
            if json {
                print_json(&list);
                return Ok(());
            }
            println!(
                "{:<44} {:<9} {:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>4} {:>12}",
                "device",
                "class",
                "status",
                "probes",
                "answer",
                "missed",
                "passed",
                "failed",
                "rep",
                "fees earned"
            );
            for d in list {
                println!(
                    "{:<44} {:<9} {:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>4} {:>12}",
                    d.address.to_string(),
                    d.class.as_str(),
                    d.status.as_str(),
                    d.probes,
                    d.answered,
                    d.missed,
                    d.passed,
                    d.failed,
                    d.reputation,
                    d.earned.to_string()
                );
            }
            Ok(())
        }
        EdgeCmd::Leave { opts, device } => {
            let key = accounts::key(home, &opts.from)?;
            let d = accounts::address(home, &device)?;
            c.send(
                &key,
                Message::Device(device::Msg::Leave { device: d }),
                &opts.send_options(),
            )
            .await?;
            println!("device {d} left; its bond returns after the release delay");
            Ok(())
        }
        EdgeCmd::Job(EdgeJobCmd::Post {
            opts,
            input,
            unit,
            price,
            model,
            tiny,
        }) => {
            let bytes =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let records = count_records(&bytes) as u64;
            if records == 0 {
                bail!("{} has no records", input.display());
            }
            // Every record must parse before anything is paid for.
            let units = records.div_ceil(unit.max(1) as u64);
            for u in 0..units {
                mycel_node::services::devices::unit_texts(&bytes, u, unit.max(1))
                    .with_context(|| format!("checking {}", input.display()))?;
            }
            let model = match model {
                Some(m) => Hash::from_hex(&m).with_context(|| format!("--model {m:?}"))?,
                None => model_id(tiny).await?,
            };
            let key = accounts::key(home, &opts.from)?;
            let input_hash = c.put_blob(&key, bytes).await?;
            let sent = c
                .send(
                    &key,
                    Message::Device(device::Msg::PostJob {
                        model,
                        input: input_hash,
                        records,
                        unit_records: unit,
                        price_per_record: price,
                    }),
                    &opts.send_options(),
                )
                .await?;
            let id = sent
                .receipt
                .attr("device.job", "job")
                .unwrap_or_default()
                .to_string();
            if json {
                print_json(
                    &serde_json::json!({ "job": id, "records": records, "input": input_hash }),
                );
            } else {
                println!("edge job {id}: {records} records in units of {unit}, input {input_hash}");
            }
            Ok(())
        }
        EdgeCmd::Job(EdgeJobCmd::Show { id, output }) => {
            let v: EdgeJobView = c.get(&format!("/api/v1/edge/jobs/{id}")).await?;
            if let Some(path) = output {
                if v.job.completed == 0 {
                    bail!(
                        "edge job {id} is not done: {}/{} units",
                        v.job.done,
                        v.job.units()
                    );
                }
                let mut out = Vec::new();
                for (_, u) in &v.units {
                    let blob = c.get_blob(&u.output).await?;
                    if device::answer_hash(&blob) != u.output {
                        bail!("unit output {} does not match its hash", u.output);
                    }
                    out.extend(blob);
                }
                std::fs::write(&path, &out)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if json {
                print_json(&v);
            } else {
                println!(
                    "edge job {id}: {}/{} units done, {} records, escrow left {}{}",
                    v.job.done,
                    v.job.units(),
                    v.job.records,
                    v.job.escrow,
                    if v.job.completed != 0 {
                        ", complete"
                    } else {
                        ""
                    }
                );
                for (n, u) in &v.units {
                    println!(
                        "  unit {n}: {:?} by {} ({} leases) {}",
                        u.state, u.device, u.leases, u.output
                    );
                }
            }
            Ok(())
        }
        EdgeCmd::Job(EdgeJobCmd::List) => {
            let jobs: Vec<EdgeJob> = c.get("/api/v1/edge/jobs").await?;
            print_json(&jobs);
            Ok(())
        }
    }
}
