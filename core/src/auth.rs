//! Who is calling: bearer tokens for devices, supervisors and clerk sessions.
//!
//! Device and supervisor tokens live in the config as `sha256:` hashes; clerks sign in with
//! id + PIN (argon2 hash in the config) and get a random session token, stored hashed.

use std::collections::HashMap;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{Config, DeviceKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Kiosk { device: String, hall: usize },
    Display { device: String, hall: usize },
    /// The rating pad at one counter.
    Pad { device: String, counter: usize },
    Clerk { clerk: String, counter: usize },
    Supervisor { id: String },
}

impl Principal {
    pub fn is_supervisor(&self) -> bool {
        matches!(self, Principal::Supervisor { .. })
    }
}

/// Fixed tokens from the config, by hash.
pub struct Tokens {
    by_hash: HashMap<String, Principal>,
}

impl Tokens {
    pub fn from_config(cfg: &Config) -> Tokens {
        let mut by_hash = HashMap::new();
        for d in &cfg.devices {
            let p = match d.kind {
                DeviceKind::Kiosk => Principal::Kiosk { device: d.id.clone(), hall: d.hall },
                DeviceKind::Display => Principal::Display { device: d.id.clone(), hall: d.hall },
                DeviceKind::Pad { counter } => Principal::Pad { device: d.id.clone(), counter },
            };
            by_hash.insert(d.token_hash.clone(), p);
        }
        for s in &cfg.supervisors {
            by_hash.insert(s.token_hash.clone(), Principal::Supervisor { id: s.id.clone() });
        }
        Tokens { by_hash }
    }

    pub fn get(&self, hash: &str) -> Option<&Principal> {
        self.by_hash.get(hash)
    }
}

pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// A new random token (256 bits, hex).
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn hash_pin(pin: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = argon2::password_hash::SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default().hash_password(pin.as_bytes(), &salt)?.to_string())
}

/// Slow on purpose (argon2): call it off the async threads.
pub fn verify_pin(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pin.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_verify_against_their_hash_only() {
        let h = hash_pin("1234").unwrap();
        assert!(verify_pin("1234", &h));
        assert!(!verify_pin("1235", &h));
        assert!(!verify_pin("1234", "not a hash"));
    }

    #[test]
    fn demo_tokens_match_config() {
        let cfg = Config::embedded().unwrap();
        let t = Tokens::from_config(&cfg);
        assert_eq!(t.get(&hash_token("demo-kiosk-east")), Some(&Principal::Kiosk { device: "kiosk-east-1".into(), hall: 0 }));
        assert!(t.get(&hash_token("demo-supervisor")).unwrap().is_supervisor());
        assert_eq!(t.get(&hash_token("demo-kiosk-nowhere")), None);
        assert!(verify_pin("1234", &cfg.clerk("clerk07").unwrap().pin_hash));
    }
}
