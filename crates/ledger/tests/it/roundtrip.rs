//! Property tests of the codec: every wire and stored type round-trips, announces its encoded
//! size exactly, and rejects trailing and missing bytes.

use crate::strategies::*;
use mycel_ledger::{
    Event, Message, Receipt, Tx, TxBody,
    events::{decode_events, encode_events},
    modules::{
        bank, data,
        market::{self, SessionMsg},
        rewards::EpochSummary,
        staking,
    },
};
use mycel_primitives::{
    Address, Amount, Hash,
    codec::{Encode, Read, decode},
};
use proptest::{prelude::*, test_runner::TestCaseError};
use std::fmt::Debug;

/// `decode(encode(v)) == v`, `encode(v).len() == v.encode_size()`, one extra byte is rejected and
/// so is the encoding cut short at `cut` (a fraction of its length).
pub fn round_trip<T>(v: &T, cut: f64) -> Result<(), TestCaseError>
where
    T: Encode + Read<Cfg = ()> + PartialEq + Debug,
{
    let bytes = v.encode().to_vec();
    prop_assert_eq!(bytes.len(), v.encode_size(), "encode_size");
    prop_assert_eq!(&decode::<T>(&bytes).expect("decodes"), v);
    let mut extra = bytes.clone();
    extra.push(0);
    prop_assert!(decode::<T>(&extra).is_err(), "trailing byte accepted");
    let short = ((bytes.len() as f64) * cut) as usize;
    if short < bytes.len() {
        prop_assert!(
            decode::<T>(&bytes[..short]).is_err(),
            "truncated to {short}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hash_round_trips(v in hash(), cut in 0.0..1.0) {
        round_trip::<Hash>(&v, cut)?;
    }

    #[test]
    fn address_round_trips(v in address(), cut in 0.0..1.0) {
        round_trip::<Address>(&v, cut)?;
    }

    #[test]
    fn amount_round_trips(v in amount(), cut in 0.0..1.0) {
        round_trip::<Amount>(&v, cut)?;
    }

    #[test]
    fn bank_msg_round_trips(v in bank_msg(), cut in 0.0..1.0) {
        round_trip::<bank::Msg>(&v, cut)?;
    }

    #[test]
    fn staking_msg_round_trips(v in staking_msg(), cut in 0.0..1.0) {
        round_trip::<staking::Msg>(&v, cut)?;
    }

    #[test]
    fn registration_round_trips(v in registration(), cut in 0.0..1.0) {
        round_trip::<data::Registration>(&v, cut)?;
    }

    #[test]
    fn dataset_round_trips(v in dataset(), cut in 0.0..1.0) {
        round_trip::<data::Dataset>(&v, cut)?;
    }

    #[test]
    fn data_msg_round_trips(v in data_msg(), cut in 0.0..1.0) {
        round_trip::<data::Msg>(&v, cut)?;
    }

    #[test]
    fn offer_round_trips(v in offer(), cut in 0.0..1.0) {
        round_trip::<market::Offer>(&v, cut)?;
    }

    #[test]
    fn job_round_trips(v in job(), cut in 0.0..1.0) {
        round_trip::<market::Job>(&v, cut)?;
    }

    #[test]
    fn session_receipt_round_trips(v in session_receipt(), cut in 0.0..1.0) {
        round_trip::<market::Receipt>(&v, cut)?;
    }

    #[test]
    fn session_round_trips(v in session(), cut in 0.0..1.0) {
        round_trip::<market::Session>(&v, cut)?;
    }

    #[test]
    fn session_msg_round_trips(v in session_msg(), cut in 0.0..1.0) {
        round_trip::<SessionMsg>(&v, cut)?;
    }

    #[test]
    fn market_msg_round_trips(v in market_msg(), cut in 0.0..1.0) {
        round_trip::<market::Msg>(&v, cut)?;
    }

    #[test]
    fn message_round_trips(v in message(), cut in 0.0..1.0) {
        round_trip::<Message>(&v, cut)?;
    }

    #[test]
    fn epoch_summary_round_trips(v in epoch_summary(), cut in 0.0..1.0) {
        round_trip::<EpochSummary>(&v, cut)?;
    }

    #[test]
    fn event_round_trips(v in event(), cut in 0.0..1.0) {
        round_trip::<Event>(&v, cut)?;
    }

    #[test]
    fn receipt_round_trips(v in receipt(), cut in 0.0..1.0) {
        round_trip::<Receipt>(&v, cut)?;
    }

    #[test]
    fn block_events_round_trip(v in proptest::collection::vec(event(), 0..8)) {
        let bytes = encode_events(&v);
        prop_assert_eq!(decode_events(&bytes).unwrap(), v);
        let mut extra = bytes.clone();
        extra.push(0);
        prop_assert!(decode_events(&extra).is_err());
    }
}

proptest! {
    // Bodies carry up to 64 messages and a key derivation each: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tx_body_round_trips(v in tx_body(), cut in 0.0..1.0) {
        round_trip::<TxBody>(&v, cut)?;
    }

    #[test]
    fn tx_round_trips(v in tx(), cut in 0.0..1.0) {
        round_trip::<Tx>(&v, cut)?;
        // The size-checked entry point agrees whenever the transaction is within the limit.
        let bytes = v.encode();
        if bytes.len() <= mycel_primitives::codec::MAX_TX_BYTES {
            prop_assert_eq!(Tx::decode_bytes(&bytes).unwrap(), v);
        }
    }
}

/// The largest values the decoders accept still round-trip, and one more element is rejected.
#[test]
fn limits_are_inclusive() {
    let mut offer = crate::golden::offer();
    offer.models = vec![Hash([1; 32]); 32];
    offer.hardware = "h".repeat(64);
    offer.endpoint = "e".repeat(256);
    let bytes = offer.encode();
    assert_eq!(decode::<market::Offer>(&bytes).unwrap(), offer);
    offer.models.push(Hash([2; 32]));
    assert!(decode::<market::Offer>(&offer.encode()).is_err());

    let mut event = Event {
        kind: "k".repeat(1024),
        attrs: vec![("a".into(), "v".repeat(1024)); 256],
    };
    assert_eq!(decode::<Event>(&event.encode()).unwrap(), event);
    event.attrs.push(("b".into(), String::new()));
    assert!(decode::<Event>(&event.encode()).is_err());

    let mut body = crate::golden::tx_body();
    body.messages = vec![body.messages[0].clone(); 64];
    body.chain_id = "c".repeat(64);
    body.memo = "m".repeat(256);
    assert_eq!(decode::<TxBody>(&body.encode()).unwrap(), body);
    body.messages.push(body.messages[0].clone());
    assert!(decode::<TxBody>(&body.encode()).is_err());
    body.messages.clear();
    assert!(
        decode::<TxBody>(&body.encode()).is_err(),
        "a tx needs a message"
    );

    let mut reg = crate::golden::registration();
    reg.parents = vec![Hash([3; 32]); data::MAX_PARENTS];
    reg.profile = "p".repeat(64);
    reg.license = "l".repeat(128);
    assert_eq!(decode::<data::Registration>(&reg.encode()).unwrap(), reg);
    reg.parents.push(Hash([4; 32]));
    assert!(decode::<data::Registration>(&reg.encode()).is_err());
}
