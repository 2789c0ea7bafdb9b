//! The demo's secrets, derived from one key in the data directory (`demo.key`, 0600), so that a
//! second run gives every account the same password and workstation key as the first.

use std::path::Path;

use crate::secrets::keyed_hash;

pub struct DemoKeys(Vec<u8>);

impl DemoKeys {
    pub fn load(data_dir: &Path) -> anyhow::Result<DemoKeys> {
        Ok(DemoKeys(crate::secrets::demo_key(data_dir)?))
    }

    /// The account's password: 24 characters, derived.
    pub fn password(&self, username: &str) -> String {
        format!("Demo-{}", &keyed_hash(&self.0, &format!("password:{username}"))[..24])
    }

    /// The account's own workstation key, derived.
    pub fn workstation_key(&self, username: &str) -> String {
        keyed_hash(&self.0, &format!("workstation:{username}"))
    }

    /// A seed for the generated candidates and answers.
    pub fn seed(&self) -> u64 {
        u64::from_str_radix(&keyed_hash(&self.0, "seed")[..16], 16).unwrap_or(7)
    }
}
