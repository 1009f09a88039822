//! Secrets, pure: token hashes (`sha256:`), new random tokens, and PIN and password hashes
//! (argon2id), with the demo's public ones recognised.

use argon2::{Argon2, PasswordHash, PasswordHasher};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// A new random token (256 bits, hex).
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The shortest PIN `hash-pin` accepts.
pub const MIN_PIN_LEN: usize = 6;

/// The shortest supervisor password `hash-password` accepts.
pub const MIN_PASSWORD_LEN: usize = 10;

/// argon2id with 19 MiB and 3 passes: the parameters of hashes made since PINs need six
/// digits (earlier hashes used 2 passes; they still verify, with a warning at start).
fn hasher() -> Argon2<'static> {
    let params = argon2::Params::new(19 * 1024, 3, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

pub fn hash_pin(pin: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = argon2::password_hash::SaltString::generate(&mut rand::rngs::OsRng);
    Ok(hasher().hash_password(pin.as_bytes(), &salt)?.to_string())
}

/// Made by this version of `hash-pin` (so its PIN has at least [`MIN_PIN_LEN`] characters).
pub fn is_current_hash(h: &PasswordHash<'_>) -> bool {
    h.params.get_decimal("t").is_some_and(|t| t >= 3)
}

/// A short fingerprint of a stored hash: sessions remember the one they were made with.
pub fn pin_fingerprint(hash: &str) -> String {
    hex::encode(&Sha256::digest(hash.as_bytes())[..8])
}

/// Slow on purpose (argon2): call it off the async threads.
///
/// The 19 MiB the check works in is kept per thread and used again: allocating it afresh for
/// each check left the allocator holding another 19 MiB after each one.
pub fn verify_pin(pin: &str, hash: &str) -> bool {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let check = || -> Option<bool> {
        let h = PasswordHash::new(hash).ok()?;
        let params = argon2::Params::try_from(&h).ok()?;
        let algorithm = argon2::Algorithm::try_from(h.algorithm).ok()?;
        let version = h.version.map(argon2::Version::try_from).transpose().ok()?.unwrap_or_default();
        let expected = h.hash?;
        let mut salt = [0u8; 64];
        let salt = h.salt?.decode_b64(&mut salt).ok()?;
        let mut out = vec![0u8; expected.len()];
        MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() < params.block_count() {
                m.resize(params.block_count(), argon2::Block::default());
            }
            let blocks = params.block_count();
            Argon2::new(algorithm, version, params).hash_password_into_with_memory(pin.as_bytes(), salt, &mut out, &mut m[..blocks]).ok()
        })?;
        // Constant-time comparison (password_hash::Output's equality).
        Some(argon2::password_hash::Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

/// A hash to check unknown accounts against, so that they take as long as known ones.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_pin(&new_token()).unwrap_or_default())
}

/// The demo supervisor's password hash (of `demo-duty-password`): public like the demo tokens.
pub const DEMO_SUPERVISOR_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=3,p=1$qd4lzkdjPyI//sOZaY78FA$qs3s4KVbOmXcei1i0LupcEoxMwHBwl7QHn9doYhgiZI";

/// The tokens printed in the demo config (`demo-…`): public, so never on a real network.
pub fn is_demo_token_hash(h: &str) -> bool {
    static DEMO: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| {
        let mut v = vec![hash_token("demo-supervisor"), hash_token("demo-booking")];
        for hall in ["east", "west", "central"] {
            v.push(hash_token(&format!("demo-kiosk-{hall}")));
            v.push(hash_token(&format!("demo-display-{hall}")));
        }
        for (p, n) in [("e", 8), ("w", 6), ("c", 10)] {
            for i in 1..=n {
                v.push(hash_token(&format!("demo-pad-{p}{i:02}")));
            }
        }
        v
    })
    .iter()
    .any(|d| d == h)
}
