//! Dedup profiles by name, looked up once, and one [`Signer`] per profile per thread.

use crate::error::{Error, Result};
use mycel_data::{
    minhash::{K, Signer},
    normalize::normalize_into,
    profile::Profile,
};
use std::{
    cell::RefCell,
    sync::{Mutex, PoisonError},
};

/// A profile with its ID (the algorithm version of its signatures).
#[derive(Debug)]
pub struct ProfileInfo {
    /// The profile.
    pub profile: Profile,
    /// Hex of the profile's ID: signatures are comparable only under the same one.
    pub id_hex: String,
}

static PROFILES: Mutex<Vec<&'static ProfileInfo>> = Mutex::new(Vec::new());

/// The profile named `name` (`mycel-text/v1`), kept for the life of the process (profiles are
/// few and fixed, so each known name is allocated once).
pub fn lookup(name: &str) -> Result<&'static ProfileInfo> {
    let mut known = PROFILES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(p) = known.iter().find(|p| p.profile.name == name) {
        return Ok(p);
    }
    let profile = Profile::by_name(name)?;
    profile.validate()?;
    if profile.permutations != K {
        return Err(Error::Param(format!(
            "profile {name} has {} permutations; this build signs {K}",
            profile.permutations
        )));
    }
    let info: &'static ProfileInfo = Box::leak(Box::new(ProfileInfo {
        id_hex: profile.id().to_hex(),
        profile,
    }));
    known.push(info);
    Ok(info)
}

thread_local! {
    static SIGNERS: RefCell<Vec<(&'static str, Signer, String)>> = const { RefCell::new(Vec::new()) };
}

/// Normalises `text` under `p` and signs it; returns the signature and its number of shingles
/// (0: no shingles, every value `u32::MAX`). The same signature `mycel data dedup` computes.
pub fn sign_text(p: &'static ProfileInfo, text: &str) -> ([u32; K], usize) {
    with_signer(p, |signer, norm| {
        normalize_into(text, norm);
        let mut sig = [0u32; K];
        let n = signer.sign(norm, &mut sig);
        (sig, n)
    })
}

/// Runs `f` with this thread's signer of `p` and a scratch string.
pub fn with_signer<T>(p: &'static ProfileInfo, f: impl FnOnce(&mut Signer, &mut String) -> T) -> T {
    SIGNERS.with(|s| {
        let mut s = s.borrow_mut();
        let i = match s.iter().position(|(n, _, _)| *n == p.profile.name) {
            Some(i) => i,
            None => {
                s.push((&p.profile.name, Signer::new(&p.profile), String::new()));
                s.len() - 1
            }
        };
        let (_, signer, norm) = &mut s[i];
        f(signer, norm)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_once_and_golden() {
        let a = lookup("mycel-text/v1").unwrap();
        let b = lookup("mycel-text/v1").unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(
            a.id_hex,
            "ddf389bdb8d971e9acf45e67551653bff2634f29e52a3c7f7722d346063a328f"
        );
        assert!(lookup("mycel-text/v9").is_err());
        let (sig, n) = sign_text(a, "the quick brown fox jumps over the lazy dog");
        assert_eq!(n, 5);
        assert_eq!(&sig[..4], &[410362072, 126225734, 1062077109, 558187176]);
    }
}
