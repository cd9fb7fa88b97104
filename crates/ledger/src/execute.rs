//! Block execution and transaction admission.

use crate::{
    Error, ExecError, ExecResult, Result, TxError,
    events::{Event, Receipt},
    genesis::{Genesis, Params},
    modules::{Ctx, bank, registry, staking},
    state::{StateCache, key},
    tx::{Tx, verify_signatures_of},
};
use mycel_primitives::{Address, Amount, Hash, codec::EncodeSize, codec::MAX_TX_BYTES};
use mycel_store::{StateRead, WriteSet};

const NONCE: &[u8] = b"auth/nonce/";
const PARAMS: &[u8] = b"chain/params";
const CHAIN_ID: &[u8] = b"chain/id";
const HEIGHT: &[u8] = b"chain/height";

/// What the ledger knows about the block it executes; everything else comes from state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    /// Height of the block.
    pub height: u64,
    /// The block's proposer.
    pub proposer: Address,
    /// Digest of the parent block: the source of ledger randomness for this block.
    pub parent: Hash,
    /// The block's timestamp, milliseconds since the Unix epoch, as its proposer set it
    /// (consensus keeps it monotonic): the clock of windows measured in time, not blocks.
    pub time_ms: u64,
    /// The validators whose signatures an earlier block's finalization certificate carries,
    /// if the proposer included one: the evidence of liveness that validator rewards and
    /// downtime jailing are based on.
    pub certified: Option<Certified>,
    /// Validators proven (by the consensus layer, from two conflicting signed votes) to have
    /// equivocated, as the proposer put the evidence into the block: each is slashed and
    /// tombstoned. Naming one already tombstoned makes the block invalid.
    pub equivocations: Vec<Equivocation>,
}

/// A validator caught signing two conflicting votes in one view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The offender.
    pub validator: Address,
    /// The consensus epoch of the conflicting votes.
    pub epoch: u64,
    /// Their view.
    pub view: u64,
}

/// The signers of the finalization certificate of the block at `height`, as carried by a later
/// block (the consensus layer has checked the signatures and that the certificate finalizes the
/// ancestor at `height`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certified {
    /// Height of the finalized block; below the carrying block and above every height
    /// certified before on its chain.
    pub height: u64,
    /// Addresses of the validators that signed the certificate.
    pub signers: Vec<Address>,
}

/// The result of executing a block.
#[derive(Debug, Default)]
pub struct BlockOutput {
    /// State changes; the store turns them into the state root.
    pub writes: WriteSet,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Events of the block hooks (end of block, end of epoch).
    pub events: Vec<Event>,
}

fn nonce_key(a: &Address) -> Vec<u8> {
    key(NONCE, &[&a.0])
}

/// The next nonce of `addr`.
pub fn nonce(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<u64> {
    Ok(crate::state::read::<u64>(state, &nonce_key(addr))?.unwrap_or(0))
}

/// The chain parameters stored at genesis.
pub fn params(state: &(impl StateRead + ?Sized)) -> Result<Params> {
    let raw = state
        .get(PARAMS)?
        .ok_or_else(|| crate::state::corrupt(PARAMS, "missing (no genesis?)"))?;
    serde_json::from_slice(&raw).map_err(|e| crate::state::corrupt(PARAMS, e))
}

/// The chain id stored at genesis.
pub fn chain_id(state: &(impl StateRead + ?Sized)) -> Result<String> {
    let raw = state
        .get(CHAIN_ID)?
        .ok_or_else(|| crate::state::corrupt(CHAIN_ID, "missing (no genesis?)"))?;
    String::from_utf8(raw).map_err(|e| crate::state::corrupt(CHAIN_ID, e))
}

/// The height of the last executed block.
pub fn height(state: &(impl StateRead + ?Sized)) -> Result<u64> {
    Ok(crate::state::read::<u64>(state, HEIGHT)?.unwrap_or(0))
}

/// Admission checks a mempool runs before accepting `tx` (the signature is checked separately,
/// so that callers can batch it). `next_nonce` overrides the state nonce when the sender has
/// pending transactions.
///
/// A state read that fails is this node's problem, not the transaction's: it is reported as
/// [`TxError::Unavailable`] so that the transaction can be retried, never as malformed.
pub fn check_tx(
    state: &(impl StateRead + ?Sized),
    params: &Params,
    chain_id: &str,
    tx: &Tx,
    next_nonce: Option<u64>,
) -> std::result::Result<(), TxError> {
    admit(state, params, chain_id, tx, next_nonce).map_err(|e| match e {
        ExecError::Tx(e) => e,
        ExecError::Fatal(e) => TxError::Unavailable(e.to_string()),
    })
}

/// [`check_tx`] with store failures kept apart, so that block execution can abort on them.
fn admit(
    state: &(impl StateRead + ?Sized),
    params: &Params,
    chain_id: &str,
    tx: &Tx,
    next_nonce: Option<u64>,
) -> ExecResult {
    let size = tx.encode_size();
    if size > MAX_TX_BYTES {
        return Err(TxError::TooLarge {
            size,
            max: MAX_TX_BYTES,
        }
        .into());
    }
    if tx.body.chain_id != chain_id {
        return Err(TxError::WrongChainId {
            expected: chain_id.into(),
            got: tx.body.chain_id.clone(),
        }
        .into());
    }
    if tx.body.messages.is_empty() {
        return Err(TxError::Empty.into());
    }
    let sender = tx.sender();
    let state_nonce = nonce(state, &sender)?;
    let expected = next_nonce.unwrap_or(state_nonce);
    if tx.body.nonce < state_nonce {
        return Err(TxError::NonceTooLow {
            expected: state_nonce,
            got: tx.body.nonce,
        }
        .into());
    }
    if tx.body.nonce != expected {
        return Err(TxError::NonceGap {
            expected,
            got: tx.body.nonce,
        }
        .into());
    }
    let min = bank::min_fee(&params.bank, size);
    if tx.body.fee < min {
        return Err(TxError::FeeTooLow {
            min,
            got: tx.body.fee,
        }
        .into());
    }
    let have = bank::balance(state, &sender)?;
    if have < tx.body.fee {
        return Err(TxError::InsufficientBalance {
            need: tx.body.fee,
            have,
        }
        .into());
    }
    Ok(())
}

/// Executes a block of transactions over `state` (the parent's post-state).
///
/// Every transaction must pass its admission checks against the state left by the transactions
/// before it (signature, chain id, nonce, fee, fee balance); otherwise the whole block is invalid
/// and [`Error::InvalidTx`] names the first offender. A valid transaction whose messages fail
/// still pays its fee and uses its nonce; its receipt carries the error and its message effects
/// are rolled back.
///
/// A failure of this node rather than of a transaction (a store read error, undecodable state,
/// a broken supply bound in a hook) aborts the block with that [`Error`]: it never becomes a
/// receipt, because other validators would not write the same one.
pub fn execute_block(
    state: &(impl StateRead + ?Sized),
    env: &BlockEnv,
    txs: &[Tx],
) -> Result<BlockOutput> {
    execute_block_checked(state, env, txs, |_| false)
}

/// [`execute_block`] for a node that verified some of the signatures already, byte for byte
/// (its mempool admitted those transactions): `checked(i)` says whether `txs[i]`'s was; the
/// others are verified here, in one batch. The output is [`execute_block`]'s whenever `checked`
/// tells the truth, since a signature's validity depends on its bytes alone.
pub fn execute_block_checked(
    state: &(impl StateRead + ?Sized),
    env: &BlockEnv,
    txs: &[Tx],
    checked: impl Fn(usize) -> bool,
) -> Result<BlockOutput> {
    let (params, chain) = block_context(state, env)?;
    let (at, unchecked): (Vec<usize>, Vec<&Tx>) =
        txs.iter().enumerate().filter(|(i, _)| !checked(*i)).unzip();
    if !unchecked.is_empty() {
        verify_signatures_of(&unchecked).map_err(|(k, error)| Error::InvalidTx {
            index: at[k],
            error,
        })?;
    }

    let mut cache = StateCache::new(state);
    let mut receipts = Vec::with_capacity(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        match apply_tx(&mut cache, env, &params, &chain, tx)? {
            Ok(receipt) => receipts.push(receipt),
            Err(error) => return Err(Error::InvalidTx { index, error }),
        }
    }
    finish_block(cache, env, &params, receipts)
}

/// A block assembled by [`build_block`].
#[derive(Debug, Default)]
pub struct Built {
    /// The included transactions, in block order.
    pub txs: Vec<Tx>,
    /// Their execution (receipts in the same order).
    pub output: BlockOutput,
    /// Candidates that failed their admission checks against the state before them, with why:
    /// they are not in the block, and the mempool should drop them.
    pub rejected: Vec<(Hash, TxError)>,
}

/// Assembles a block from `candidates` (in priority order) in one pass: each candidate is
/// executed against the state left by the ones before it and either included or rejected, so
/// the cost is linear in the number of candidates however many of them are invalid. Stops
/// before the first candidate that would take the block past `max_txs` or `max_bytes` of
/// encoded transactions.
///
/// Signatures are not checked here: candidates come from a mempool that verified each one at
/// admission. Every other validator checks them with [`execute_block`], which gives the same
/// output for [`Built::txs`].
pub fn build_block<T: AsRef<Tx>>(
    state: &(impl StateRead + ?Sized),
    env: &BlockEnv,
    candidates: impl IntoIterator<Item = T>,
    max_txs: usize,
    max_bytes: usize,
) -> Result<Built> {
    let (params, chain) = block_context(state, env)?;
    let mut cache = StateCache::new(state);
    let mut built = Built::default();
    let mut receipts = Vec::new();
    let mut bytes = 0usize;
    for candidate in candidates {
        let tx = candidate.as_ref();
        let size = tx.encode_size();
        if built.txs.len() == max_txs || bytes + size > max_bytes {
            break;
        }
        match apply_tx(&mut cache, env, &params, &chain, tx)? {
            Ok(receipt) => {
                bytes += size;
                receipts.push(receipt);
                built.txs.push(tx.clone());
            }
            Err(e) => built.rejected.push((tx.hash(), e)),
        }
    }
    built.output = finish_block(cache, env, &params, receipts)?;
    Ok(built)
}

/// The parameters and chain id of the block `env` on `state`, after checking its height.
fn block_context(state: &(impl StateRead + ?Sized), env: &BlockEnv) -> Result<(Params, String)> {
    let params = params(state)?;
    let chain = chain_id(state)?;
    let parent_height = height(state)?;
    if env.height != parent_height + 1 {
        return Err(Error::WrongHeight {
            expected: parent_height + 1,
            got: env.height,
        });
    }
    Ok((params, chain))
}

/// Executes one transaction whose signature was checked. `Ok(Err(_))`: it fails its admission
/// checks against `cache` and left no trace; `Err(_)`: this node failed.
fn apply_tx<S: StateRead + ?Sized>(
    cache: &mut StateCache<'_, S>,
    env: &BlockEnv,
    params: &Params,
    chain: &str,
    tx: &Tx,
) -> Result<std::result::Result<Receipt, TxError>> {
    match admit(cache, params, chain, tx, None) {
        Ok(()) => {}
        Err(ExecError::Tx(e)) => return Ok(Err(e)),
        Err(ExecError::Fatal(e)) => return Err(e),
    }
    let sender = tx.sender();
    let hash = tx.hash();
    let mut ctx = Ctx {
        state: cache,
        env,
        params,
        events: Vec::new(),
        signer: Some(tx.body.sender.clone()),
    };
    match bank::charge_fee(&mut ctx, &sender, tx.body.fee, &params.bank) {
        Ok(()) => {}
        Err(ExecError::Tx(e)) => {
            ctx.state.rollback_tx();
            return Ok(Err(e));
        }
        Err(ExecError::Fatal(e)) => return Err(e),
    }
    ctx.state.put(nonce_key(&sender), &(tx.body.nonce + 1));
    ctx.state.commit_tx();

    let outcome = tx
        .body
        .messages
        .iter()
        .try_for_each(|m| registry::execute(&mut ctx, sender, m));
    Ok(Ok(match outcome {
        Ok(()) => {
            let events = std::mem::take(&mut ctx.events);
            ctx.state.commit_tx();
            Receipt {
                tx_hash: hash,
                success: true,
                code: String::new(),
                error: String::new(),
                fee: tx.body.fee,
                events,
            }
        }
        Err(ExecError::Fatal(e)) => return Err(e),
        Err(ExecError::Tx(e)) => {
            ctx.state.rollback_tx();
            Receipt {
                tx_hash: hash,
                success: false,
                code: e.code().into(),
                error: e.to_string(),
                fee: tx.body.fee,
                events: Vec::new(),
            }
        }
    }))
}

/// Runs the block hooks (end of block, end of epoch) and seals the block's output.
fn finish_block<S: StateRead + ?Sized>(
    mut cache: StateCache<'_, S>,
    env: &BlockEnv,
    params: &Params,
    receipts: Vec<Receipt>,
) -> Result<BlockOutput> {
    let mut ctx = Ctx {
        state: &mut cache,
        env,
        params,
        events: Vec::new(),
        signer: None,
    };
    registry::end_block(&mut ctx)?;
    let len = params.rewards.epoch_length.max(1);
    if (env.height + 1).is_multiple_of(len) {
        registry::end_epoch(&mut ctx, env.height / len)?;
    }
    ctx.state.put(HEIGHT.to_vec(), &env.height);
    let events = std::mem::take(&mut ctx.events);
    ctx.state.commit_tx();
    Ok(BlockOutput {
        writes: cache.into_writes(),
        receipts,
        events,
    })
}

/// Executes the genesis document into the state of height 0.
pub fn execute_genesis(genesis: &Genesis) -> Result<BlockOutput> {
    genesis.validate()?;
    let empty = mycel_store::MemState::default();
    let mut cache = StateCache::new(&empty);
    let env = BlockEnv {
        height: 0,
        proposer: Address::default(),
        parent: Hash::ZERO,
        time_ms: 0,
        certified: None,
        equivocations: Vec::new(),
    };
    let params = genesis.params.clone();
    let mut ctx = Ctx {
        state: &mut cache,
        env: &env,
        params: &params,
        events: Vec::new(),
        signer: None,
    };
    let fail = |what: &str, e: ExecError| match e {
        ExecError::Tx(e) => Error::Genesis(format!("{what}: {e}")),
        ExecError::Fatal(e) => e,
    };
    for a in &genesis.accounts {
        bank::mint(&mut ctx, &a.address, a.balance).map_err(|e| fail("account", e))?;
    }
    for v in &genesis.validators {
        let key = v.key()?;
        let addr = Address::from_public_key(&key);
        bank::mint(&mut ctx, &addr, v.stake).map_err(|e| fail("validator", e))?;
        ctx.signer = Some(key);
        staking::genesis_bond(&mut ctx, &addr, staking::Role::Validator, v.stake)
            .map_err(|e| fail("validator", e))?;
        ctx.signer = None;
    }
    ctx.state.put_raw(
        PARAMS.to_vec(),
        serde_json::to_vec(&genesis.params).expect("params serialize"),
    );
    ctx.state
        .put_raw(CHAIN_ID.to_vec(), genesis.chain_id.as_bytes().to_vec());
    ctx.state.put(HEIGHT.to_vec(), &0u64);
    let events = std::mem::take(&mut ctx.events);
    ctx.state.commit_tx();
    Ok(BlockOutput {
        writes: cache.into_writes(),
        receipts: Vec::new(),
        events,
    })
}

/// Everything an account holds, for queries.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AccountView {
    /// Address.
    pub address: Address,
    /// Spendable balance.
    pub balance: Amount,
    /// Next nonce.
    pub nonce: u64,
    /// Bonded stake per role.
    pub stakes: Vec<(staking::Role, Amount)>,
    /// Pending unbondings: (release height, role, amount).
    pub unbonding: Vec<(u64, staking::Role, Amount)>,
    /// Jailed until this height, if jailed.
    pub jailed_until: Option<u64>,
}

impl AccountView {
    /// Stake bonded as `role`.
    pub fn stake(&self, role: staking::Role) -> Amount {
        Amount(
            self.stakes
                .iter()
                .filter(|(r, _)| *r == role)
                .map(|(_, a)| a.0)
                .sum(),
        )
    }
}

/// Reads an account.
pub fn account(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<AccountView> {
    let mut stakes = Vec::new();
    for r in staking::Role::ALL {
        let s = staking::stake(state, addr, r)?;
        if !s.is_zero() {
            stakes.push((r, s));
        }
    }
    Ok(AccountView {
        address: *addr,
        balance: bank::balance(state, addr)?,
        nonce: nonce(state, addr)?,
        stakes,
        unbonding: staking::unbonding(state, addr)?,
        jailed_until: staking::jailed_until(state, addr)?,
    })
}
