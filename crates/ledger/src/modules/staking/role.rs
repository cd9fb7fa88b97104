//! Staking roles.

/// What stake is bonded for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Proposes and votes on blocks.
    Validator = 0,
    /// Runs compute jobs.
    Worker = 1,
    /// Re-executes sampled work.
    Auditor = 2,
    /// A light edge device.
    Edge = 3,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [Role::Validator, Role::Worker, Role::Auditor, Role::Edge];

    pub(crate) fn from_u8(v: u8) -> Option<Role> {
        Role::ALL.get(v as usize).copied()
    }

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Validator => "validator",
            Role::Worker => "worker",
            Role::Auditor => "auditor",
            Role::Edge => "edge",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown role {s:?} (validator, worker, auditor, edge)"))
    }
}

mycel_primitives::impl_codec!(Role as u8, from = Role::from_u8);
