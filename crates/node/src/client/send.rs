//! One path for every transaction a node process or the CLI sends: sign with the account's next
//! nonce → submit → wait for finality → a typed outcome.

use super::Client;
use crate::{Error, Result};
use commonware_cryptography::Signer as _;
use mycel_ledger::{Message, Receipt};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use std::{
    collections::BTreeMap,
    sync::{Arc, LazyLock},
    time::Duration,
};

/// One sender's transactions go one at a time in this process: the nonce is read from finalized
/// state, so a second transaction signed before the first finalizes would reuse it (a worker's
/// job results, its session settlements and its tools' registrations share one key).
static TURNS: LazyLock<parking_lot::Mutex<BTreeMap<Address, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// How to send.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// Fee (default: the chain minimum for the transaction's size).
    pub fee: Option<Amount>,
    /// Memo.
    pub memo: String,
    /// How long to wait for finality.
    pub timeout: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            fee: None,
            memo: String::new(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A finalized, successful transaction.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Its hash.
    pub hash: Hash,
    /// The height that finalized it.
    pub height: u64,
    /// Its receipt (events, fee).
    pub receipt: Receipt,
}

impl Client {
    /// Signs `msg` from `key`, submits it and waits for finality. A transaction that finalizes
    /// but fails is [`Error::TxFailed`]; one not final within the timeout is
    /// [`Error::NotFinalized`].
    pub async fn send(&self, key: &PrivateKey, msg: Message, opts: &SendOptions) -> Result<Sent> {
        self.send_all(key, vec![msg], opts).await
    }

    /// [`Client::send`] for several messages in one transaction (all apply or none).
    pub async fn send_all(
        &self,
        key: &PrivateKey,
        msgs: Vec<Message>,
        opts: &SendOptions,
    ) -> Result<Sent> {
        let turn = TURNS
            .lock()
            .entry(Address::from_public_key(&key.public_key()))
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        let tx = self.sign(key, msgs, opts.fee, &opts.memo).await?;
        let hash = self.submit(&tx).await?;
        self.finality(hash, opts.timeout).await
    }

    /// Waits for `hash` and turns its status into a typed outcome.
    pub async fn finality(&self, hash: Hash, timeout: Duration) -> Result<Sent> {
        let st = self.wait(&hash, timeout).await?;
        let height = st.height.unwrap_or(0);
        match st.receipt {
            Some(receipt) if receipt.success => Ok(Sent {
                hash,
                height,
                receipt,
            }),
            Some(r) => Err(Error::TxFailed {
                hash,
                height,
                code: r.code,
                message: r.error,
            }),
            None => Err(Error::NotFinalized {
                hash,
                secs: timeout.as_secs(),
            }),
        }
    }
}
