//! Choosing a worker: among the offers that serve the model for the job kind, the best by
//! stake, reputation, price and the latency this gateway measured; a worker that just failed
//! goes to the back until it answers again.

use crate::{Result, client::Client};
use mycel_ledger::modules::market::{JobKind, Offer};
use mycel_primitives::{Address, Amount, Hash};
use parking_lot::Mutex;
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// A worker as `GET /api/v1/workers` lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkerView {
    /// Its address.
    pub address: Address,
    /// Its offer.
    pub offer: Offer,
    /// Its reputation.
    pub reputation: u64,
    /// Its bonded worker stake.
    #[serde(default)]
    pub stake: Amount,
}

/// The URL of an offer's endpoint.
pub fn url(endpoint: &str) -> String {
    if endpoint.starts_with("http") {
        endpoint.trim_end_matches('/').to_string()
    } else {
        format!("http://{}", endpoint.trim_end_matches('/'))
    }
}

#[derive(Default)]
struct Seen {
    /// Exponentially weighted time to answer, milliseconds.
    latency_ms: f64,
    /// When it last failed.
    failed: Option<Instant>,
    /// Requests this gateway has in flight with it.
    in_flight: usize,
    /// It signed a receipt this gateway refused: never chosen again by this gateway.
    banned: bool,
}

/// Worker choice with a short cache of the chain's offers.
#[derive(Default)]
pub struct Router {
    cache: Mutex<Option<(Instant, Vec<WorkerView>)>>,
    seen: Mutex<BTreeMap<Address, Seen>>,
}

/// How long a failure keeps a worker at the back of the line.
const PENALTY: Duration = Duration::from_secs(30);

impl Router {
    /// The workers with offers (cached for a second).
    pub async fn workers(&self, chain: &Client) -> Result<Vec<WorkerView>> {
        if let Some((at, w)) = self.cache.lock().as_ref()
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(w.clone());
        }
        let w: Vec<WorkerView> = chain.get("/api/v1/workers").await?;
        *self.cache.lock() = Some((Instant::now(), w.clone()));
        Ok(w)
    }

    /// The workers serving `model` for `kind` with an endpoint, best first.
    pub async fn candidates(
        &self,
        chain: &Client,
        model: Hash,
        kind: JobKind,
    ) -> Result<Vec<WorkerView>> {
        let mut ws: Vec<WorkerView> = self
            .workers(chain)
            .await?
            .into_iter()
            .filter(|w| {
                !self.seen.lock().get(&w.address).is_some_and(|s| s.banned)
                    && w.offer.models.contains(&model)
                    && w.offer.kinds & (1 << kind as u8) != 0
                    && !w.offer.endpoint.is_empty()
            })
            .collect();
        let seen = self.seen.lock();
        let score = |w: &WorkerView| -> f64 {
            let s = seen.get(&w.address);
            let latency = s.map_or(50.0, |s| s.latency_ms);
            let failed = s
                .and_then(|s| s.failed)
                .is_some_and(|t| t.elapsed() < PENALTY);
            // Stake in MYC (log-scaled: a whale is not a hundred times better), reputation,
            // and the price and latency a user pays.
            let stake = (w.stake.0 as f64 / 1e9 + 1.0).ln() + 1.0;
            let rep = w.reputation as f64 + 1.0;
            let price = w.offer.price_per_unit.0 as f64 + 1.0;
            // Load spreads: each request in flight counts like another latency.
            let busy = 1.0 + s.map_or(0, |s| s.in_flight) as f64;
            let base = stake * rep / (price * (latency + 10.0) * busy);
            if failed { base * 1e-6 } else { base }
        };
        ws.sort_by(|a, b| {
            score(b)
                .partial_cmp(&score(a))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.address.cmp(&b.address))
        });
        Ok(ws)
    }

    /// Records a worker's answer time.
    pub fn observe(&self, worker: &Address, took: Duration) {
        let mut seen = self.seen.lock();
        let s = seen.entry(*worker).or_default();
        let ms = took.as_secs_f64() * 1e3;
        s.latency_ms = if s.latency_ms == 0.0 {
            ms
        } else {
            0.8 * s.latency_ms + 0.2 * ms
        };
        s.failed = None;
    }

    /// Counts a request in flight with `worker` until the guard drops.
    pub fn begin<'a>(&'a self, worker: &Address) -> InFlight<'a> {
        self.seen.lock().entry(*worker).or_default().in_flight += 1;
        InFlight {
            router: self,
            worker: *worker,
        }
    }

    /// Stops choosing `worker`: it signed a receipt that does not check.
    pub fn ban(&self, worker: &Address) {
        self.seen.lock().entry(*worker).or_default().banned = true;
    }

    /// Records a worker's failure.
    pub fn failed(&self, worker: &Address) {
        self.seen.lock().entry(*worker).or_default().failed = Some(Instant::now());
    }
}

/// A request in flight with a worker (see [`Router::begin`]).
pub struct InFlight<'a> {
    router: &'a Router,
    worker: Address,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.router.seen.lock().get_mut(&self.worker) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
}
