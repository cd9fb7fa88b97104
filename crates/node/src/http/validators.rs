//! Validator sets per epoch, with each validator's signing record: `GET /api/v1/validators`
//! (one epoch) and `GET /api/v1/validators/epochs` (a page of epochs, newest first).
//!
//! Everything is read from one snapshot of the finalized state. An epoch's set and stakes are
//! those the ledger fixed for it (at the end of the epoch before, genesis for epoch 0); `signed`
//! counts the certificates, carried by the epoch's blocks, that the validator signed, out of
//! `certified`. Jail and tombstone are the validator's standing now, not during the epoch.

use super::{
    ApiState,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Query, State},
};
use mycel_ledger::{modules::staking, params::Params};
use mycel_primitives::{Address, Amount};
use mycel_store::{Snapshot, StateRead};
use serde::{Deserialize, Serialize};

/// Most epochs one `GET /api/v1/validators/epochs` answers.
pub const MAX_EPOCHS: u64 = 64;
/// Epochs answered when no `limit` is given.
pub const DEFAULT_EPOCHS: u64 = 8;

/// One validator of an epoch's set.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ValidatorView {
    /// Its address.
    pub address: Address,
    /// The stake the set was fixed with.
    pub stake: Amount,
    /// Certificates carried by the epoch's blocks that it signed.
    pub signed: u64,
    /// `signed` over the epoch's `certified`, basis points (none while nothing is certified).
    pub signed_bps: Option<u32>,
    /// The height until which it is jailed, if a jail is recorded (it may have passed).
    pub jailed_until: Option<u64>,
    /// Slashed for equivocation and jailed for good.
    pub tombstoned: bool,
}

/// The validator set of one epoch and how it signed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct EpochValidators {
    /// The epoch.
    pub epoch: u64,
    /// Its first height.
    pub first_height: u64,
    /// Its last height.
    pub last_height: u64,
    /// Whether its last height is finalized (else the counts are so far).
    pub ended: bool,
    /// Certificates its blocks carried so far.
    pub certified: u64,
    /// The set, in address order.
    pub validators: Vec<ValidatorView>,
}

/// Query of `GET /api/v1/validators`.
#[derive(Deserialize, Debug, Default)]
pub struct ValidatorsQuery {
    /// The epoch (default: the current one).
    pub epoch: Option<String>,
}

/// Query of `GET /api/v1/validators/epochs`.
#[derive(Deserialize, Debug, Default)]
pub struct EpochsQuery {
    /// First epoch answered (default: the current one, or 0 with `order=asc`).
    pub from: Option<String>,
    /// Most epochs (default [`DEFAULT_EPOCHS`], at most [`MAX_EPOCHS`]).
    pub limit: Option<String>,
    /// `desc` (default: `from`, then the epochs before it) or `asc` (then the epochs after).
    pub order: Option<String>,
}

fn parse_u64(v: &str, param: &str) -> Result<u64, ApiError> {
    v.trim().parse().map_err(|_| {
        ApiError::bad_request(format!("{param} {v:?} is not a non-negative integer"))
            .with_param(param)
    })
}

/// An epoch named by `param`, at most `current`.
fn epoch_param(v: &str, param: &str, current: u64) -> Result<u64, ApiError> {
    let e = parse_u64(v, param)?;
    if e > current {
        return Err(ApiError::bad_request(format!(
            "{param} {e} is beyond the current epoch {current}"
        ))
        .with_param(param));
    }
    Ok(e)
}

/// The finalized height of `state` and its epoch.
fn current(state: &Snapshot, p: &Params) -> (u64, u64) {
    let height = state.version().unwrap_or(0);
    (height, p.epoch(height))
}

/// The set of `epoch` with its signing record, as of the finalized `height` of `state`.
pub(crate) fn epoch_validators(
    state: &(impl StateRead + ?Sized),
    p: &Params,
    epoch: u64,
    height: u64,
) -> Result<EpochValidators, ApiError> {
    let len = p.rewards.epoch_length.max(1);
    let first_height = epoch.saturating_mul(len);
    let last_height = first_height.saturating_add(len - 1);
    let set = staking::validator_set(state, epoch).map_err(ApiError::internal)?;
    let (certified, signed) = staking::liveness(state, epoch).map_err(ApiError::internal)?;
    let signed: std::collections::BTreeMap<Address, u64> = signed.into_iter().collect();
    let mut validators = Vec::with_capacity(set.len());
    for (address, stake) in set {
        let n = signed.get(&address).copied().unwrap_or(0);
        validators.push(ValidatorView {
            address,
            stake,
            signed: n,
            signed_bps: (certified > 0)
                .then(|| (u128::from(n.min(certified)) * 10_000 / u128::from(certified)) as u32),
            jailed_until: staking::jailed_until(state, &address).map_err(ApiError::internal)?,
            tombstoned: staking::tombstoned(state, &address).map_err(ApiError::internal)?,
        });
    }
    Ok(EpochValidators {
        epoch,
        first_height,
        last_height,
        ended: height >= last_height,
        certified,
        validators,
    })
}

pub(crate) async fn get_validators(
    State(s): State<ApiState>,
    Query(q): Query<ValidatorsQuery>,
) -> ApiResult<EpochValidators> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let p = s.chain.params();
    let (height, now) = current(&state, p);
    let epoch = match q.epoch.as_deref() {
        Some(e) => epoch_param(e, "epoch", now)?,
        None => now,
    };
    Ok(Json(epoch_validators(&state, p, epoch, height)?))
}

pub(crate) async fn list_epochs(
    State(s): State<ApiState>,
    Query(q): Query<EpochsQuery>,
) -> ApiResult<Vec<EpochValidators>> {
    let ascending = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => {
            return Err(ApiError::bad_request(format!(
                "order {o:?} is neither \"asc\" nor \"desc\""
            ))
            .with_param("order"));
        }
    };
    let limit = match q.limit.as_deref() {
        Some(l) => parse_u64(l, "limit")?,
        None => DEFAULT_EPOCHS,
    }
    .min(MAX_EPOCHS);
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let p = s.chain.params();
    let (height, now) = current(&state, p);
    let from = match q.from.as_deref() {
        Some(f) => epoch_param(f, "from", now)?,
        None if ascending => 0,
        None => now,
    };
    let epochs: Vec<u64> = if ascending {
        (from..=now).take(limit as usize).collect()
    } else {
        (0..=from).rev().take(limit as usize).collect()
    };
    let mut out = Vec::with_capacity(epochs.len());
    for e in epochs {
        out.push(epoch_validators(&state, p, e, height)?);
    }
    Ok(Json(out))
}

/// The chain's gauges for `/metrics`, in the Prometheus text format, computed now.
pub(crate) fn gauges(s: &ApiState) -> Result<String, ApiError> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let p = s.chain.params();
    let (height, epoch) = current(&state, p);
    let validators = staking::validator_set(&state, epoch)
        .map_err(ApiError::internal)?
        .len();
    let mut out = String::new();
    for (name, help, value) in [
        (
            "mycel_finalized_height",
            "height of the last finalized block",
            height,
        ),
        (
            "mycel_mempool_txs",
            "transactions waiting in the mempool",
            s.chain.mempool_len() as u64,
        ),
        ("mycel_epoch", "epoch of the last finalized block", epoch),
        (
            "mycel_validators",
            "validators in the current epoch's set",
            validators as u64,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_params_are_checked() {
        assert_eq!(epoch_param("3", "epoch", 5).unwrap(), 3);
        assert_eq!(epoch_param("5", "epoch", 5).unwrap(), 5);
        for bad in ["6", "-1", "x", "", "1.5", "99999999999999999999999"] {
            let e = epoch_param(bad, "epoch", 5).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                (e.code(), e.param()),
                ("bad_request", Some("epoch")),
                "{bad}"
            );
        }
    }
}
