//! DynamoDB adapter of [`BookingStore`] (items and keys: docs/data-model.md, docs/booking.md).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use frontdesk_rules::locks::{self, LockKey, LockOp};
use frontdesk_rules::slots::Busy;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use serde_json::Value;

use super::{
    Booking, BookingError, BookingStatus, BookingStore, CallLog, Caps, ContactUpdate, Move, Written,
};
use crate::dynamo::{self, MAX_TRANSACTION_ITEMS, TxFailure, key, n, s};
use crate::idempotency::{IdemKey, Idempotency, Replay};
use crate::keys;

/// How far before a queried range a booking's occupied span may start (buffers of up to a day
/// each side plus a 12-hour service fit well inside).
const LOOKBEHIND_DAYS: i64 = 3;
/// Lock, cap and schedule items are kept this long after the time they describe (TTL).
const KEEP_AFTER_DAYS: i64 = 30;

#[derive(Clone)]
pub struct DynamoBookings {
    client: Client,
    table: String,
    idem: Idempotency,
}

impl DynamoBookings {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Self {
            idem: Idempotency::new(client.clone(), table.clone()),
            client,
            table,
        }
    }

    pub fn idempotency(&self) -> &Idempotency {
        &self.idem
    }
}

fn unavailable(e: impl std::error::Error) -> BookingError {
    BookingError::Unavailable(DisplayErrorContext(e).to_string())
}
fn expiry(at: DateTime<Utc>) -> AttributeValue {
    n((at + Duration::days(KEEP_AFTER_DAYS)).timestamp())
}

/// The stored booking item: the booking plus its keys.
#[derive(Serialize, Deserialize)]
struct BookingItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    booking: Booking,
}

impl BookingItem {
    fn new(b: &Booking) -> Self {
        Self {
            pk: keys::business_pk(&b.business_id),
            sk: keys::booking_sk(&b.booking_id),
            gsi1pk: keys::phone_gsi1pk(&b.business_id, &b.customer.phone),
            gsi1sk: format!("BOOKING#{}", keys::ts(b.start)),
            booking: b.clone(),
        }
    }
}

/// The schedule entry: what availability needs, sorted by occupied start.
#[derive(Serialize, Deserialize)]
struct ScheduleItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    busy: Busy,
    expires_at: i64,
}

impl ScheduleItem {
    fn new(business_id: &str, busy: Busy) -> Self {
        Self {
            pk: keys::business_pk(business_id),
            sk: keys::schedule_sk(busy.occupied_from, &busy.booking_id),
            expires_at: (busy.occupied_to + Duration::days(KEEP_AFTER_DAYS)).timestamp(),
            busy,
        }
    }
}

/// What each item of a transaction stands for, to explain a cancellation.
#[derive(Clone, Debug, PartialEq)]
enum Role {
    Lock,
    DailyCap,
    StaffCap,
    Idempotency,
    /// A new booking item (`attribute_not_exists`): fails only on an id collision.
    NewBooking,
    /// A change of an existing booking (version and status checked).
    Booking,
    Other,
}

struct Tx {
    items: Vec<(Role, TransactWriteItem)>,
}

impl Tx {
    fn new() -> Self {
        Self { items: vec![] }
    }
    fn put(&mut self, role: Role, put: Put) {
        self.items
            .push((role, TransactWriteItem::builder().put(put).build()));
    }
    fn update(&mut self, role: Role, update: Update) {
        self.items
            .push((role, TransactWriteItem::builder().update(update).build()));
    }
    fn delete(&mut self, role: Role, delete: Delete) {
        self.items
            .push((role, TransactWriteItem::builder().delete(delete).build()));
    }
}

impl DynamoBookings {
    fn lock_op(
        &self,
        business_id: &str,
        staff_id: &str,
        booking_id: &str,
        lock_key: LockKey,
        op: LockOp,
    ) -> TransactWriteItem {
        let pk = keys::staff_locks_pk(business_id, staff_id);
        let bid = s(booking_id);
        match (lock_key, op) {
            (LockKey::Cell(at), LockOp::TakeCell) => {
                let mut item = key(pk, keys::cell_sk(at));
                item.insert("booking_id".into(), bid);
                item.insert(keys::EXPIRES_AT.into(), expiry(at));
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .expect("put"),
                    )
                    .build()
            }
            (LockKey::Cell(at), _) => TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, keys::cell_sk(at))))
                        .condition_expression("booking_id = :bid")
                        .expression_attribute_values(":bid", bid)
                        .build()
                        .expect("delete"),
                )
                .build(),
            (LockKey::Block(at), op) => {
                let (expr, cond, values): (&str, &str, Vec<(&str, AttributeValue)>) = match op {
                    LockOp::TakeBlock => (
                        "SET full_by = :bid, expires_at = :exp",
                        "attribute_not_exists(full_by) AND (attribute_not_exists(shares) OR shares = :zero)",
                        vec![(":bid", bid), (":exp", expiry(at)), (":zero", n(0))],
                    ),
                    LockOp::ReleaseBlock => {
                        ("REMOVE full_by", "full_by = :bid", vec![(":bid", bid)])
                    }
                    LockOp::AddShare => (
                        "SET expires_at = :exp ADD shares :one",
                        "attribute_not_exists(full_by)",
                        vec![(":exp", expiry(at)), (":one", n(1))],
                    ),
                    LockOp::RemoveShare => (
                        "ADD shares :minus",
                        "shares >= :one",
                        vec![(":minus", n(-1)), (":one", n(1))],
                    ),
                    LockOp::BlockToShare => (
                        "REMOVE full_by ADD shares :one",
                        "full_by = :bid",
                        vec![(":bid", bid), (":one", n(1))],
                    ),
                    LockOp::ShareToBlock => (
                        "SET full_by = :bid ADD shares :minus",
                        "attribute_not_exists(full_by) AND shares = :one",
                        vec![(":bid", bid), (":minus", n(-1)), (":one", n(1))],
                    ),
                    LockOp::TakeCell | LockOp::ReleaseCell => {
                        unreachable!("cell operations on a block key")
                    }
                };
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, keys::block_sk(at))))
                    .update_expression(expr)
                    .condition_expression(cond);
                for (name, value) in values {
                    update = update.expression_attribute_values(name, value);
                }
                TransactWriteItem::builder()
                    .update(update.build().expect("update"))
                    .build()
            }
        }
    }

    fn push_locks(&self, tx: &mut Tx, b: &Booking, ops: Vec<(LockKey, LockOp)>, staff_id: &str) {
        for (k, op) in ops {
            tx.items.push((
                Role::Lock,
                self.lock_op(&b.business_id, staff_id, &b.booking_id, k, op),
            ));
        }
    }

    /// +1 (with the cap as condition) or -1 on a daily counter.
    fn cap_update(
        &self,
        business_id: &str,
        sk: String,
        delta: i64,
        cap: Option<u32>,
        date: NaiveDate,
    ) -> Update {
        let exp = date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or_else(Utc::now);
        let mut u = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::business_pk(business_id), sk)))
            .update_expression("SET expires_at = :exp ADD #n :delta")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":delta", n(delta))
            .expression_attribute_values(":exp", expiry(exp));
        if delta > 0
            && let Some(cap) = cap
        {
            u = u
                .condition_expression("attribute_not_exists(#n) OR #n < :cap")
                .expression_attribute_values(":cap", n(cap));
        }
        u.build().expect("update")
    }

    fn push_caps(
        &self,
        tx: &mut Tx,
        business_id: &str,
        staff_id: &str,
        date: NaiveDate,
        delta: i64,
        caps: Caps,
    ) {
        tx.update(
            Role::DailyCap,
            self.cap_update(business_id, keys::cap_sk(date), delta, caps.daily, date),
        );
        tx.update(
            Role::StaffCap,
            self.cap_update(
                business_id,
                keys::staff_cap_sk(date, staff_id),
                delta,
                caps.staff_daily,
                date,
            ),
        );
    }

    /// The booking item; `changing` = an existing booking at `version`, still booked.
    fn booking_put(&self, b: &Booking, changing: Option<u64>) -> Result<Put, BookingError> {
        let item =
            to_item(BookingItem::new(b)).map_err(|e| BookingError::Unavailable(e.to_string()))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = match changing {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("version = :v AND #status = :booked")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":v", n(version))
                .expression_attribute_values(":booked", s("booked")),
        };
        Ok(put.build().expect("put"))
    }

    fn schedule_put(&self, b: &Booking) -> Result<Put, BookingError> {
        let item = to_item(ScheduleItem::new(&b.business_id, b.busy()))
            .map_err(|e| BookingError::Unavailable(e.to_string()))?;
        Ok(Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .expect("put"))
    }

    fn schedule_delete(&self, b: &Booking) -> Delete {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::business_pk(&b.business_id),
                keys::schedule_sk(b.occupied_from, &b.booking_id),
            )))
            .build()
            .expect("delete")
    }

    fn contact_update(
        &self,
        business_id: &str,
        c: &super::Customer,
        conversation_id: Option<&str>,
        bookings: i64,
        now: DateTime<Utc>,
    ) -> Update {
        let mut set = vec![
            "#name = :name",
            "phone = :phone",
            "gsi1pk = :g1pk",
            "gsi1sk = :g1sk",
            "updated_at = :now",
            "created_at = if_not_exists(created_at, :now)",
        ];
        let mut u = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::business_pk(business_id),
                keys::contact_sk(&c.phone),
            )))
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(&c.name))
            .expression_attribute_values(":phone", s(&c.phone))
            .expression_attribute_values(":g1pk", s(keys::phone_gsi1pk(business_id, &c.phone)))
            .expression_attribute_values(":g1sk", s("CONTACT"))
            .expression_attribute_values(":now", s(now.to_rfc3339()));
        if let Some(email) = &c.email {
            set.push("email = :email");
            u = u.expression_attribute_values(":email", s(email));
        }
        if let Some(conv) = conversation_id {
            set.push("last_conversation_id = :conv");
            u = u.expression_attribute_values(":conv", s(conv));
        }
        let mut expr = format!("SET {}", set.join(", "));
        if bookings != 0 {
            expr.push_str(" ADD bookings :b");
            u = u.expression_attribute_values(":b", n(bookings));
        }
        u.update_expression(expr).build().expect("update")
    }

    /// Runs the transaction; a cancellation becomes the error of the first item that failed
    /// (or the replay of the stored answer when only the idempotency record failed).
    async fn run(
        &self,
        tx: Tx,
        idem: &IdemKey,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError> {
        if tx.items.len() > MAX_TRANSACTION_ITEMS {
            return Err(BookingError::TooLarge(tx.items.len()));
        }
        match dynamo::transact(&self.client, tx.items).await {
            Ok(()) => Ok(Written::Fresh),
            Err(TxFailure::Cancelled(cancelled)) => explain(&cancelled, idem, id, now),
            Err(TxFailure::Unavailable(e)) => Err(BookingError::Unavailable(e)),
        }
    }
}

fn explain(
    cancelled: &[(Role, CancellationReason)],
    idem: &IdemKey,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Written, BookingError> {
    // The idempotency record first: a replay also fails the other conditions (the first run
    // holds the locks), and must answer with the first result, not "slot taken".
    for (role, reason) in cancelled {
        if *role == Role::Idempotency && reason.code() == Some("ConditionalCheckFailed") {
            return match Idempotency::explain(idem, reason.item(), now) {
                Replay::Completed(v) => Ok(Written::Replayed(v)),
                Replay::Error(e) => Err(e.into()),
            };
        }
    }
    let Some((role, reason, code)) = dynamo::first_failure(cancelled) else {
        return Err(BookingError::Unavailable(format!(
            "transaction for booking {id} cancelled without a reason"
        )));
    };
    Err(match (role, code) {
        (Role::Lock, "ConditionalCheckFailed") => BookingError::SlotTaken,
        (Role::DailyCap, "ConditionalCheckFailed") => BookingError::DailyCapReached,
        (Role::StaffCap, "ConditionalCheckFailed") => BookingError::StaffCapReached,
        (Role::NewBooking, "ConditionalCheckFailed") => BookingError::IdTaken(id.to_owned()),
        (Role::Booking, "ConditionalCheckFailed") => match reason.item() {
            None => BookingError::NotFound(id.to_owned()),
            Some(_) => BookingError::Stale(id.to_owned()),
        },
        // Still conflicting after the retries: another writer holds one of the locks now.
        (Role::Lock, "TransactionConflict") => BookingError::SlotTaken,
        (_, "TransactionConflict") => BookingError::Stale(id.to_owned()),
        (role, code) => BookingError::Unavailable(format!("{role:?} item: {code}; retry")),
    })
}

#[async_trait]
impl BookingStore for DynamoBookings {
    async fn busy(
        &self,
        business_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Busy>, BookingError> {
        let lo = format!(
            "{}{}",
            keys::SCHEDULE_PREFIX,
            keys::ts(from - Duration::days(LOOKBEHIND_DAYS))
        );
        let hi = format!("{}{}~", keys::SCHEDULE_PREFIX, keys::ts(to));
        let mut out = vec![];
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(keys::business_pk(business_id)))
                .expression_attribute_values(":lo", s(lo.clone()))
                .expression_attribute_values(":hi", s(hi.clone()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                let entry: ScheduleItem = from_item(item.clone())
                    .map_err(|e| BookingError::Unavailable(format!("bad schedule item: {e}")))?;
                if entry.busy.occupied_to > from {
                    out.push(entry.busy);
                }
            }
            start_key = page.last_evaluated_key().cloned();
            if start_key.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        b: &Booking,
        caps: Caps,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError> {
        let mut tx = Tx::new();
        tx.put(
            Role::Idempotency,
            self.idem.completed_put(idem, answer, now),
        );
        self.push_locks(&mut tx, b, locks::take(&b.locks), &b.staff_id);
        tx.put(Role::NewBooking, self.booking_put(b, None)?);
        tx.put(Role::Other, self.schedule_put(b)?);
        self.push_caps(&mut tx, &b.business_id, &b.staff_id, b.local_date, 1, caps);
        tx.update(
            Role::Other,
            self.contact_update(
                &b.business_id,
                &b.customer,
                b.conversation_id.as_deref(),
                1,
                now,
            ),
        );
        self.run(tx, idem, &b.booking_id, now).await
    }

    async fn completed(
        &self,
        idem: &IdemKey,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, BookingError> {
        Ok(self
            .idem
            .get(idem, now)
            .await?
            .filter(|r| {
                r.status == crate::idempotency::STATUS_COMPLETED
                    && r.payload_hash == idem.payload_hash
            })
            .and_then(|r| r.result))
    }

    async fn get(
        &self,
        business_id: &str,
        booking_id: &str,
    ) -> Result<Option<Booking>, BookingError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::business_pk(business_id),
                keys::booking_sk(booking_id),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                let item: BookingItem = from_item(item)
                    .map_err(|e| BookingError::Unavailable(format!("bad booking item: {e}")))?;
                Ok(Some(item.booking))
            }
        }
    }

    async fn upcoming_for_phone(
        &self,
        business_id: &str,
        e164: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Booking>, BookingError> {
        // Bookings are indexed by start; one that started less than a day ago may still run.
        let lo = format!("BOOKING#{}", keys::ts(now - Duration::days(1)));
        let mut out = vec![];
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(keys::phone_gsi1pk(business_id, e164)))
                .expression_attribute_values(":lo", s(lo.clone()))
                .expression_attribute_values(":hi", s("BOOKING#~"))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                let item: BookingItem = from_item(item.clone())
                    .map_err(|e| BookingError::Unavailable(format!("bad booking item: {e}")))?;
                let b = item.booking;
                if b.status == BookingStatus::Booked && b.end > now {
                    out.push(b);
                }
            }
            start_key = page.last_evaluated_key().cloned();
            if start_key.is_none() {
                break;
            }
        }
        out.sort_by_key(|b| b.start);
        Ok(out)
    }

    async fn reschedule(
        &self,
        current: &Booking,
        to: &Move,
        caps: Caps,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError> {
        let mut moved = current.clone();
        moved.start = to.slot.start;
        moved.end = to.slot.end;
        moved.occupied_from = to.slot.occupied_from;
        moved.occupied_to = to.slot.occupied_to;
        moved.staff_id = to.slot.staff_id.clone();
        moved.staff_name = to.staff_name.clone();
        moved.local_date = to.local_date;
        moved.locks = to.locks.clone();
        moved.updated_at = now;
        moved.version = current.version + 1;

        let mut tx = Tx::new();
        tx.put(
            Role::Idempotency,
            self.idem.completed_put(idem, answer, now),
        );
        if moved.staff_id == current.staff_id {
            self.push_locks(
                &mut tx,
                current,
                locks::transition(&current.locks, &moved.locks),
                &current.staff_id,
            );
        } else {
            self.push_locks(
                &mut tx,
                current,
                locks::release(&current.locks),
                &current.staff_id,
            );
            self.push_locks(&mut tx, current, locks::take(&moved.locks), &moved.staff_id);
        }
        tx.put(
            Role::Booking,
            self.booking_put(&moved, Some(current.version))?,
        );
        let old_sched = keys::schedule_sk(current.occupied_from, &current.booking_id);
        let new_sched = keys::schedule_sk(moved.occupied_from, &moved.booking_id);
        if old_sched != new_sched {
            tx.delete(Role::Other, self.schedule_delete(current));
        }
        tx.put(Role::Other, self.schedule_put(&moved)?);
        if (current.local_date, &current.staff_id) != (moved.local_date, &moved.staff_id) {
            if current.local_date != moved.local_date {
                tx.update(
                    Role::DailyCap,
                    self.cap_update(
                        &current.business_id,
                        keys::cap_sk(current.local_date),
                        -1,
                        None,
                        current.local_date,
                    ),
                );
                tx.update(
                    Role::DailyCap,
                    self.cap_update(
                        &current.business_id,
                        keys::cap_sk(moved.local_date),
                        1,
                        caps.daily,
                        moved.local_date,
                    ),
                );
            }
            tx.update(
                Role::StaffCap,
                self.cap_update(
                    &current.business_id,
                    keys::staff_cap_sk(current.local_date, &current.staff_id),
                    -1,
                    None,
                    current.local_date,
                ),
            );
            tx.update(
                Role::StaffCap,
                self.cap_update(
                    &current.business_id,
                    keys::staff_cap_sk(moved.local_date, &moved.staff_id),
                    1,
                    caps.staff_daily,
                    moved.local_date,
                ),
            );
        }
        self.run(tx, idem, &current.booking_id, now).await
    }

    async fn cancel(
        &self,
        current: &Booking,
        reason: Option<&str>,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError> {
        let mut cancelled = current.clone();
        cancelled.status = BookingStatus::Cancelled;
        cancelled.cancel_reason = reason.map(str::to_owned);
        cancelled.updated_at = now;
        cancelled.version = current.version + 1;
        let mut tx = Tx::new();
        tx.put(
            Role::Idempotency,
            self.idem.completed_put(idem, answer, now),
        );
        self.push_locks(
            &mut tx,
            current,
            locks::release(&current.locks),
            &current.staff_id,
        );
        tx.put(
            Role::Booking,
            self.booking_put(&cancelled, Some(current.version))?,
        );
        tx.delete(Role::Other, self.schedule_delete(current));
        self.push_caps(
            &mut tx,
            &current.business_id,
            &current.staff_id,
            current.local_date,
            -1,
            Caps::default(),
        );
        self.run(tx, idem, &current.booking_id, now).await
    }

    async fn upsert_contact(
        &self,
        contact: &ContactUpdate,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError> {
        let mut tx = Tx::new();
        tx.put(
            Role::Idempotency,
            self.idem.completed_put(idem, answer, now),
        );
        tx.update(
            Role::Other,
            self.contact_update(
                &contact.business_id,
                &contact.customer,
                contact.conversation_id.as_deref(),
                0,
                now,
            ),
        );
        self.run(tx, idem, &contact.customer.phone, now).await
    }

    async fn log_call(
        &self,
        log: &CallLog,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError> {
        let pk = keys::call_pk(&log.business_id, &log.call_id);
        let mut activity = to_item(log).map_err(|e| BookingError::Unavailable(e.to_string()))?;
        activity.insert(keys::PK.into(), s(pk.clone()));
        activity.insert(
            keys::SK.into(),
            s(format!(
                "ACTIVITY#{}#{}",
                keys::ts(log.logged_at),
                &idem.key[..12]
            )),
        );
        activity.insert("kind".into(), s("agent_log"));
        let mut tx = Tx::new();
        tx.put(
            Role::Idempotency,
            self.idem.completed_put(idem, answer, now),
        );
        tx.put(
            Role::Other,
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(activity))
                .build()
                .expect("put"),
        );
        let mut set = vec![
            "agent_disposition = :d",
            "updated_at = :now",
            "business_id = :biz",
            "call_id = :call",
        ];
        let mut u = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, keys::CALL_SK.to_owned())))
            .expression_attribute_values(":d", s(&log.disposition))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":biz", s(&log.business_id))
            .expression_attribute_values(":call", s(&log.call_id));
        if let Some(summary) = &log.summary {
            set.push("agent_summary = :sum");
            u = u.expression_attribute_values(":sum", s(summary));
        }
        if let Some(url) = &log.transcript_url {
            set.push("transcript_url = :url");
            u = u.expression_attribute_values(":url", s(url));
        }
        tx.update(
            Role::Other,
            u.update_expression(format!("SET {}", set.join(", ")))
                .build()
                .expect("update"),
        );
        self.run(tx, idem, &log.call_id, now).await
    }
}
