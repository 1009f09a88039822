//! Who is calling: bearer tokens for devices, supervisors and clerk sessions.
//!
//! Device and supervisor tokens live in the config as `sha256:` hashes; clerks sign in with
//! id + PIN (argon2 hash in the config) and get a random session token, stored hashed.

use std::collections::HashMap;

use crate::config::{Config, DeviceKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Kiosk { device: String, hall: usize },
    Display { device: String, hall: usize },
    /// The rating pad at one counter.
    Pad { device: String, counter: usize },
    /// An integration client that books appointments for taxpayers.
    Booking { device: String },
    /// A hall's own server, forwarding the hall's log.
    Edge { device: String, hall: usize },
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
            // The config gives every kiosk and display its hall.
            let p = match (d.kind, d.hall) {
                (DeviceKind::Kiosk, Some(hall)) => Principal::Kiosk { device: d.id.clone(), hall },
                (DeviceKind::Display, Some(hall)) => Principal::Display { device: d.id.clone(), hall },
                (DeviceKind::Pad { counter }, _) => Principal::Pad { device: d.id.clone(), counter },
                (DeviceKind::Booking, _) => Principal::Booking { device: d.id.clone() },
                (DeviceKind::Edge, Some(hall)) => Principal::Edge { device: d.id.clone(), hall },
                (DeviceKind::Kiosk | DeviceKind::Display | DeviceKind::Edge, None) => continue,
            };
            by_hash.insert(d.token_hash.clone(), p);
        }
        for s in &cfg.supervisors {
            if let Some(h) = &s.token_hash {
                by_hash.insert(h.clone(), Principal::Supervisor { id: s.id.clone() });
            }
        }
        Tokens { by_hash }
    }

    pub fn get(&self, hash: &str) -> Option<&Principal> {
        self.by_hash.get(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{hash_pin, hash_token, is_current_hash, new_token, pin_fingerprint, verify_pin, DEMO_SUPERVISOR_PASSWORD_HASH};
    use argon2::PasswordHash;

    #[test]
    fn pins_verify_against_their_hash_only() {
        let h = hash_pin("123456").unwrap();
        assert!(verify_pin("123456", &h));
        assert!(!verify_pin("123457", &h));
        assert!(!verify_pin("123456", "not a hash"));
        assert!(is_current_hash(&PasswordHash::new(&h).unwrap()));
        let cfg = Config::embedded().unwrap();
        assert!(cfg.clerk("clerk01").unwrap().short_pin, "the demo PINs are from before");
        assert!(cfg.demo_credentials);
        assert_ne!(pin_fingerprint(&h), pin_fingerprint(&hash_pin("123456").unwrap()), "salted");
    }

    #[test]
    fn the_demo_supervisor_password_is_known_as_public() {
        let cfg = Config::embedded().unwrap();
        let duty = cfg.supervisor("duty").unwrap();
        assert_eq!(duty.password_hash.as_deref(), Some(DEMO_SUPERVISOR_PASSWORD_HASH));
        assert!(verify_pin("demo-duty-password", DEMO_SUPERVISOR_PASSWORD_HASH));
        // A copy of the demo file with new tokens but the demo password is still a demo.
        let text: String = crate::config::EMBEDDED_CONFIG
            .lines()
            .map(|l| if l.starts_with("token_hash = ") { format!("token_hash = \"{}\"\n", hash_token(&new_token())) } else { format!("{l}\n") })
            .collect();
        let copy = Config::parse(&text, "copy.toml").unwrap();
        assert!(copy.demo_credentials);
        let own = text.replace(DEMO_SUPERVISOR_PASSWORD_HASH, &hash_pin("our-own-password").unwrap());
        assert!(!Config::parse(&own, "own.toml").unwrap().demo_credentials);
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
