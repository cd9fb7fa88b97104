//! Naming an account: an address (`myc1…`) or the name of a key in the home's keystore.

use crate::{Error, Home, Result, keystore::Keystore};
use mycel_primitives::{Address, PrivateKey};

/// The address named by `who`.
pub fn address(home: &Home, who: &str) -> Result<Address> {
    if who.starts_with("myc1") {
        return who.parse().map_err(|e| Error::Invalid {
            what: format!("address {who:?}"),
            why: format!("{e}"),
        });
    }
    Keystore::new(home.keys_dir())
        .load(who)
        .map(|k| k.address)
        .map_err(|e| match e {
            Error::UnknownKey(_) => Error::Invalid {
                what: format!("{who:?}"),
                why: "neither an address nor a key name".into(),
            },
            e => e,
        })
}

/// The private key named `name` in the home's keystore.
pub fn key(home: &Home, name: &str) -> Result<PrivateKey> {
    Keystore::new(home.keys_dir()).load(name)?.private_key()
}
