//! `rewards`: epochs, the emission schedule and its split, and a record of every credit and debit
//! with a reason code (what the earnings debugger reads).
//!
//! Epoch `e` covers heights `[e·L, (e+1)·L)` for epoch length `L`. At the last block of an epoch
//! the epoch's emission is minted: the validator share is paid pro rata to the epoch's validator
//! set by stake, the shares of workers, data contributors and auditors go to the reserve account
//! until the modules that earn them exist, and the fees collected during the epoch are paid to
//! the validators pro rata as well. Rounding dust goes to the reserve. All arithmetic is integer.
//!
//! Emission of epoch `e` is `initial_emission >> (e / halving_interval)`.
//!
//! State: `rewards/rec/<epoch BE><addr><reason BE>` → [`Amount`] accumulated;
//! `rewards/epoch/<epoch BE>` → [`EpochSummary`].

use super::{Ctx, Module, bank, staking};
use crate::{Result, TxError, genesis, state::key};
use mycel_primitives::{
    Address, Amount,
    codec::{EncodeSize, Read, Write},
};
use mycel_store::StateRead;

/// The rewards module (no messages; hooks only).
pub struct Rewards;

const REC: &[u8] = b"rewards/rec/";
const EPOCH: &[u8] = b"rewards/epoch/";

/// Holds the emission shares whose earners are not yet on chain.
pub fn reserve() -> Address {
    Address::module("rewards_reserve")
}

/// Rewards parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// Emission of epoch 0.
    pub initial_emission: Amount,
    /// Epochs between halvings.
    pub halving_interval: u64,
    /// Validators' share of emissions, basis points.
    pub validator_bps: u16,
    /// Workers' share, basis points.
    pub worker_bps: u16,
    /// Data contributors' share, basis points.
    pub data_bps: u16,
    /// Auditors' share, basis points.
    pub auditor_bps: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            epoch_length: 100,
            initial_emission: Amount::from_myc(1_000),
            halving_interval: 10_000,
            validator_bps: 2_000,
            worker_bps: 5_000,
            data_bps: 2_000,
            auditor_bps: 1_000,
        }
    }
}

/// Why an account's balance or stake changed. Codes are stable.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Credit: validator share of the epoch emission, by stake.
    ValidatorEmission = 1,
    /// Credit: validator share of the epoch's fees, by stake.
    FeeShare = 2,
    /// Debit: transaction fees paid.
    FeePaid = 3,
    /// Debit: stake slashed.
    Slashed = 4,
    /// Credit: unbonded stake released.
    UnbondReleased = 5,
    /// Credit (reserve): workers' emission share, held until the market pays it.
    ReservedWorkers = 6,
    /// Credit (reserve): data contributors' share.
    ReservedData = 7,
    /// Credit (reserve): auditors' share.
    ReservedAuditors = 8,
    /// Credit (reserve): rounding remainders.
    Dust = 9,
    /// Debit: a novelty bond lost to a successful challenge.
    NoveltyForfeited = 10,
    /// Credit: the challenger's share of a forfeited novelty bond.
    ChallengeReward = 11,
    /// Credit: a worker's fee for a settled job.
    JobFee = 12,
    /// Debit: what a poster paid for a settled job.
    JobPaid = 13,
    /// Credit: a worker's share of the epoch emission, by settled work units.
    WorkerEmission = 14,
    /// Credit: a data contributor's share of the epoch emission, by novel bytes used by jobs.
    DataEmission = 15,
}

impl Reason {
    const ALL: [Reason; 15] = [
        Reason::ValidatorEmission,
        Reason::FeeShare,
        Reason::FeePaid,
        Reason::Slashed,
        Reason::UnbondReleased,
        Reason::ReservedWorkers,
        Reason::ReservedData,
        Reason::ReservedAuditors,
        Reason::Dust,
        Reason::NoveltyForfeited,
        Reason::ChallengeReward,
        Reason::JobFee,
        Reason::JobPaid,
        Reason::WorkerEmission,
        Reason::DataEmission,
    ];

    fn from_u16(v: u16) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| *r as u16 == v)
    }

    /// `true` for debits.
    pub fn is_debit(self) -> bool {
        matches!(
            self,
            Reason::FeePaid | Reason::Slashed | Reason::NoveltyForfeited
        )
    }
}

/// What an epoch paid out.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpochSummary {
    /// Minted this epoch.
    pub emission: Amount,
    /// Paid to validators from the emission.
    pub validators: Amount,
    /// Fees paid to validators.
    pub fees: Amount,
    /// Paid to workers by settled work units.
    pub workers: Amount,
    /// Paid to data contributors by novel bytes used.
    pub data: Amount,
    /// Sent to the reserve (shares not yet claimable plus dust).
    pub reserved: Amount,
    /// Size of the validator set that was paid.
    pub validator_count: u32,
}

impl Write for EpochSummary {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.emission.write(buf);
        self.validators.write(buf);
        self.fees.write(buf);
        self.workers.write(buf);
        self.data.write(buf);
        self.reserved.write(buf);
        self.validator_count.write(buf);
    }
}

impl EncodeSize for EpochSummary {
    fn encode_size(&self) -> usize {
        16 * 6 + 4
    }
}

impl Read for EpochSummary {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, mycel_primitives::codec::CodecError> {
        Ok(EpochSummary {
            emission: Amount::read_cfg(buf, &())?,
            validators: Amount::read_cfg(buf, &())?,
            fees: Amount::read_cfg(buf, &())?,
            workers: Amount::read_cfg(buf, &())?,
            data: Amount::read_cfg(buf, &())?,
            reserved: Amount::read_cfg(buf, &())?,
            validator_count: u32::read_cfg(buf, &())?,
        })
    }
}

/// The epoch containing `height`.
pub fn epoch_of(p: &genesis::Params, height: u64) -> u64 {
    height / p.rewards.epoch_length.max(1)
}

/// Emission of `epoch`.
pub fn emission(p: &Params, epoch: u64) -> Amount {
    let halvings = epoch / p.halving_interval.max(1);
    if halvings >= 128 {
        Amount::ZERO
    } else {
        Amount(p.initial_emission.0 >> halvings)
    }
}

/// Adds `amount` to the record of (`epoch`, `addr`, `reason`).
pub fn record<S: StateRead + ?Sized>(
    state: &mut crate::state::StateCache<'_, S>,
    epoch: u64,
    addr: &Address,
    reason: Reason,
    amount: Amount,
) -> Result<()> {
    if amount.is_zero() {
        return Ok(());
    }
    let k = key(
        REC,
        &[
            &epoch.to_be_bytes(),
            &addr.0,
            &(reason as u16).to_be_bytes(),
        ],
    );
    let v = state
        .amount(&k)?
        .checked_add(amount)
        .map_err(|_| crate::Error::Overflow("reward record"))?;
    state.set_amount(k, v);
    Ok(())
}

/// One line of the earnings record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    /// Epoch.
    pub epoch: u64,
    /// Account.
    pub address: Address,
    /// Reason code.
    pub reason: Reason,
    /// `true` when the amount left the account.
    pub debit: bool,
    /// Amount.
    pub amount: Amount,
}

/// Records of `epoch` (all accounts, or one).
pub fn records(
    state: &(impl StateRead + ?Sized),
    epoch: u64,
    addr: Option<&Address>,
) -> Result<Vec<Record>> {
    let mut prefix = key(REC, &[&epoch.to_be_bytes()]);
    if let Some(a) = addr {
        prefix.extend_from_slice(&a.0);
    }
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(&prefix)? {
        let rest = &k[REC.len()..];
        if rest.len() != 8 + 20 + 2 {
            return Err(crate::state::corrupt(&k, "bad record key"));
        }
        let reason = Reason::from_u16(u16::from_be_bytes([rest[28], rest[29]]))
            .ok_or_else(|| crate::state::corrupt(&k, "bad reason"))?;
        out.push(Record {
            epoch,
            address: Address(rest[8..28].try_into().expect("20 bytes")),
            reason,
            debit: reason.is_debit(),
            amount: mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?,
        });
    }
    Ok(out)
}

/// The payout summary of `epoch`, once it has ended.
pub fn summary(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Option<EpochSummary>> {
    crate::state::read::<EpochSummary>(state, &key(EPOCH, &[&epoch.to_be_bytes()]))
}

fn tx_err(e: TxError) -> crate::Error {
    match e {
        TxError::Malformed(m) => crate::Error::Corrupt {
            key: "rewards".into(),
            why: m,
        },
        _ => crate::Error::Overflow("rewards payout"),
    }
}

/// Pays `pool` out of the reserve to `weights` pro rata (integer shares, dust stays in the
/// reserve) and returns what was paid.
fn pay_pro_rata<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    epoch: u64,
    pool: Amount,
    weights: &[(Address, u64)],
    reason: Reason,
) -> Result<Amount> {
    let total: u128 = weights.iter().map(|(_, w)| *w as u128).sum();
    let mut paid = Amount::ZERO;
    if total == 0 {
        return Ok(paid);
    }
    for (addr, w) in weights {
        let share = pool
            .mul_div(*w as u128, total)
            .map_err(|_| crate::Error::Overflow("pro rata share"))?;
        bank::transfer(ctx, &reserve(), addr, share).map_err(tx_err)?;
        record(ctx.state, epoch, addr, reason, share)?;
        paid = paid
            .checked_add(share)
            .map_err(|_| crate::Error::Overflow("pro rata"))?;
    }
    Ok(paid)
}

impl Module for Rewards {
    const NAME: &'static str = "rewards";
    const ID: u8 = 3;
    type Msg = ();

    fn execute<S: StateRead + ?Sized>(
        _: &mut Ctx<'_, '_, S>,
        _: Address,
        _: &(),
    ) -> std::result::Result<(), TxError> {
        Ok(())
    }

    fn end_epoch<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, epoch: u64) -> Result<()> {
        let p = ctx.params.rewards.clone();
        let minted = emission(&p, epoch);
        let validators = staking::validator_set(ctx.state, epoch)?;
        let total_stake: u128 = validators.iter().map(|(_, s)| s.0).sum();
        let mut summary = EpochSummary {
            emission: minted,
            validator_count: validators.len() as u32,
            ..Default::default()
        };

        // Everything is minted to the reserve first, then paid out of it, so that supply always
        // equals the sum of balances even mid-hook.
        bank::mint(ctx, &reserve(), minted).map_err(tx_err)?;
        let validator_pool = minted
            .mul_div(p.validator_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        let fees = bank::balance(ctx.state, &bank::fee_collector())?;
        let mut fees_moved = Amount::ZERO;
        if total_stake > 0 {
            fees_moved = fees;
            bank::transfer(ctx, &bank::fee_collector(), &reserve(), fees).map_err(tx_err)?;
            for (addr, stake) in &validators {
                let e = validator_pool
                    .mul_div(stake.0, total_stake)
                    .map_err(|_| crate::Error::Overflow("emission share"))?;
                let f = fees
                    .mul_div(stake.0, total_stake)
                    .map_err(|_| crate::Error::Overflow("fee share"))?;
                bank::transfer(
                    ctx,
                    &reserve(),
                    addr,
                    e.checked_add(f)
                        .map_err(|_| crate::Error::Overflow("share"))?,
                )
                .map_err(tx_err)?;
                record(ctx.state, epoch, addr, Reason::ValidatorEmission, e)?;
                record(ctx.state, epoch, addr, Reason::FeeShare, f)?;
                summary.validators = summary
                    .validators
                    .checked_add(e)
                    .map_err(|_| crate::Error::Overflow("summary"))?;
                summary.fees = summary
                    .fees
                    .checked_add(f)
                    .map_err(|_| crate::Error::Overflow("summary"))?;
            }
        }
        // Workers are paid by the work units they settled this epoch, data contributors by the
        // novel bytes of their datasets that settled jobs used; with no such work the share
        // waits in the reserve.
        let mut accounted = summary.validators;
        let worker_pool = minted
            .mul_div(p.worker_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        let units = super::market::units(ctx.state, epoch)?;
        summary.workers = pay_pro_rata(ctx, epoch, worker_pool, &units, Reason::WorkerEmission)?;
        record(
            ctx.state,
            epoch,
            &reserve(),
            Reason::ReservedWorkers,
            worker_pool.checked_sub(summary.workers).unwrap_or_default(),
        )?;
        let data_pool = minted
            .mul_div(p.data_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        let used = super::market::data_used(ctx.state, epoch)?;
        summary.data = pay_pro_rata(ctx, epoch, data_pool, &used, Reason::DataEmission)?;
        record(
            ctx.state,
            epoch,
            &reserve(),
            Reason::ReservedData,
            data_pool.checked_sub(summary.data).unwrap_or_default(),
        )?;
        let auditor_pool = minted
            .mul_div(p.auditor_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        record(
            ctx.state,
            epoch,
            &reserve(),
            Reason::ReservedAuditors,
            auditor_pool,
        )?;
        for a in [worker_pool, data_pool, auditor_pool] {
            accounted = accounted
                .checked_add(a)
                .map_err(|_| crate::Error::Overflow("split"))?;
        }
        let dust = minted.checked_sub(accounted).unwrap_or_default();
        record(ctx.state, epoch, &reserve(), Reason::Dust, dust)?;
        // Everything minted or collected that the validators did not receive stays in the reserve.
        summary.reserved = minted
            .checked_add(fees_moved)
            .and_then(|t| t.checked_sub(summary.validators))
            .and_then(|t| t.checked_sub(summary.fees))
            .and_then(|t| t.checked_sub(summary.workers))
            .and_then(|t| t.checked_sub(summary.data))
            .map_err(|_| crate::Error::Overflow("summary"))?;
        ctx.state.put(key(EPOCH, &[&epoch.to_be_bytes()]), &summary);
        ctx.emit(
            "rewards.epoch",
            &[
                ("epoch", epoch.to_string()),
                ("emission", minted.0.to_string()),
                ("validators", summary.validators.0.to_string()),
                ("fees", summary.fees.0.to_string()),
            ],
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_schedule() {
        let p = Params {
            initial_emission: Amount(1_000),
            halving_interval: 2,
            ..Default::default()
        };
        assert_eq!(emission(&p, 0), Amount(1_000));
        assert_eq!(emission(&p, 1), Amount(1_000));
        assert_eq!(emission(&p, 2), Amount(500));
        assert_eq!(emission(&p, 5), Amount(250));
        assert_eq!(emission(&p, 2 * 200), Amount(0));
    }
}
