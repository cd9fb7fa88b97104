//! The earnings record: every credit and debit of every account, per epoch, with a reason code.
//!
//! Any module that moves value on an account's behalf writes here (fees, slashes, job payments,
//! emissions); the rewards module and the earnings debugger read it. It sits below the modules so
//! that writing a record does not make a module depend on the rewards module.
//!
//! State: `rewards/rec/<epoch BE><addr><reason u16 BE>` → [`Amount`] (the prefix is historical:
//! the record was first kept by the rewards module).

use crate::{Result, state::key};
use mycel_primitives::{Address, Amount};
use mycel_store::StateRead;

const REC: &[u8] = b"rewards/rec/";

/// Why an account's balance or stake changed. Codes are stable.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Credit: validator share of the epoch emission, by certified blocks signed × stake.
    ValidatorEmission = 1,
    /// Credit: validator share of the epoch's fees, by certified blocks signed × stake.
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
    /// Credit: a data contributor's share of the epoch emission, by novel bytes used by jobs (on
    /// the dataset, or on models whose lineage holds it) and sessions on such models.
    DataEmission = 15,
    /// Credit: the winner's share of a lost dispute's forfeit (stake or bond).
    DisputeWon = 16,
    /// Debit: a challenge bond lost in a dispute.
    BondForfeited = 17,
    /// Credit: an auditor's share of the epoch emission, by audits completed.
    AuditorEmission = 18,
    /// Debit: stake slashed because a dispute proved the account wrong (a wrong result, or a
    /// failed challenge by an auditor).
    SlashedFraud = 19,
    /// Debit: auditor stake slashed for not replaying (a missed deadline, an approved canary,
    /// an approved result later proven wrong).
    SlashedLazy = 20,
    /// Credit (reserve): the validators' emission share of an epoch in which no validator of
    /// the set signed a certified block.
    ReservedValidators = 21,
    /// Credit: the audit fee of a matching audit, paid by the job's poster.
    AuditFee = 22,
    /// Debit: an audit fee this account paid for its job.
    AuditPaid = 23,
    /// Credit: an edge device owner's share of the epoch emission, by records its devices
    /// embedded and had credited (answered probes not caught by a check).
    EdgeUptime = 24,
    /// Credit (reserve): the edge share of an epoch in which no device earned.
    ReservedEdge = 25,
    /// Debit: a device bond share lost to a failed check.
    DeviceSlashed = 26,
    /// Credit: an edge job unit's fee, paid to the owner of the device that did it.
    EdgeUnitFee = 27,
    /// Debit: what a poster paid for an edge job's unit.
    EdgeUnitPaid = 28,
}

impl Reason {
    const ALL: [Reason; 28] = [
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
        Reason::DisputeWon,
        Reason::BondForfeited,
        Reason::AuditorEmission,
        Reason::SlashedFraud,
        Reason::SlashedLazy,
        Reason::ReservedValidators,
        Reason::AuditFee,
        Reason::AuditPaid,
        Reason::EdgeUptime,
        Reason::ReservedEdge,
        Reason::DeviceSlashed,
        Reason::EdgeUnitFee,
        Reason::EdgeUnitPaid,
    ];

    fn from_u16(v: u16) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| *r as u16 == v)
    }

    /// `true` for debits.
    pub fn is_debit(self) -> bool {
        matches!(
            self,
            Reason::FeePaid
                | Reason::Slashed
                | Reason::NoveltyForfeited
                | Reason::JobPaid
                | Reason::BondForfeited
                | Reason::SlashedFraud
                | Reason::SlashedLazy
                | Reason::AuditPaid
                | Reason::DeviceSlashed
                | Reason::EdgeUnitPaid
        )
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
