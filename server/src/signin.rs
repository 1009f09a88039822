//! What stands between a guessed PIN and a counter: a limiter of failed sign-ins per account
//! and per client address, and a small pool for the (deliberately slow, memory-hungry) argon2
//! checks. Shared by clerk PINs and supervisor passwords. Time is passed in.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::domain::Millis;

/// `[sign_in]`: when failures lock an account or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures of one account from one client address within `window_ms` that lock the
    /// account at that address (elsewhere it still signs in).
    pub account_failures: u32,
    /// Failures of one account from any addresses within `window_ms` that lock the account
    /// everywhere. Staff sign in only on the halls' LAN face (the public face has no sign-in),
    /// so nobody on the internet can lock a duty leader out.
    pub account_total_failures: u32,
    /// Failures from one client address within `window_ms` (any accounts) that lock it.
    pub address_failures: u32,
    pub window_ms: Millis,
    /// How long a lock lasts.
    pub lock_ms: Millis,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { account_failures: 10, account_total_failures: 30, address_failures: 30, window_ms: 10 * 60_000, lock_ms: 15 * 60_000 }
    }
}

/// Records kept at most (accounts and addresses each); the oldest go first.
const MAX_RECORDS: usize = 50_000;

#[derive(Debug, Default)]
struct Record {
    failures: VecDeque<Millis>,
    locked_until: Option<Millis>,
    touched: Millis,
}

impl Record {
    fn locked(&self, now: Millis) -> Option<Millis> {
        self.locked_until.filter(|&u| u > now)
    }

    fn fail(&mut self, now: Millis, limit: u32, limits: &Limits) -> Option<Millis> {
        self.touched = now;
        while self.failures.front().is_some_and(|&t| t <= now - limits.window_ms) {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if self.failures.len() >= limit as usize {
            self.failures.clear();
            self.locked_until = Some(now + limits.lock_ms);
        }
        self.locked(now)
    }
}

/// A refusal: try again in `retry_after_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_ms: Millis,
    pub what: LockedWhat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockedWhat {
    /// This client address, for every account.
    Address,
    /// This account from this client address.
    AccountHere,
    /// This account from everywhere.
    Account,
}

impl Locked {
    pub fn retry_after_s(&self) -> u64 {
        (self.retry_after_ms.max(0) as u64).div_ceil(1000).max(1)
    }
}

#[derive(Debug, Default)]
struct Books {
    accounts: HashMap<String, Record>,
    pairs: HashMap<(String, Option<IpAddr>), Record>,
    addresses: HashMap<IpAddr, Record>,
}

fn trim<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Record>, now: Millis, limits: &Limits) {
    if map.len() < MAX_RECORDS {
        return;
    }
    map.retain(|_, r| r.locked(now).is_some() || r.failures.back().is_some_and(|&t| t > now - limits.window_ms));
    if map.len() >= MAX_RECORDS {
        let mut by_age: Vec<(Millis, K)> = map.iter().map(|(k, r)| (r.touched, k.clone())).collect();
        by_age.sort_by_key(|(t, _)| *t);
        for (_, k) in by_age.into_iter().take(MAX_RECORDS / 10) {
            map.remove(&k);
        }
    }
}

/// Failed sign-ins per account and per address. An account or address that failed too often
/// is refused for a while, the right PIN included.
pub struct Limiter {
    limits: Limits,
    books: parking_lot::Mutex<Books>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter { limits, books: parking_lot::Mutex::new(Books::default()) }
    }

    /// May this account try from this address now? (Addresses count by
    /// [`crate::net::limit_key`]: an IPv6 /64 is one client.)
    pub fn check(&self, account: &str, addr: Option<IpAddr>, now: Millis) -> Result<(), Locked> {
        let addr = addr.map(crate::net::limit_key);
        let b = self.books.lock();
        let locked = |r: Option<&Record>, what| r.and_then(|r| r.locked(now)).map(|u| Locked { retry_after_ms: u - now, what });
        if let Some(l) = locked(addr.and_then(|a| b.addresses.get(&a)), LockedWhat::Address) {
            return Err(l);
        }
        if let Some(l) = locked(b.pairs.get(&(account.to_string(), addr)), LockedWhat::AccountHere) {
            return Err(l);
        }
        if let Some(l) = locked(b.accounts.get(account), LockedWhat::Account) {
            return Err(l);
        }
        Ok(())
    }

    /// Records a failure; returns the lock it caused, if any.
    pub fn failed(&self, account: &str, addr: Option<IpAddr>, now: Millis) -> Option<Locked> {
        let limits = self.limits;
        let addr = addr.map(crate::net::limit_key);
        let mut b = self.books.lock();
        trim(&mut b.accounts, now, &limits);
        trim(&mut b.pairs, now, &limits);
        trim(&mut b.addresses, now, &limits);
        let mut lock = None;
        if let Some(a) = addr {
            if let Some(u) = b.addresses.entry(a).or_default().fail(now, limits.address_failures, &limits) {
                lock = Some(Locked { retry_after_ms: u - now, what: LockedWhat::Address });
            }
        }
        if let Some(u) = b.pairs.entry((account.to_string(), addr)).or_default().fail(now, limits.account_failures, &limits) {
            lock = lock.or(Some(Locked { retry_after_ms: u - now, what: LockedWhat::AccountHere }));
        }
        if let Some(u) = b.accounts.entry(account.to_string()).or_default().fail(now, limits.account_total_failures, &limits) {
            lock = lock.or(Some(Locked { retry_after_ms: u - now, what: LockedWhat::Account }));
        }
        lock
    }

    /// A right PIN: the account's failures here and everywhere are forgotten (the
    /// address's are not).
    pub fn succeeded(&self, account: &str, addr: Option<IpAddr>) {
        let mut b = self.books.lock();
        b.accounts.remove(account);
        b.pairs.remove(&(account.to_string(), addr.map(crate::net::limit_key)));
    }
}

/// At most `limit` actions per key within `window_ms` (public bookings per client address).
pub struct Throttle<K = IpAddr> {
    limit: u32,
    window_ms: Millis,
    seen: parking_lot::Mutex<HashMap<K, VecDeque<Millis>>>,
}

impl Throttle<IpAddr> {
    /// Counts one action of a client address (an IPv6 /64 is one client).
    pub fn take_addr(&self, addr: IpAddr, now: Millis) -> Result<(), Millis> {
        self.take(crate::net::limit_key(addr), now)
    }
}

impl<K: std::hash::Hash + Eq + Clone> Throttle<K> {
    pub fn new(limit: u32, window_ms: Millis) -> Throttle<K> {
        Throttle { limit, window_ms, seen: parking_lot::Mutex::new(HashMap::new()) }
    }

    /// Counts one action; `Err(ms)` to wait when over the limit (then nothing is counted).
    pub fn take(&self, key: K, now: Millis) -> Result<(), Millis> {
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_RECORDS {
            let window = self.window_ms;
            seen.retain(|_, q| q.back().is_some_and(|&t| t > now - window));
        }
        let q = seen.entry(key).or_default();
        while q.front().is_some_and(|&t| t <= now - self.window_ms) {
            q.pop_front();
        }
        if q.len() as u32 >= self.limit {
            return Err(q.front().map_or(self.window_ms, |&t| t + self.window_ms - now));
        }
        q.push_back(now);
        Ok(())
    }
}

/// Too many checks at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

type Job = Box<dyn FnOnce() + Send>;

/// Runs argon2 checks on a few threads of its own: each check holds about 19 MiB while it runs
/// (and the allocator keeps a thread's memory for that thread), so both the checks running and
/// the threads that ever ran one are bounded. Callers beyond a short queue are refused.
pub struct HashPool {
    jobs: std::sync::mpsc::Sender<Job>,
    permits: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl HashPool {
    pub fn new(threads: usize, max_waiting: usize) -> HashPool {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(parking_lot::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("qcall-hash-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("spawn hash thread");
        }
        HashPool { jobs: tx, permits: Arc::new(tokio::sync::Semaphore::new(threads.max(1))), waiting: AtomicUsize::new(0), max_waiting }
    }

    /// As many threads as cores, and twice as many callers waiting.
    pub fn for_this_machine() -> HashPool {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashPool::new(n, 2 * n)
    }

    /// `check` on one of the pool's threads when a slot is free soon enough.
    pub async fn run<T: Send + 'static>(&self, check: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting + self.permits.available_permits() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let permit = permit.map_err(|_| Busy)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(check());
            drop(permit);
        });
        self.jobs.send(job).map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    #[test]
    fn ten_failures_from_one_address_lock_the_account_there_not_elsewhere() {
        let l = Limiter::new(Limits::default());
        let addr: Option<IpAddr> = Some("10.0.0.7".parse().unwrap());
        let other: Option<IpAddr> = Some("10.0.0.8".parse().unwrap());
        for i in 0..9 {
            assert_eq!(l.failed("clerk01", addr, i * 1000), None);
            assert!(l.check("clerk01", addr, i * 1000).is_ok());
        }
        let lock = l.failed("clerk01", addr, 9_000).expect("the tenth failure locks");
        assert_eq!((lock.retry_after_ms, lock.what), (15 * MIN, LockedWhat::AccountHere));
        assert!(l.check("clerk01", addr, 9_000 + 14 * MIN).is_err(), "still locked there");
        assert!(l.check("clerk01", other, 10 * MIN).is_ok(), "the right person elsewhere still signs in");
        assert!(l.check("clerk02", addr, 10 * MIN).is_ok(), "other accounts are not locked");
        assert!(l.check("clerk01", addr, 9_000 + 15 * MIN).is_ok(), "the lock ends");
        assert_eq!(l.check("clerk01", addr, 9_000 + MIN).unwrap_err().retry_after_s(), 14 * 60);
    }

    #[test]
    fn the_whole_account_locks_only_after_many_failures_from_many_addresses() {
        let l = Limiter::new(Limits::default());
        // 29 failures from 29 addresses: the right person elsewhere still signs in.
        for i in 0..29u8 {
            l.failed("duty", Some(IpAddr::from([10, 1, i / 5, i])), i64::from(i));
        }
        assert!(l.check("duty", Some("10.0.0.1".parse().unwrap()), 100).is_ok());
        // The 30th: the account is locked everywhere.
        let lock = l.failed("duty", Some(IpAddr::from([10, 2, 0, 1])), 200);
        assert_eq!(lock.map(|l| l.what), Some(LockedWhat::Account));
        assert!(l.check("duty", Some("10.9.9.9".parse().unwrap()), 300).is_err());
    }

    #[test]
    fn an_ipv6_prefix_is_one_client() {
        let l = Limiter::new(Limits::default());
        for i in 0..10u16 {
            l.failed("clerk01", Some(IpAddr::from([0x2001, 0xdb8, 0, 1, i, 0, 0, 1])), i64::from(i));
        }
        assert!(l.check("clerk01", Some("2001:db8:0:1:ffff::1".parse().unwrap()), 20).is_err(), "the same /64");
        assert!(l.check("clerk01", Some("2001:db8:0:2::1".parse().unwrap()), 20).is_ok(), "another /64");
    }

    #[test]
    fn failures_outside_the_window_do_not_count_and_success_forgets() {
        let l = Limiter::new(Limits::default());
        for i in 0..9 {
            l.failed("c", None, i * 2 * MIN);
        }
        // Spread over 16 minutes: never 10 within 10 minutes.
        assert!(l.check("c", None, 18 * MIN).is_ok());
        for i in 0..9 {
            l.failed("d", None, i);
        }
        l.succeeded("d", None);
        assert_eq!(l.failed("d", None, 10), None, "the count started over");
    }

    #[test]
    fn one_address_guessing_many_accounts_is_locked() {
        let l = Limiter::new(Limits::default());
        let addr: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        let mut locked = None;
        for i in 0..30 {
            locked = l.failed(&format!("clerk{i:02}"), addr, i);
        }
        assert_eq!(locked.map(|l| l.what), Some(LockedWhat::Address));
        assert!(l.check("clerk99", addr, 31).is_err());
        assert!(l.check("clerk99", None, 31).is_ok());
    }

    #[tokio::test]
    async fn the_pool_runs_a_few_and_refuses_beyond_its_queue() {
        let pool = Arc::new(HashPool::new(1, 1));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let first = {
            let (pool, rx) = (pool.clone(), rx.clone());
            tokio::spawn(async move { pool.run(move || rx.lock().unwrap().recv().is_ok()).await })
        };
        while pool.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let second = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| true).await })
        };
        while pool.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| true).await, Err(Busy), "one running, one waiting: the third is refused");
        tx.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(true));
        assert_eq!(second.await.unwrap(), Ok(true));
    }
}
