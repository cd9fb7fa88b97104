//! Receipts that prove themselves offline. A [`ReceiptBundle`] is a worker-signed receipt with
//! what a client needs to check it without a node: the session as the chain finalized it (its
//! state proof against a state root, and headers up to a finalization certificate for that
//! root) and, once the worker settled it, the receipt's inclusion proof in the settled root.
//! [`verify`] runs every check it can and says which it could not (a bare receipt has no
//! session; finality needs the validator keys of a genesis the verifier trusts).

use crate::http::StateProof;
use commonware_cryptography::ed25519::PublicKey;
use mycel_ledger::modules::market::{Session, session_key};
use mycel_primitives::{codec::decode, merkle::InclusionProof};
use mycel_verify::SignedReceipt;
use serde::{Deserialize, Serialize};

/// A receipt and its evidence.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptBundle {
    /// The chain it is for.
    #[serde(default)]
    pub chain_id: String,
    /// The worker-signed receipt.
    pub receipt: SignedReceipt,
    /// The session as finalized: its record is the proof's value.
    #[serde(default)]
    pub session: Option<StateProof>,
    /// The receipt's inclusion proof in the session's settled root, once settled.
    #[serde(default)]
    pub inclusion: Option<InclusionProof>,
}

impl ReceiptBundle {
    /// Reads a bundle, or a bare receipt as the gateway returns it (`mycel_receipt`).
    pub fn from_json(text: &str) -> Result<ReceiptBundle, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let v = if v.get("mycel_receipt").is_some() {
            v["mycel_receipt"].clone()
        } else {
            v
        };
        if v.get("receipt").is_some_and(|r| r.get("receipt").is_some()) {
            return serde_json::from_value(v).map_err(|e| format!("not a receipt bundle: {e}"));
        }
        let chain_id = v["chain_id"].as_str().unwrap_or_default().to_string();
        let receipt: SignedReceipt =
            serde_json::from_value(v).map_err(|e| format!("not a receipt: {e}"))?;
        Ok(ReceiptBundle {
            chain_id,
            receipt,
            session: None,
            inclusion: None,
        })
    }
}

/// One check and its outcome: `Some(true)` passed, `Some(false)` failed, `None` not checked.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub check: &'static str,
    /// Its outcome.
    pub ok: Option<bool>,
    /// Why.
    pub detail: String,
}

fn check(out: &mut Vec<Check>, check: &'static str, ok: Option<bool>, detail: impl Into<String>) {
    out.push(Check {
        check,
        ok,
        detail: detail.into(),
    });
}

/// Every check a bundle allows; `validators` are the keys of the genesis the caller trusts.
pub fn verify(b: &ReceiptBundle, validators: Option<&[PublicKey]>) -> Vec<Check> {
    let mut out = Vec::new();
    let r = &b.receipt.receipt;
    let signer = b.receipt.signer();
    check(
        &mut out,
        "signature",
        Some(b.receipt.verify()),
        match signer {
            Some(a) => format!("signed by {a}"),
            None => "the worker key does not parse".into(),
        },
    );
    let Some(proof) = &b.session else {
        check(
            &mut out,
            "session's worker",
            None,
            "no session evidence in this file (fetch the bundle: GET /v1/receipts/{session}/{seq})",
        );
        return out;
    };
    let session = hex::decode(&proof.value)
        .map_err(|e| e.to_string())
        .and_then(|v| decode::<Session>(&v).map_err(|e| e.to_string()));
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            check(&mut out, "session record", Some(false), e);
            return out;
        }
    };
    check(
        &mut out,
        "session's worker",
        Some(signer == Some(session.worker) && r.session == session.id),
        format!(
            "session {} is served by {} for {}",
            session.id, session.worker, session.client
        ),
    );
    check(
        &mut out,
        "price and model",
        Some(
            r.model == session.model
                && r.price == session.price_per_token
                && r.amount.0 == r.price.0.saturating_mul(r.tokens as u128),
        ),
        format!("{} tokens × {} = {}", r.tokens, r.price, r.amount),
    );
    let state = hex::decode(&proof.value)
        .ok()
        .zip(hex::decode(&proof.proof).ok());
    let state_ok = proof.key == hex::encode(session_key(session.id))
        && state.is_some_and(|(v, p)| {
            mycel_store::verify_state_proof(&proof.state_root, &session_key(session.id), &v, &p)
                .is_ok()
        });
    check(
        &mut out,
        "session in state",
        Some(state_ok),
        format!("state root {} at height {}", proof.state_root, proof.height),
    );
    match validators {
        Some(v) => {
            let f = mycel_consensus::light::verify_finality(v, &proof.finality);
            let ok = matches!(&f, Ok((h, root)) if *h == proof.height && *root == proof.state_root);
            check(
                &mut out,
                "state root finalized",
                Some(ok),
                match f {
                    Ok((h, _)) => format!(
                        "{} headers and a certificate signed by a quorum of its epoch's validators, reached from the {} genesis validators through {} set changes (height {h})",
                        proof.finality.headers.len(),
                        v.len(),
                        proof.finality.handoffs.len()
                    ),
                    Err(e) => e,
                },
            );
        }
        None => check(
            &mut out,
            "state root finalized",
            None,
            "no validator keys: pass the genesis you trust (--genesis)",
        ),
    }
    if r.seq < session.count {
        let ok = b.inclusion.as_ref().is_some_and(|p| {
            p.index == r.seq
                && p.size == session.count
                && p.verify(&r.leaf(), &session.receipts_root).is_ok()
        });
        check(
            &mut out,
            "settled",
            Some(ok),
            format!(
                "receipt {} of the {} settled in root {} (total {})",
                r.seq, session.count, session.receipts_root, session.total
            ),
        );
    } else {
        check(
            &mut out,
            "settled",
            None,
            format!(
                "not settled yet at height {} ({} receipts settled)",
                proof.height, session.count
            ),
        );
    }
    out
}

/// The validator keys of the genesis file at `path`.
pub fn validators_of(path: &std::path::Path) -> crate::Result<Vec<PublicKey>> {
    Ok(mycel_ledger::genesis::Genesis::load(path)?.validator_keys()?)
}

/// Fetches the bundle of receipt `seq` of `session` from the gateway at `base`, paid with
/// `api_key`; the JSON text.
pub async fn fetch(base: &str, session: u64, seq: u64, api_key: &str) -> crate::Result<String> {
    let url = format!("{}/v1/receipts/{session}/{seq}", base.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| crate::Error::Unreachable {
        url: url.clone(),
        why: e.to_string(),
    };
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth(api_key)
        .send()
        .await
        .map_err(unreachable)?;
    let status = r.status();
    let text = r.text().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(crate::client::api_error(text, status.as_str()));
    }
    Ok(text)
}
