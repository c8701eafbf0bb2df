use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, h, m, s).unwrap()
}

fn hm(h: u32, m: u32) -> DateTime<Utc> {
    at(h, m, 0)
}

fn plan(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Lock> {
    lock_plan(from, to)
}

// --- round_out ---

#[test]
fn round_out_floors_the_start_and_ceils_the_end() {
    assert_eq!(round_out(hm(9, 0), hm(9, 45)), (hm(9, 0), hm(9, 45)));
    assert_eq!(round_out(hm(9, 2), hm(9, 43)), (hm(9, 0), hm(9, 45)));
    assert_eq!(round_out(at(9, 4, 59), at(9, 40, 1)), (hm(9, 0), hm(9, 45)));
    let nanos = at(9, 40, 0) + Duration::nanoseconds(1);
    assert_eq!(round_out(hm(9, 5), nanos), (hm(9, 5), hm(9, 45)));
    let just_after = at(9, 5, 0) + Duration::nanoseconds(999_999_999);
    assert_eq!(round_out(just_after, hm(9, 10)), (hm(9, 5), hm(9, 10)));
}

#[test]
fn round_out_of_an_empty_or_reversed_interval_is_empty() {
    assert_eq!(round_out(hm(9, 2), hm(9, 2)), (hm(9, 0), hm(9, 0)));
    assert_eq!(round_out(hm(9, 30), hm(9, 0)), (hm(9, 30), hm(9, 30)));
    assert!(lock_plan(hm(9, 2), hm(9, 2)).is_empty());
    assert!(lock_plan(hm(10, 0), hm(9, 0)).is_empty());
}

#[test]
fn round_out_before_the_epoch() {
    let t = Utc.with_ymd_and_hms(1969, 12, 31, 23, 58, 0).unwrap();
    let (f, to) = round_out(t, t + Duration::minutes(1));
    assert_eq!(f, Utc.with_ymd_and_hms(1969, 12, 31, 23, 55, 0).unwrap());
    assert_eq!(to, DateTime::UNIX_EPOCH);
}

// --- lock_plan ---

#[test]
fn a_span_inside_one_block_is_a_share_and_its_cells() {
    assert_eq!(
        plan(hm(9, 10), hm(9, 25)),
        [
            Lock::Cell(hm(9, 10)),
            Lock::Cell(hm(9, 15)),
            Lock::Cell(hm(9, 20)),
            Lock::Share(hm(9, 0)),
        ]
    );
}

#[test]
fn a_whole_hour_is_one_block() {
    assert_eq!(plan(hm(9, 0), hm(10, 0)), [Lock::Block(hm(9, 0))]);
    assert_eq!(
        plan(hm(9, 0), hm(12, 0)),
        [
            Lock::Block(hm(9, 0)),
            Lock::Block(hm(10, 0)),
            Lock::Block(hm(11, 0))
        ]
    );
}

#[test]
fn partial_blocks_at_both_ends() {
    // 9:50–11:10, rounded from 9:52:30–11:08.
    assert_eq!(
        plan(at(9, 52, 30), hm(11, 8)),
        [
            Lock::Cell(hm(9, 50)),
            Lock::Cell(hm(9, 55)),
            Lock::Cell(hm(11, 0)),
            Lock::Cell(hm(11, 5)),
            Lock::Block(hm(10, 0)),
            Lock::Share(hm(9, 0)),
            Lock::Share(hm(11, 0)),
        ]
    );
}

#[test]
fn long_plans_stay_small() {
    // 12-hour appointment with 24-hour buffers on both sides, off the grid.
    // Rounded to 00:05–12:10 two days later: 11 cells + a share, 59 blocks, 2 cells + a share.
    let plan = plan(hm(0, 7), hm(0, 7) + Duration::hours(60));
    assert_eq!(plan.len(), 11 + 1 + 59 + 2 + 1);
    assert!(plan.len() < 100);
}

// --- plans_conflict ---

#[test]
fn conflict_rules() {
    let c = Lock::Cell(hm(9, 0));
    let b = Lock::Block(hm(9, 0));
    let s = Lock::Share(hm(9, 0));
    assert!(plans_conflict(&[c], &[c]));
    assert!(plans_conflict(&[b], &[b]));
    assert!(plans_conflict(&[b], &[s]));
    assert!(plans_conflict(&[s], &[b]));
    assert!(!plans_conflict(&[s], &[s]));
    assert!(!plans_conflict(&[c], &[b]));
    assert!(!plans_conflict(&[c], &[Lock::Cell(hm(9, 5))]));
    assert!(!plans_conflict(&[b], &[Lock::Share(hm(10, 0))]));
    assert!(!plans_conflict(&[], &[b]));
}

#[test]
fn adjacent_spans_do_not_conflict_but_one_shared_cell_does() {
    let a = plan(hm(9, 0), hm(9, 45));
    assert!(!plans_conflict(&a, &plan(hm(9, 45), hm(10, 30))));
    assert!(plans_conflict(&a, &plan(hm(9, 44), hm(10, 30))));
    assert!(plans_conflict(&a, &plan(hm(8, 0), hm(9, 1))));
    assert!(!plans_conflict(&a, &plan(hm(8, 0), hm(9, 0))));
    // A whole block against a part of it.
    assert!(plans_conflict(
        &plan(hm(9, 0), hm(11, 0)),
        &plan(hm(10, 55), hm(11, 5))
    ));
}

// --- take / release / transition ---

#[test]
fn take_and_release_map_locks_to_items() {
    let p = plan(hm(9, 50), hm(11, 5));
    assert_eq!(
        take(&p),
        [
            (LockKey::Cell(hm(9, 50)), LockOp::TakeCell),
            (LockKey::Cell(hm(9, 55)), LockOp::TakeCell),
            (LockKey::Cell(hm(11, 0)), LockOp::TakeCell),
            (LockKey::Block(hm(9, 0)), LockOp::AddShare),
            (LockKey::Block(hm(10, 0)), LockOp::TakeBlock),
            (LockKey::Block(hm(11, 0)), LockOp::AddShare),
        ]
    );
    assert_eq!(
        release(&p),
        [
            (LockKey::Cell(hm(9, 50)), LockOp::ReleaseCell),
            (LockKey::Cell(hm(9, 55)), LockOp::ReleaseCell),
            (LockKey::Cell(hm(11, 0)), LockOp::ReleaseCell),
            (LockKey::Block(hm(9, 0)), LockOp::RemoveShare),
            (LockKey::Block(hm(10, 0)), LockOp::ReleaseBlock),
            (LockKey::Block(hm(11, 0)), LockOp::RemoveShare),
        ]
    );
}

#[test]
fn transition_merges_operations_per_item() {
    // 9:30–10:30 → 9:00–10:15: block 9 goes share → whole, block 10 stays shared.
    let old = plan(hm(9, 30), hm(10, 30));
    let new = plan(hm(9, 0), hm(10, 15));
    let ops = transition(&old, &new);
    let mut expected = Vec::new();
    for m in (30..60).step_by(5) {
        expected.push((LockKey::Cell(hm(9, m)), LockOp::ReleaseCell));
    }
    for m in [15, 20, 25] {
        expected.push((LockKey::Cell(hm(10, m)), LockOp::ReleaseCell));
    }
    expected.push((LockKey::Block(hm(9, 0)), LockOp::ShareToBlock));
    assert_eq!(ops, expected);

    // And back: whole → share.
    let back = transition(&new, &old);
    assert!(back.contains(&(LockKey::Block(hm(9, 0)), LockOp::BlockToShare)));
    assert!(
        !back
            .iter()
            .any(|(key, _)| *key == LockKey::Block(hm(10, 0)))
    );
}

#[test]
fn transition_to_the_same_plan_is_empty() {
    let p = plan(hm(9, 50), hm(12, 5));
    assert!(transition(&p, &p).is_empty());
    assert_eq!(transition(&[], &p), take(&p));
    assert_eq!(transition(&p, &[]), release(&p));
}

// --- property tests ---

/// Minutes and seconds from a base instant, with sub-second offsets now and then.
fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let base = Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap();
    (
        0i64..3 * 24 * 60,
        prop_oneof![Just(0i64), 0i64..60],
        prop_oneof![3 => Just(0i64), 1 => 0i64..1_000_000_000],
    )
        .prop_map(move |(minutes, secs, nanos)| {
            base + Duration::minutes(minutes)
                + Duration::seconds(secs)
                + Duration::nanoseconds(nanos)
        })
}

fn arb_length() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0i64..=90).prop_map(Duration::minutes),
        (0i64..=40 * 60).prop_map(Duration::minutes),
        (0i64..=20).prop_map(|h| Duration::hours(h)),
        (0i64..=7200).prop_map(Duration::seconds),
    ]
}

type Interval = (DateTime<Utc>, DateTime<Utc>);

fn arb_interval() -> impl Strategy<Value = Interval> {
    (arb_instant(), arb_length()).prop_map(|(from, length)| (from, from + length))
}

/// Two intervals, often adjacent or overlapping by a little.
fn arb_pair() -> impl Strategy<Value = (Interval, Interval)> {
    prop_oneof![
        (arb_interval(), arb_interval()),
        (arb_interval(), arb_length(), -600i64..600).prop_map(|(a, length, shift)| {
            let start = a.1 + Duration::seconds(shift);
            (a, (start, start + length))
        }),
        (arb_interval(), arb_length(), -600i64..600).prop_map(|(a, length, shift)| {
            let end = a.0 + Duration::seconds(shift);
            (a, (end - length, end))
        }),
    ]
}

fn rounded_overlap(a: Interval, b: Interval) -> bool {
    let (a, b) = (round_out(a.0, a.1), round_out(b.0, b.1));
    a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1
}

/// An in-memory model of the lock items with the exact conditions of the store.
#[derive(Clone, Debug, Default, PartialEq)]
struct Db {
    /// Cell item → the booking holding it.
    cells: BTreeMap<DateTime<Utc>, u32>,
    /// Block item → (`full_by`, `shares`); items with neither are removed.
    blocks: BTreeMap<DateTime<Utc>, (Option<u32>, u32)>,
}

impl Db {
    /// Applies one transaction atomically; false (and no change) when a condition fails.
    fn apply(&mut self, booking: u32, ops: &[(LockKey, LockOp)]) -> bool {
        let keys: BTreeSet<LockKey> = ops.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys.len(), ops.len(), "two operations on one item: {ops:?}");
        let mut next = self.clone();
        for &(key, op) in ops {
            // Conditions are checked against the state before the transaction.
            let ok = match key {
                LockKey::Cell(t) => {
                    let holder = self.cells.get(&t).copied();
                    match op {
                        LockOp::TakeCell => holder.is_none(),
                        LockOp::ReleaseCell => holder == Some(booking),
                        _ => panic!("{op:?} on a cell"),
                    }
                }
                LockKey::Block(h) => {
                    let (full_by, shares) = self.blocks.get(&h).copied().unwrap_or((None, 0));
                    match op {
                        LockOp::TakeBlock => full_by.is_none() && shares == 0,
                        LockOp::ReleaseBlock | LockOp::BlockToShare => full_by == Some(booking),
                        LockOp::AddShare => full_by.is_none(),
                        LockOp::RemoveShare => shares >= 1,
                        LockOp::ShareToBlock => full_by.is_none() && shares == 1,
                        _ => panic!("{op:?} on a block"),
                    }
                }
            };
            if !ok {
                return false;
            }
            match key {
                LockKey::Cell(t) => {
                    if op == LockOp::TakeCell {
                        next.cells.insert(t, booking);
                    } else {
                        next.cells.remove(&t);
                    }
                }
                LockKey::Block(h) => {
                    let item = next.blocks.entry(h).or_insert((None, 0));
                    match op {
                        LockOp::TakeBlock => item.0 = Some(booking),
                        LockOp::ReleaseBlock => item.0 = None,
                        LockOp::AddShare => item.1 += 1,
                        LockOp::RemoveShare => item.1 -= 1,
                        LockOp::BlockToShare => *item = (None, item.1 + 1),
                        LockOp::ShareToBlock => *item = (Some(booking), item.1 - 1),
                        _ => unreachable!(),
                    }
                    if *item == (None, 0) {
                        next.blocks.remove(&h);
                    }
                }
            }
        }
        *self = next;
        true
    }
}

fn is_sorted_by_key(ops: &[(LockKey, LockOp)]) -> bool {
    ops.windows(2).all(|w| w[0].0 < w[1].0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn plans_conflict_iff_rounded_spans_overlap((a, b) in arb_pair()) {
        let (pa, pb) = (lock_plan(a.0, a.1), lock_plan(b.0, b.1));
        prop_assert_eq!(plans_conflict(&pa, &pb), rounded_overlap(a, b));
        prop_assert_eq!(plans_conflict(&pb, &pa), rounded_overlap(a, b));
    }

    #[test]
    fn plans_are_sorted_unique_and_cover_the_rounded_span((from, to) in arb_interval()) {
        let p = lock_plan(from, to);
        prop_assert!(p.windows(2).all(|w| w[0] < w[1]));
        let (f, t) = round_out(from, to);
        prop_assert!(f <= from && (to <= from || to <= t));
        prop_assert!(f.timestamp() % (CELL_MINUTES * 60) == 0 && t.timestamp() % (CELL_MINUTES * 60) == 0);
        prop_assert!(t - f < Duration::minutes(CELL_MINUTES) * 2 + (to - from).max(Duration::zero()));
        // Every covered cell is held exactly once: by a Cell, or by a Block of its hour.
        let mut cell = f;
        while cell < t {
            let hour = DateTime::from_timestamp(cell.timestamp().div_euclid(3600) * 3600, 0).unwrap();
            let by_cell = p.contains(&Lock::Cell(cell));
            let by_block = p.contains(&Lock::Block(hour));
            prop_assert!(by_cell != by_block);
            prop_assert_eq!(by_cell, p.contains(&Lock::Share(hour)));
            cell += Duration::minutes(CELL_MINUTES);
        }
        let cells = p.iter().filter(|l| matches!(l, Lock::Cell(_))).count() as i64;
        let blocks = p.iter().filter(|l| matches!(l, Lock::Block(_))).count() as i64;
        prop_assert_eq!((t - f).num_minutes(), cells * CELL_MINUTES + blocks * BLOCK_MINUTES);
        prop_assert!(take(&p).len() == p.len() && is_sorted_by_key(&take(&p)));
        prop_assert!(release(&p).len() == p.len() && is_sorted_by_key(&release(&p)));
    }

    #[test]
    fn the_store_model_admits_exactly_the_non_overlapping_bookings(
        intervals in prop::collection::vec(arb_interval(), 1..12),
        moves in prop::collection::vec((any::<prop::sample::Index>(), arb_interval()), 1..8),
    ) {
        let mut db = Db::default();
        let mut booked: BTreeMap<u32, Interval> = BTreeMap::new();
        for (id, &span) in (0u32..).zip(&intervals) {
            let clashes = booked.values().any(|&other| rounded_overlap(span, other));
            let before = db.clone();
            let ok = db.apply(id, &take(&lock_plan(span.0, span.1)));
            prop_assert_eq!(ok, !clashes, "booking {:?} with {:?}", span, booked);
            if ok {
                booked.insert(id, span);
            } else {
                prop_assert_eq!(&db, &before);
            }
        }
        for (index, new) in moves {
            let ids: Vec<u32> = booked.keys().copied().collect();
            if ids.is_empty() {
                break;
            }
            let id = ids[index.index(ids.len())];
            let old = booked[&id];
            let (old_plan, new_plan) = (lock_plan(old.0, old.1), lock_plan(new.0, new.1));
            let clashes = booked.iter().any(|(&other, &span)| other != id && rounded_overlap(new, span));
            let ops = transition(&old_plan, &new_plan);
            prop_assert!(is_sorted_by_key(&ops));
            let mut sequential = db.clone();
            prop_assert!(sequential.apply(id, &release(&old_plan)));
            let sequential_ok = sequential.apply(id, &take(&new_plan));
            let before = db.clone();
            let ok = db.apply(id, &ops);
            prop_assert_eq!(ok, !clashes, "moving {} from {:?} to {:?} among {:?}", id, old, new, booked);
            prop_assert_eq!(sequential_ok, ok);
            if ok {
                prop_assert_eq!(&db, &sequential);
                booked.insert(id, new);
            } else {
                prop_assert_eq!(&db, &before);
            }
        }
        // The state is exactly the bookings' plans, whatever the history.
        let mut fresh = Db::default();
        for (&id, span) in &booked {
            prop_assert!(fresh.apply(id, &take(&lock_plan(span.0, span.1))));
        }
        prop_assert_eq!(&db, &fresh);
        for (&id, span) in &booked {
            prop_assert!(db.apply(id, &release(&lock_plan(span.0, span.1))));
        }
        prop_assert_eq!(db, Db::default());
    }
}
