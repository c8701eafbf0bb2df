//! The slot-lock plan: how the booking store makes double booking impossible.
//!
//! A booking occupies one staff member (or resource) over `[occupied_from, occupied_to)`: the
//! appointment widened by the service's buffers. The store writes, in the same DynamoDB
//! `TransactWriteItems` as the booking itself, one conditional item per *lock* of the
//! occupied span, so two bookings whose spans overlap can never both commit.
//!
//! # Cells and blocks
//!
//! Time is cut into 5-minute **cells** ([`CELL_MINUTES`]) and 60-minute **blocks**
//! ([`BLOCK_MINUTES`]), both aligned to the Unix epoch (UTC; every block holds exactly 12
//! cells). A span is first widened to whole cells by [`round_out`]; two bookings conflict
//! exactly when their rounded spans overlap (half-open intervals, so back-to-back spans such
//! as `[9:00, 9:45)` and `[9:45, 10:30)` don't).
//!
//! One item per cell would exceed DynamoDB's 100 items per transaction for long
//! appointments, so [`lock_plan`] uses two levels. For each block the rounded span touches:
//!
//! * the span covers the whole block → [`Lock::Block`]`(h)`: exclusive use of the block;
//! * the span covers part of the block → [`Lock::Share`]`(h)` plus one [`Lock::Cell`]`(t)` for
//!   each cell of the block it covers.
//!
//! Only the first and the last block of a span can be partial, so a plan holds at most
//! `2 × (1 + 11) = 24` items plus one per whole hour in between (a 12-hour appointment with
//! two 24-hour buffers: at most 84).
//!
//! # Conflicts
//!
//! What the database conditions enforce ([`plans_conflict`]):
//!
//! | held \ wanted | `Cell(t)`     | `Block(h)`     | `Share(h)` |
//! |---------------|---------------|----------------|------------|
//! | `Cell(t)`     | conflict      | –              | –          |
//! | `Block(h)`    | –             | conflict       | conflict   |
//! | `Share(h)`    | –             | conflict       | no conflict (shares are a counter) |
//!
//! Two plans conflict if and only if their rounded spans overlap: if both cover a cell of
//! block `h`, either both cover `h` partially (both hold that cell), or one covers it whole
//! (`Block(h)` against the other's `Block(h)` or `Share(h)`); spans that share no cell share
//! no cell lock and never both cover a block.
//!
//! # Database items and operations
//!
//! `Cell(t)` is the item "cell t", which exists while taken. `Block(h)` and `Share(h)` are the
//! *same* item "block h" ([`LockKey::Block`]) with two attributes: `full_by` (the booking that
//! holds the whole block) and `shares` (how many bookings hold part of it). The store turns a
//! plan into per-item operations ([`LockOp`]) with [`take`], [`release`] and, for a
//! reschedule on the same staff member, [`transition`], which releases the old plan and takes
//! the new one in one transaction with at most one operation per item (DynamoDB forbids two
//! operations on one item in a transaction). The conditions each operation must carry:
//!
//! | op | condition | effect |
//! |----|-----------|--------|
//! | [`LockOp::TakeCell`] | the cell item does not exist | create it (holder = booking) |
//! | [`LockOp::ReleaseCell`] | the cell is held by this booking | delete it |
//! | [`LockOp::TakeBlock`] | `full_by` absent and `shares` = 0 (or item absent) | `full_by` = booking |
//! | [`LockOp::ReleaseBlock`] | `full_by` = booking | remove `full_by` |
//! | [`LockOp::AddShare`] | `full_by` absent | `shares` += 1 |
//! | [`LockOp::RemoveShare`] | `shares` ≥ 1 | `shares` −= 1 |
//! | [`LockOp::BlockToShare`] | `full_by` = booking | remove `full_by`, `shares` += 1 |
//! | [`LockOp::ShareToBlock`] | `full_by` absent and `shares` = 1 (ours) | `shares` −= 1, `full_by` = booking |
//!
//! A transition succeeds exactly when the new span overlaps no *other* booking of the staff
//! member: the booking's own old locks never block its new ones.

use std::cmp::{max, min};

use chrono::{DateTime, Utc};

/// Length of a cell, the finest lock granularity, in minutes. Cells are aligned to the Unix
/// epoch.
pub const CELL_MINUTES: i64 = 5;
/// Length of a block in minutes (a whole number of cells). Blocks are aligned to the Unix
/// epoch.
pub const BLOCK_MINUTES: i64 = 60;

const CELL_SECS: i64 = CELL_MINUTES * 60;
const BLOCK_SECS: i64 = BLOCK_MINUTES * 60;
const _: () = assert!(BLOCK_MINUTES % CELL_MINUTES == 0);

/// One lock of a plan. See the [module documentation](self) for the conflict rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lock {
    /// Exclusive use of the 5-minute cell starting at this instant.
    Cell(DateTime<Utc>),
    /// Exclusive use of the whole hour block starting at this instant.
    Block(DateTime<Utc>),
    /// Part of the hour block starting at this instant; the covered cells are held as
    /// [`Lock::Cell`]s.
    Share(DateTime<Utc>),
}

/// A database item holding locks: a cell item, or a block item (which carries both
/// [`Lock::Block`] as `full_by` and [`Lock::Share`] as the `shares` counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockKey {
    Cell(DateTime<Utc>),
    Block(DateTime<Utc>),
}

/// An operation on one lock item, with the condition documented in the
/// [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOp {
    /// Create the cell item; condition: it does not exist.
    TakeCell,
    /// Delete the cell item; condition: held by this booking.
    ReleaseCell,
    /// Set `full_by`; condition: `full_by` absent and no shares.
    TakeBlock,
    /// Remove `full_by`; condition: `full_by` is this booking.
    ReleaseBlock,
    /// Increment `shares`; condition: `full_by` absent.
    AddShare,
    /// Decrement `shares`; condition: `shares` ≥ 1.
    RemoveShare,
    /// Release `full_by` and add a share, on the same item; condition: `full_by` is this
    /// booking.
    BlockToShare,
    /// Remove this booking's share and take `full_by`; condition: `full_by` absent and
    /// `shares` = 1 (the only share is ours).
    ShareToBlock,
}

/// Widens `[from, to)` to whole cells: `from` is floored and `to` ceiled to cell boundaries
/// (seconds and fractions of a second included). An empty or reversed interval
/// (`to <= from`) gives the empty interval `(floor(from), floor(from))`.
pub fn round_out(from: DateTime<Utc>, to: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let (f, t) = round_out_secs(from, to);
    (instant(f), instant(t))
}

/// [`round_out`] in Unix seconds.
pub(crate) fn round_out_secs(from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64) {
    let f = floor_cell(from.timestamp());
    if to <= from {
        return (f, f);
    }
    let to_secs = to.timestamp() + i64::from(to.timestamp_subsec_nanos() > 0);
    (f, ceil_cell(to_secs))
}

/// The cell boundary at or before `secs` (Unix seconds).
pub(crate) fn floor_cell(secs: i64) -> i64 {
    secs.div_euclid(CELL_SECS) * CELL_SECS
}

/// The cell boundary at or after `secs` (Unix seconds).
pub(crate) fn ceil_cell(secs: i64) -> i64 {
    -floor_cell(-secs)
}

/// Whether two rounded (or any) half-open intervals in seconds overlap; empty intervals
/// overlap nothing.
pub(crate) fn spans_overlap(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("lock instants are within chrono's range")
}

/// The locks a booking occupying `[from, to)` must hold, after [`round_out`]: for each hour
/// block the rounded span touches, [`Lock::Block`] if it covers the whole block, else
/// [`Lock::Share`] plus one [`Lock::Cell`] per covered cell. Sorted, without duplicates; empty
/// for an empty span.
pub fn lock_plan(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Lock> {
    let (f, t) = round_out_secs(from, to);
    if f >= t {
        return Vec::new();
    }
    let mut cells = Vec::new();
    let mut blocks = Vec::new();
    let mut shares = Vec::new();
    let mut block = f.div_euclid(BLOCK_SECS) * BLOCK_SECS;
    while block < t {
        let end = block + BLOCK_SECS;
        let (covered_from, covered_to) = (max(f, block), min(t, end));
        if covered_from == block && covered_to == end {
            blocks.push(Lock::Block(instant(block)));
        } else {
            shares.push(Lock::Share(instant(block)));
            cells.extend(
                (covered_from..covered_to)
                    .step_by(CELL_SECS as usize)
                    .map(|cell| Lock::Cell(instant(cell))),
            );
        }
        block = end;
    }
    // Variants order Cell < Block < Share, and each list is increasing: already sorted.
    cells.extend(blocks);
    cells.extend(shares);
    debug_assert!(cells.is_sorted());
    cells
}

/// Whether two plans conflict under the database conditions: the same `Cell`, the same
/// `Block`, or a `Block` against a `Share` of the same hour. Shares never conflict with each
/// other. For plans made by [`lock_plan`] this is exactly "the rounded spans overlap".
pub fn plans_conflict(a: &[Lock], b: &[Lock]) -> bool {
    let mut b_sorted = b.to_vec();
    b_sorted.sort_unstable();
    let holds = |lock: Lock| b_sorted.binary_search(&lock).is_ok();
    a.iter().any(|&lock| match lock {
        Lock::Cell(_) => holds(lock),
        Lock::Block(h) => holds(Lock::Block(h)) || holds(Lock::Share(h)),
        Lock::Share(h) => holds(Lock::Block(h)),
    })
}

/// What one plan holds on one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    Cell,
    Full,
    Share,
}

fn key_of(lock: Lock) -> (LockKey, Hold) {
    match lock {
        Lock::Cell(t) => (LockKey::Cell(t), Hold::Cell),
        Lock::Block(h) => (LockKey::Block(h), Hold::Full),
        Lock::Share(h) => (LockKey::Block(h), Hold::Share),
    }
}

/// The plan as (item, hold) pairs sorted by item. A plan holding both `Block(h)` and
/// `Share(h)` (never made by [`lock_plan`]) keeps `Block(h)` only.
fn holds(plan: &[Lock]) -> Vec<(LockKey, Hold)> {
    let mut holds: Vec<(LockKey, Hold)> = plan.iter().map(|&lock| key_of(lock)).collect();
    holds.sort_by_key(|&(key, hold)| (key, hold != Hold::Full));
    holds.dedup_by_key(|&mut (key, _)| key);
    holds
}

/// The operations that take a plan (a new booking): `TakeCell`, `TakeBlock`, `AddShare`.
/// Sorted by key, one operation per key.
pub fn take(plan: &[Lock]) -> Vec<(LockKey, LockOp)> {
    transition(&[], plan)
}

/// The operations that release a plan (a cancelled booking): `ReleaseCell`, `ReleaseBlock`,
/// `RemoveShare`. Sorted by key, one operation per key.
pub fn release(plan: &[Lock]) -> Vec<(LockKey, LockOp)> {
    transition(plan, &[])
}

/// The operations that release `old` and take `new` in one transaction (a booking moved on
/// the same staff member): one operation per key at most, none for keys both plans hold the
/// same way, sorted by key. A block held whole by one plan and in part by the other becomes
/// [`LockOp::BlockToShare`] / [`LockOp::ShareToBlock`].
///
/// Applied atomically, it has the effect of [`release`]`(old)` followed by [`take`]`(new)`,
/// and its conditions pass exactly when the new span overlaps no other booking.
pub fn transition(old: &[Lock], new: &[Lock]) -> Vec<(LockKey, LockOp)> {
    let (old, new) = (holds(old), holds(new));
    let mut ops = Vec::with_capacity(old.len() + new.len());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let (key, before, after) = match (old.get(i), new.get(j)) {
            (Some(&(a, hold_a)), Some(&(b, hold_b))) if a == b => {
                i += 1;
                j += 1;
                (a, Some(hold_a), Some(hold_b))
            }
            (Some(&(a, hold_a)), Some(&(b, _))) if a < b => {
                i += 1;
                (a, Some(hold_a), None)
            }
            (Some(&(a, hold_a)), None) => {
                i += 1;
                (a, Some(hold_a), None)
            }
            (_, Some(&(b, hold_b))) => {
                j += 1;
                (b, None, Some(hold_b))
            }
            (None, None) => unreachable!("the loop condition"),
        };
        let op = match (before, after) {
            (None, Some(Hold::Cell)) => LockOp::TakeCell,
            (None, Some(Hold::Full)) => LockOp::TakeBlock,
            (None, Some(Hold::Share)) => LockOp::AddShare,
            (Some(Hold::Cell), None) => LockOp::ReleaseCell,
            (Some(Hold::Full), None) => LockOp::ReleaseBlock,
            (Some(Hold::Share), None) => LockOp::RemoveShare,
            (Some(Hold::Full), Some(Hold::Share)) => LockOp::BlockToShare,
            (Some(Hold::Share), Some(Hold::Full)) => LockOp::ShareToBlock,
            // Same hold on both sides (cell keys only ever hold cells).
            _ => continue,
        };
        ops.push((key, op));
    }
    ops
}

#[cfg(test)]
mod tests;
