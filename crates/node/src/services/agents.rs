//! A2A Agent Cards as served: the registered card with its owner's signature attached in the
//! card's `signatures` array, and the offline check of such a card against the owner's key.
//!
//! Each entry of `signatures` is shaped like a JWS in flattened JSON form (`protected`,
//! `signature`, both base64url without padding), as the A2A specification's signed cards are,
//! but what is signed is *not* the JWS signing input (`protected || "." || payload`): it is the
//! owner's mycel signature, under [`agent::MANIFEST_NAMESPACE`], over
//! [`agent::manifest_signing_bytes`] of the card's manifest hash, which is exactly what the chain
//! verified at registration. The protected header says so: `alg` `EdDSA`, `kid` the owner's
//! `myc1…` address, `typ` `JOSE`, `mycel_ns` the namespace and `manifest_hash` the hash of the
//! card's canonical JSON without `signatures`. A generic JWS library will not verify it;
//! [`verify_card`] does.

use mycel_ledger::modules::agent::{self, Kind, manifest::canonical};
use mycel_primitives::{
    Address, Hash, PrivateKey, Signature,
    codec::{Encode, decode},
    keys,
};
use serde_json::{Value, json};

/// The `alg` of a card signature.
pub const ALG: &str = "EdDSA";

/// The card without its `signatures`: what the chain registered and hashed.
fn unsigned(card: &Value) -> Value {
    let mut card = card.clone();
    if let Some(o) = card.as_object_mut() {
        o.remove("signatures");
    }
    card
}

/// The canonical protected header of a card signature.
fn header(owner: Address, manifest_hash: &Hash) -> Vec<u8> {
    let ns = std::str::from_utf8(agent::MANIFEST_NAMESPACE).expect("the namespace is ASCII");
    canonical(&json!({
        "alg": ALG,
        "kid": owner.to_string(),
        "typ": "JOSE",
        "mycel_ns": ns,
        "manifest_hash": manifest_hash.to_hex(),
    }))
}

/// `card` (without any `signatures` it had) with `signatures` set to the one signature
/// `signature` (64 bytes) of `owner` over the card's manifest hash `manifest_hash`.
pub fn signed_card(card: &Value, owner: Address, signature: &[u8], manifest_hash: &Hash) -> Value {
    let mut card = unsigned(card);
    if let Some(o) = card.as_object_mut() {
        o.insert(
            "signatures".into(),
            json!([{
                "protected": base64url(&header(owner, manifest_hash)),
                "signature": base64url(signature),
            }]),
        );
    }
    card
}

/// Signs `card` (its canonical JSON without `signatures`) with `key` as the chain expects of an
/// agent's owner, and returns it with the signature attached ([`signed_card`]).
pub fn sign_card(card: &Value, key: &PrivateKey) -> Value {
    let h = agent::manifest_hash(&canonical(&unsigned(card)));
    let sig = keys::sign(
        key,
        agent::MANIFEST_NAMESPACE,
        &agent::manifest_signing_bytes(Kind::Agent, &h),
    );
    let owner = Address::from_public_key(&keys::public_key(key));
    signed_card(card, owner, &sig.encode(), &h)
}

/// Checks that `card` carries a signature by `owner_key` (32 bytes) over its content; returns
/// the card's manifest hash (to compare with the entry's registered versions).
///
/// The content is the card without `signatures`, canonicalised. A signature counts when its
/// protected header names this content's hash, the owner's address and the mycel namespace, and
/// the signature verifies; other entries of `signatures` (other signers, other schemes) are
/// skipped. Errors say why no entry counted.
pub fn verify_card(card: &Value, owner_key: &[u8]) -> Result<Hash, String> {
    if !card.is_object() {
        return Err("a card is a JSON object".into());
    }
    let pk = keys::public_key_from_bytes(owner_key).map_err(|e| format!("owner key: {e}"))?;
    let owner = Address::from_public_key(&pk);
    let h = agent::manifest_hash(&canonical(&unsigned(card)));
    let sigs = card
        .get("signatures")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or("the card has no `signatures`")?;
    let mut why = Vec::new();
    for (i, s) in sigs.iter().enumerate() {
        match verify_one(s, &pk, owner, &h) {
            Ok(()) => return Ok(h),
            Err(e) => why.push(format!("signature {i}: {e}")),
        }
    }
    Err(why.join("; "))
}

fn verify_one(
    s: &Value,
    pk: &mycel_primitives::PublicKey,
    owner: Address,
    h: &Hash,
) -> Result<(), String> {
    let field = |k: &str| {
        s.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{k}` must be a string"))
    };
    let protected =
        from_base64url(field("protected")?).ok_or("`protected` is not base64url (no padding)")?;
    let header: Value =
        serde_json::from_slice(&protected).map_err(|e| format!("protected header: {e}"))?;
    let text = |k: &str| header.get(k).and_then(Value::as_str).unwrap_or_default();
    if text("alg") != ALG {
        return Err(format!("alg {:?}: expected {ALG:?}", text("alg")));
    }
    if text("mycel_ns").as_bytes() != agent::MANIFEST_NAMESPACE {
        return Err(format!(
            "mycel_ns {:?}: not a manifest signature",
            text("mycel_ns")
        ));
    }
    if text("kid") != owner.to_string() {
        return Err(format!("kid {:?}: the owner is {owner}", text("kid")));
    }
    if text("manifest_hash") != h.to_hex() {
        return Err(format!(
            "signed manifest {:?}, but the card's content hashes to {h}",
            text("manifest_hash")
        ));
    }
    let sig = from_base64url(field("signature")?).ok_or("`signature` is not base64url")?;
    let sig: Signature = decode(&sig).map_err(|e| format!("signature: {e}"))?;
    if !keys::verify(
        pk,
        agent::MANIFEST_NAMESPACE,
        &agent::manifest_signing_bytes(Kind::Agent, h),
        &sig,
    ) {
        return Err("the signature does not verify against the owner's key".into());
    }
    Ok(())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5), as JWS writes its parts.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url without padding; `None` for any other character, a dangling character, or
/// unused bits that are not zero (one encoding per byte string).
pub fn from_base64url(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        let len = chunk.len() - 1;
        if bytes[1 + len..].iter().any(|b| *b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[1..1 + len]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> Value {
        json!({
            "name": "Planner",
            "description": "Plans.",
            "version": "1",
            "skills": [{"id": "plan", "name": "Plan", "description": "d", "tags": []}],
        })
    }

    #[test]
    fn base64url_round_trips_and_matches_rfc_4648() {
        // RFC 4648 §10 vectors, without padding.
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(raw.as_bytes()), enc);
            assert_eq!(from_base64url(enc).unwrap(), raw.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(from_base64url(&base64url(&all)).unwrap(), all);
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        for bad in ["Zg=", "Z", "Zh", "Zm9v+", "Zm9/"] {
            assert_eq!(from_base64url(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_signed_card_verifies_and_a_changed_one_does_not() {
        let key = keys::private_key_from_seed(b"owner");
        let pk = keys::public_key(&key);
        let signed = sign_card(&card(), &key);
        let h = agent::manifest_hash(&canonical(&card()));
        assert_eq!(verify_card(&signed, pk.as_ref()), Ok(h));
        // Signing again replaces the signature rather than piling them up.
        assert_eq!(sign_card(&signed, &key), signed);

        let mut changed = signed.clone();
        changed["description"] = "Plans, and also wires money.".into();
        let e = verify_card(&changed, pk.as_ref()).unwrap_err();
        assert!(e.contains("hashes to"), "{e}");

        let other = keys::public_key(&keys::private_key_from_seed(b"other"));
        let e = verify_card(&signed, other.as_ref()).unwrap_err();
        assert!(e.contains("kid"), "{e}");

        let mut forged = signed.clone();
        let mut sig =
            from_base64url(forged["signatures"][0]["signature"].as_str().unwrap()).unwrap();
        sig[0] ^= 1;
        forged["signatures"][0]["signature"] = base64url(&sig).into();
        assert!(verify_card(&forged, pk.as_ref()).is_err());

        assert!(verify_card(&card(), pk.as_ref()).is_err(), "unsigned");
        assert!(verify_card(&json!([1]), pk.as_ref()).is_err());
        assert!(verify_card(&signed, &[0; 5]).is_err());
    }

    #[test]
    fn the_protected_header_is_canonical_json() {
        let key = keys::private_key_from_seed(b"owner");
        let signed = sign_card(&card(), &key);
        let p = from_base64url(signed["signatures"][0]["protected"].as_str().unwrap()).unwrap();
        let v: Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(canonical(&v), p);
        assert_eq!(v["alg"], "EdDSA");
        assert_eq!(v["typ"], "JOSE");
        assert_eq!(v["mycel_ns"], "_MYCEL_AGENT_MANIFEST");
        assert_eq!(
            v["kid"],
            Address::from_public_key(&keys::public_key(&key)).to_string()
        );
    }
}
