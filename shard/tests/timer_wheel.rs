//! The timer wheel against a simple model (a BTreeMap), with a seeded PRNG.

use std::collections::{BTreeMap, HashMap};

use shard::{TimerId, TimerWheel};

/// xorshift64*: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn ordering_and_cancel() {
    let mut wheel = TimerWheel::new(1);
    let a = wheel.insert(30, "a");
    let b = wheel.insert(10, "b");
    let c = wheel.insert(20, "c");
    assert_eq!(wheel.cancel(c), Some("c"));
    assert_eq!(wheel.cancel(c), None, "a cancelled id is stale");
    let mut out = Vec::new();
    wheel.advance(100, &mut out);
    assert_eq!(out, vec!["b", "a"]);
    assert_eq!(wheel.cancel(a), None, "a fired id is stale");
    assert_eq!(wheel.cancel(b), None);
    assert!(wheel.is_empty());
}

#[test]
fn reused_slots_do_not_accept_stale_ids() {
    let mut wheel = TimerWheel::new(1);
    let old = wheel.insert(5, 1u32);
    assert_eq!(wheel.cancel(old), Some(1));
    let new = wheel.insert(5, 2u32);
    assert_ne!(old, new);
    assert_eq!(wheel.cancel(old), None);
    assert!(!wheel.reschedule(old, 9));
    assert_eq!(wheel.cancel(new), Some(2));
}

#[test]
fn far_deadlines_cross_every_level() {
    let mut wheel = TimerWheel::new(1);
    // One timer per level boundary, and one past the top level's rotation (2^36 ticks).
    let deadlines: Vec<u64> = (0..=7).map(|l| (1u64 << (6 * l)) + 3).collect();
    for (i, &d) in deadlines.iter().enumerate() {
        wheel.insert(d, i);
    }
    let mut out = Vec::new();
    for (i, &d) in deadlines.iter().enumerate() {
        wheel.advance(d - 1, &mut out);
        assert!(out.is_empty(), "timer {i} fired before {d}");
        assert!(wheel.next_deadline().unwrap() <= d);
        wheel.advance(d, &mut out);
        assert_eq!(out, vec![i], "timer {i} at {d}");
        out.clear();
    }
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn past_deadlines_fire_on_next_advance_and_ticks_round_up() {
    let mut wheel = TimerWheel::new(10);
    let mut out = Vec::new();
    wheel.advance(1000, &mut out);
    wheel.insert(5, 'p');
    wheel.insert(1001, 'r'); // rounds up to 1010
    wheel.advance(1000, &mut out);
    assert_eq!(out, vec!['p']);
    wheel.advance(1009, &mut out);
    assert_eq!(out, vec!['p']);
    wheel.advance(1010, &mut out);
    assert_eq!(out, vec!['p', 'r']);
}

#[test]
fn reschedule_keeps_the_id() {
    let mut wheel = TimerWheel::new(1);
    let id = wheel.insert(100, 'k');
    assert!(wheel.reschedule(id, 5000));
    let mut out = Vec::new();
    wheel.advance(4999, &mut out);
    assert!(out.is_empty());
    assert_eq!(wheel.deadline_ms(id), Some(5000));
    assert!(wheel.reschedule(id, 10));
    wheel.advance(5000, &mut out);
    assert_eq!(out, vec!['k']);
}

#[test]
fn many_timers() {
    const N: u64 = 200_000;
    let mut wheel = TimerWheel::new(10);
    let mut rng = Rng(7);
    let mut ids = Vec::with_capacity(N as usize);
    for k in 0..N {
        ids.push(wheel.insert(rng.below(3_600_000), k));
    }
    // Cancel every third one.
    for id in ids.iter().step_by(3) {
        assert!(wheel.cancel(*id).is_some());
    }
    let mut out = Vec::new();
    let mut now = 0;
    while !wheel.is_empty() {
        now += 60_000;
        wheel.advance(now, &mut out);
    }
    assert_eq!(out.len() as u64, N - N.div_ceil(3));
}

/// Random inserts, cancels, reschedules and advances (small and huge) against a model.
#[test]
fn matches_a_btreemap_model() {
    for (seed, tick_ms) in [(1u64, 1u64), (2, 10), (3, 7), (4, 1)] {
        run_model(seed, tick_ms, 20_000);
    }
}

fn run_model(seed: u64, tick_ms: u64, steps: usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut wheel = TimerWheel::new(tick_ms);
    // key -> (id, deadline_ms); plus (deadline tick, key) ordered.
    let mut live: HashMap<u64, (TimerId, u64)> = HashMap::new();
    let mut by_deadline: BTreeMap<(u64, u64), ()> = BTreeMap::new();
    let mut dead_ids: Vec<TimerId> = Vec::new();
    let mut now = 0u64;
    let mut next_key = 0u64;
    let ticks = |ms: u64| ms.div_ceil(tick_ms);
    let mut out = Vec::new();

    for _ in 0..steps {
        match rng.below(10) {
            0..=3 => {
                let span = [64, 4096, 300_000, 1 << 40][rng.below(4) as usize];
                // Some deadlines are already past.
                let deadline = (now + rng.below(span)).saturating_sub(rng.below(3) * 10);
                let key = next_key;
                next_key += 1;
                let id = wheel.insert(deadline, key);
                live.insert(key, (id, deadline));
                by_deadline.insert((ticks(deadline), key), ());
            }
            4 if !live.is_empty() => {
                let key = *live
                    .keys()
                    .nth(rng.below(live.len() as u64) as usize)
                    .unwrap();
                let (id, deadline) = live.remove(&key).unwrap();
                by_deadline.remove(&(ticks(deadline), key));
                assert_eq!(wheel.cancel(id), Some(key));
                dead_ids.push(id);
            }
            5 if !live.is_empty() => {
                let key = *live
                    .keys()
                    .nth(rng.below(live.len() as u64) as usize)
                    .unwrap();
                let (id, old) = live[&key];
                let deadline = now + rng.below(100_000);
                assert!(wheel.reschedule(id, deadline));
                by_deadline.remove(&(ticks(old), key));
                by_deadline.insert((ticks(deadline), key), ());
                live.insert(key, (id, deadline));
            }
            6 if !dead_ids.is_empty() => {
                let id = dead_ids[rng.below(dead_ids.len() as u64) as usize];
                assert_eq!(wheel.cancel(id), None);
            }
            _ => {
                let step = match rng.below(20) {
                    0 => rng.below(1 << 38),
                    1..=4 => rng.below(100_000),
                    _ => rng.below(200),
                };
                now += step;
                out.clear();
                wheel.advance(now, &mut out);
                let due_tick = now / tick_ms;
                let mut expected = Vec::new();
                while let Some((&(t, key), _)) = by_deadline.first_key_value() {
                    if t > due_tick {
                        break;
                    }
                    by_deadline.pop_first();
                    let (id, _) = live.remove(&key).unwrap();
                    dead_ids.push(id);
                    expected.push((t, key));
                }
                // Fired in deadline order; ties in any order.
                let fired_ticks: Vec<u64> = out
                    .iter()
                    .map(|k| {
                        expected
                            .iter()
                            .find(|(_, e)| e == k)
                            .expect("fired early")
                            .0
                    })
                    .collect();
                assert!(fired_ticks.windows(2).all(|w| w[0] <= w[1]), "out of order");
                let mut got = out.clone();
                got.sort_unstable();
                let mut want: Vec<u64> = expected.iter().map(|&(_, k)| k).collect();
                want.sort_unstable();
                assert_eq!(got, want, "seed {seed} now {now}");
                if let Some(&(t, _)) = by_deadline.keys().next() {
                    let next = wheel.next_deadline().expect("timers are live");
                    assert!(
                        next <= t * tick_ms,
                        "next_deadline {next} after {}",
                        t * tick_ms
                    );
                    assert!(next > now - now % tick_ms);
                }
            }
        }
        assert_eq!(wheel.len(), live.len());
        if dead_ids.len() > 1000 {
            dead_ids.drain(..500);
        }
    }
}
