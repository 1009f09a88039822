//! One-time codes that prove a booker holds a phone, pure (time passed in): a six-digit code
//! per phone, good for [`VALID_MS`], used once, dead after [`MAX_TRIES`] wrong tries, compared
//! in constant time; and how often a phone may be sent one ([`RESEND_MS`], [`PER_HOUR`]).

use std::collections::{HashMap, VecDeque};

use subtle::ConstantTimeEq;

use crate::domain::Millis;

/// A code is good this long after it was sent.
pub const VALID_MS: Millis = 10 * 60_000;
/// Wrong tries a code takes before it is void.
pub const MAX_TRIES: u8 = 5;
/// Least time between two codes to one phone.
pub const RESEND_MS: Millis = 60_000;
/// Codes one phone may be sent per hour.
pub const PER_HOUR: usize = 5;
/// Phones remembered at most (the oldest forgotten first); a code lives minutes.
const MAX_PHONES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Live {
    code: String,
    expires: Millis,
    wrong: u8,
}

#[derive(Debug, Default)]
struct Phone {
    live: Option<Live>,
    /// When codes were sent in the last hour.
    sent: VecDeque<Millis>,
}

/// Why a code was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// No code was sent, it expired, was used, or took too many wrong tries.
    #[error("no valid code for this phone: ask for a new one")]
    NoCode,
    #[error("wrong code")]
    Wrong,
}

/// A code taken for a booking: put it back if the booking is refused for another reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    phone: String,
    live: Live,
}

#[derive(Debug, Default)]
pub struct PhoneCodes {
    phones: HashMap<String, Phone>,
}

impl PhoneCodes {
    /// May a new code go to `phone` now? `Err(ms)`: wait that long.
    pub fn may_send(&self, phone: &str, now: Millis) -> Result<(), Millis> {
        let Some(p) = self.phones.get(phone) else { return Ok(()) };
        let recent: Vec<Millis> = p.sent.iter().copied().filter(|t| now - t < 3_600_000).collect();
        if let Some(last) = recent.last() {
            if now - last < RESEND_MS {
                return Err(RESEND_MS - (now - last));
            }
        }
        if recent.len() >= PER_HOUR {
            return Err(recent[recent.len() - PER_HOUR] + 3_600_000 - now);
        }
        Ok(())
    }

    /// A code was sent to `phone` (call [`PhoneCodes::may_send`] first): the earlier one is
    /// void. Returns when it expires.
    pub fn sent(&mut self, phone: &str, code: &str, now: Millis) -> Millis {
        if self.phones.len() >= MAX_PHONES {
            self.phones.retain(|_, p| p.sent.back().is_some_and(|t| now - t < 3_600_000));
        }
        let p = self.phones.entry(phone.to_string()).or_default();
        while p.sent.front().is_some_and(|t| now - t >= 3_600_000) {
            p.sent.pop_front();
        }
        p.sent.push_back(now);
        p.live = Some(Live { code: code.to_string(), expires: now + VALID_MS, wrong: 0 });
        now + VALID_MS
    }

    /// The sending failed: forget the code (the attempt still counts towards the limits).
    pub fn unsend(&mut self, phone: &str) {
        if let Some(p) = self.phones.get_mut(phone) {
            p.live = None;
        }
    }

    /// Takes the code of `phone` if `code` is it (compared in constant time): it cannot be
    /// used again. A wrong code counts; the [`MAX_TRIES`]th voids it.
    pub fn take(&mut self, phone: &str, code: &str, now: Millis) -> Result<Taken, CodeError> {
        let p = self.phones.get_mut(phone).ok_or(CodeError::NoCode)?;
        let live = p.live.as_mut().filter(|l| now < l.expires).ok_or(CodeError::NoCode)?;
        if bool::from(live.code.as_bytes().ct_eq(code.trim().as_bytes())) {
            let live = p.live.take().expect("checked");
            return Ok(Taken { phone: phone.to_string(), live });
        }
        live.wrong += 1;
        if live.wrong >= MAX_TRIES {
            p.live = None;
        }
        Err(CodeError::Wrong)
    }

    /// The booking the code was taken for was refused (the slot filled, say): the code is
    /// good again, unless a newer one was sent meanwhile.
    pub fn restore(&mut self, taken: Taken) {
        if let Some(p) = self.phones.get_mut(&taken.phone) {
            if p.live.is_none() {
                p.live = Some(taken.live);
            }
        }
    }
}

/// Whether two secrets are the same, compared in constant time.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
impl PhoneCodes {
    /// The live code of `phone` (what the phone received).
    pub fn peek(&self, phone: &str) -> Option<String> {
        self.phones.get(phone)?.live.as_ref().map(|l| l.code.clone())
    }
}

/// A new six-digit code.
pub fn new_code() -> String {
    format!("{:06}", rand::random::<u32>() % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "13812341234";

    #[test]
    fn a_code_is_used_once_and_only_while_valid() {
        let mut c = PhoneCodes::default();
        let expires = c.sent(P, "123456", 0);
        assert_eq!(expires, VALID_MS);
        assert_eq!(c.take("13900000000", "123456", 1), Err(CodeError::NoCode), "another phone");
        let t = c.take(P, "123456", 1).expect("the right code");
        assert_eq!(c.take(P, "123456", 2), Err(CodeError::NoCode), "used");
        c.restore(t);
        assert!(c.take(P, "123456", 3).is_ok(), "restored after a refused booking");
        c.sent(P, "654321", 10 * 60_000);
        assert_eq!(c.take(P, "654321", 20 * 60_000), Err(CodeError::NoCode), "expired");
    }

    #[test]
    fn five_wrong_tries_void_the_code() {
        let mut c = PhoneCodes::default();
        c.sent(P, "123456", 0);
        for i in 0..4 {
            assert_eq!(c.take(P, &format!("00000{i}"), 1), Err(CodeError::Wrong));
        }
        assert!(c.take(P, "123456", 1).is_ok(), "four wrong tries leave it");
        c.sent(P, "123456", 100_000);
        for _ in 0..5 {
            assert_eq!(c.take(P, "000000", 100_001), Err(CodeError::Wrong));
        }
        assert_eq!(c.take(P, "123456", 100_002), Err(CodeError::NoCode), "the fifth voided it");
    }

    #[test]
    fn a_phone_gets_a_code_a_minute_and_five_an_hour() {
        let mut c = PhoneCodes::default();
        assert!(c.may_send(P, 0).is_ok());
        c.sent(P, "111111", 0);
        assert_eq!(c.may_send(P, 20_000), Err(40_000));
        for i in 1..5 {
            assert!(c.may_send(P, i * 60_000).is_ok());
            c.sent(P, "111111", i * 60_000);
        }
        // Five in the hour: the next when the first is an hour old.
        assert_eq!(c.may_send(P, 10 * 60_000), Err(50 * 60_000));
        assert!(c.may_send(P, 60 * 60_000).is_ok());
        assert!(c.may_send("13900000000", 10 * 60_000).is_ok(), "per phone");
    }
}
