//! What an edge device and its checker both compute for a probe: the probe's texts (a canary's
//! from the round seed, a job unit's from the job's input blob), the int8 answer, the salt of a
//! seal, and the messages that seal and reveal it. One code path on both sides, so an honest
//! device and an honest checker agree up to the CPU's rounding.

use crate::{
    Error, Result,
    client::{Client, SendOptions},
    http::device::{DeviceView, ProbeView},
};
use mycel_ledger::{
    Message,
    modules::device::{self, Class, Registration},
};
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey,
    hash::{Domain, hash, hash_parts},
    keys,
};

/// Signature namespace of the salts of probe seals (derived, so a restart recomputes them).
const SALT_NAMESPACE: &[u8] = b"_MYCEL_DEVICE_SALT";

/// The canary vocabulary: common words, so canaries read like (odd) sentences and tokenize
/// like real text.
const WORDS: &[&str] = &[
    "the",
    "river",
    "a",
    "small",
    "city",
    "light",
    "after",
    "rain",
    "model",
    "network",
    "data",
    "stone",
    "quiet",
    "market",
    "under",
    "bridge",
    "children",
    "paint",
    "old",
    "machine",
    "learns",
    "from",
    "every",
    "morning",
    "train",
    "leaves",
    "north",
    "with",
    "coffee",
    "and",
    "bread",
    "storm",
    "over",
    "hills",
    "farmers",
    "count",
    "sheep",
    "before",
    "winter",
    "music",
    "fills",
    "empty",
    "hall",
    "engineer",
    "fixes",
    "broken",
    "pump",
    "near",
    "harbor",
    "ships",
    "carry",
    "grain",
    "across",
    "sea",
    "library",
    "opens",
    "early",
    "students",
    "read",
    "maps",
    "stars",
    "forest",
    "birds",
    "sing",
    "green",
    "valley",
    "doctor",
    "visits",
    "village",
    "clock",
    "tower",
    "bright",
    "orange",
    "sunset",
    "window",
    "garden",
    "grows",
    "tomatoes",
    "summer",
    "heat",
    "kitchen",
    "smells",
    "of",
    "soup",
    "letter",
    "arrives",
    "late",
    "friend",
    "writes",
    "long",
    "story",
    "about",
    "mountain",
    "snow",
    "melts",
    "spring",
    "water",
    "flows",
    "into",
    "lake",
    "fish",
    "jump",
    "boat",
    "drifts",
    "slowly",
    "toward",
    "island",
    "lighthouse",
    "guides",
    "sailors",
    "home",
    "night",
    "falls",
    "city",
    "lights",
    "glow",
    "people",
    "walk",
    "streets",
    "talking",
    "laughing",
    "dog",
    "chases",
    "ball",
    "park",
    "bench",
    "sits",
    "beneath",
    "tree",
];

/// The texts of a canary probe: `n` sentences every node derives from the round seed and the
/// device, unknown to anyone before the round starts.
pub fn canary_texts(seed: &Hash, device: &Address, n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            let h = hash_parts(Domain::Randomness, &[&seed.0, &device.0, &i.to_be_bytes()]);
            let len = 6 + (h.0[0] % 14) as usize;
            let mut words = Vec::with_capacity(len);
            let mut cur = h;
            for w in 0..len {
                if w > 0 && w % 16 == 0 {
                    cur = hash(Domain::Randomness, &cur.0);
                }
                let b = cur.0[1 + (w % 16)] as usize | ((cur.0[17 + (w % 15)] as usize) << 8);
                words.push(WORDS[b % WORDS.len()]);
            }
            words.join(" ")
        })
        .collect()
}

/// The texts of unit `unit` (of `unit_records`) of an input blob: one record per non-empty line,
/// a JSON string or an object with a `text` field.
pub fn unit_texts(input: &[u8], unit: u64, unit_records: u32) -> Result<Vec<String>> {
    let text = std::str::from_utf8(input)
        .map_err(|e| invalid(format!("edge job input is not UTF-8: {e}")))?;
    let start = unit as usize * unit_records as usize;
    let mut out = Vec::with_capacity(unit_records as usize);
    for (i, line) in text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .skip(start)
        .take(unit_records as usize)
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| invalid(format!("edge job input record {i}: not JSON: {e}")))?;
        let t = match &v {
            serde_json::Value::String(s) => s.clone(),
            _ => v
                .get("text")
                .and_then(|t| t.as_str())
                .ok_or_else(|| {
                    invalid(format!(
                        "edge job input record {i}: neither a string nor an object with `text`"
                    ))
                })?
                .to_string(),
        };
        out.push(t);
    }
    Ok(out)
}

/// Records in an input blob (what `PostJob` must declare).
pub fn count_records(input: &[u8]) -> usize {
    input
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .count()
}

/// One int8 value per dimension: `round(x × 127)`, clamped. Unit-length embeddings keep every
/// value in range; the step (1/127) is far above cross-CPU float differences, so two honest
/// answers differ by at most one step where a value sits on a rounding boundary.
pub fn quantize(vectors: &[Vec<f32>]) -> Vec<u8> {
    vectors
        .iter()
        .flat_map(|v| v.iter())
        .map(|x| ((x * 127.0).round().clamp(-127.0, 127.0) as i8) as u8)
        .collect()
}

/// The salt of `key`'s seal over `device`'s probe of `round`: unpredictable to others and
/// recomputed after a restart.
pub fn salt(key: &PrivateKey, round: u64, device: &Address) -> Hash {
    let mut msg = round.to_be_bytes().to_vec();
    msg.extend_from_slice(&device.0);
    let sig = keys::sign(key, SALT_NAMESPACE, &msg);
    hash(Domain::DeviceAnswer, sig.as_ref())
}

/// Job inputs a device holds, so that each job's input crosses the link once (a flaky link makes
/// every fetch slow). Bounded: the oldest job's input goes first.
#[derive(Debug, Default)]
pub struct InputCache {
    jobs: std::collections::VecDeque<(u64, u32, std::sync::Arc<Vec<u8>>)>,
    bytes: usize,
}

impl InputCache {
    /// Most input bytes held.
    pub const MAX_BYTES: usize = 64 << 20;

    async fn get(&mut self, client: &Client, job: u64) -> Result<(u32, std::sync::Arc<Vec<u8>>)> {
        if let Some((_, u, b)) = self.jobs.iter().find(|(j, _, _)| *j == job) {
            return Ok((*u, b.clone()));
        }
        let v: crate::http::device::EdgeJobView =
            client.get(&format!("/api/v1/edge/jobs/{job}")).await?;
        let input = client.get_blob(&v.job.input).await?;
        let b = std::sync::Arc::new(input);
        self.bytes += b.len();
        self.jobs.push_back((job, v.job.unit_records, b.clone()));
        while self.bytes > Self::MAX_BYTES && self.jobs.len() > 1 {
            if let Some((_, _, old)) = self.jobs.pop_front() {
                self.bytes -= old.len();
            }
        }
        Ok((v.job.unit_records, b))
    }
}

/// The texts a probe asks for: a canary's from the round seed, a job unit's from the job's
/// input (fetched once per job).
pub async fn probe_texts(
    client: &Client,
    cache: &mut InputCache,
    p: &ProbeView,
) -> Result<Vec<String>> {
    if p.job == 0 {
        return Ok(canary_texts(&p.seed, &p.device, p.records));
    }
    let (unit_records, input) = cache.get(client, p.job).await?;
    let texts = unit_texts(&input, p.unit, unit_records)?;
    if texts.len() != p.records as usize {
        return Err(invalid(format!(
            "edge job {} unit {}: the input has {} records there, the chain says {}",
            p.job,
            p.unit,
            texts.len(),
            p.records
        )));
    }
    Ok(texts)
}

/// A registration of the device `device_key` under `owner`, signed by the device key.
pub fn registration(
    owner: &Address,
    device_key: &PrivateKey,
    class: Class,
    model: Hash,
    bond: Amount,
) -> Registration {
    use commonware_cryptography::Signer as _;
    let sig = keys::sign(
        device_key,
        device::REGISTER_NAMESPACE,
        &device::register_bytes(owner, class, &model),
    );
    Registration {
        key: device_key.public_key().as_ref().to_vec(),
        class,
        model,
        bond,
        signature: sig.as_ref().to_vec(),
    }
}

/// The device `addr` as the node sees it (none if unregistered).
pub async fn device_view(client: &Client, addr: &Address) -> Result<Option<DeviceView>> {
    match client.get(&format!("/api/v1/devices/{addr}")).await {
        Ok(v) => Ok(Some(v)),
        Err(Error::Api { code, .. }) if code == "not_found" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Seals `answer` for `device`'s probe of `round` as `key` (the device or its checker).
pub async fn seal(
    client: &Client,
    key: &PrivateKey,
    round: u64,
    device: &Address,
    answer: &[u8],
    checker: bool,
) -> Result<()> {
    use commonware_cryptography::Signer as _;
    let by = Address::from_public_key(&key.public_key());
    let sealed = device::seal(
        round,
        device,
        &by,
        &device::answer_hash(answer),
        &salt(key, round, device),
    );
    let msg = if checker {
        device::Msg::CheckSeal {
            round,
            device: *device,
            sealed,
        }
    } else {
        device::Msg::Seal { round, sealed }
    };
    send(client, key, msg).await
}

/// Reveals `answer` for `device`'s probe of `round` as `key`.
pub async fn reveal(
    client: &Client,
    key: &PrivateKey,
    round: u64,
    device: &Address,
    answer: Vec<u8>,
) -> Result<()> {
    let msg = device::Msg::Reveal {
        round,
        device: *device,
        salt: salt(key, round, device),
        answer,
    };
    send(client, key, msg).await
}

async fn send(client: &Client, key: &PrivateKey, msg: device::Msg) -> Result<()> {
    client
        .send(key, Message::Device(msg), &SendOptions::default())
        .await
        .map(|_| ())
}

/// Asks for probes again after the device was set offline (sent by the device).
pub async fn resume(client: &Client, key: &PrivateKey) -> Result<()> {
    send(client, key, device::Msg::Resume).await
}

/// An edge-side error.
pub fn invalid(why: String) -> Error {
    Error::Invalid {
        what: "edge".into(),
        why,
    }
}

/// The address of a registration's device key.
pub fn device_address(r: &Registration) -> Result<Address> {
    mycel_primitives::keys::public_key_from_bytes(&r.key)
        .map(|pk| Address::from_public_key(&pk))
        .map_err(|e| invalid(format!("the device key: {e}")))
}
