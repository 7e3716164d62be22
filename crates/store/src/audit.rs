//! The audit log: one hash chain per stream, and book-level checkpoints over every stream's head.
//!
//! Each record belongs to the stream of its target ([`stream_of`]: `loan:ID`, `product:CODE`,
//! `user:NAME`, `token:ID`, `approval:ID`, `book`, `audit`, …) and carries its number in that
//! stream and the previous hash of that stream, so writers to different streams (two loans) never
//! wait for each other. Its hash covers its content, the hash of the events its command appended
//! (and, for a booking, the loan's terms hash) and the previous hash, so changing, removing,
//! inserting or reordering a record, or editing an event or a loan's terms, breaks its stream at
//! a record that [`verify`](verify::verify) names. A heads table holds each stream's last number
//! and hash, so deleting a stream's newest records is caught too.
//!
//! A checkpoint ([`CheckpointRecord`]) is a keyed hash over every stream's head (stream, number,
//! hash), chained to the checkpoint before it and stored with the heads it covered; each is
//! also an audit record of the `audit` stream and an outbox message on `audit.checkpoint`, to
//! keep outside the database. Verification checks that every head a checkpoint covered is still
//! a record of its stream with that hash, so cutting a stream back (records and head together)
//! or dropping a whole stream is caught once a checkpoint covered it.
//!
//! Records written before streams existed form one chain; the migration made it the `book`
//! stream's beginning, numbers unchanged (they are what was hashed), and new `book` records
//! continue it. No record is resealed.
//!
//! Records are sealed with HMAC-SHA256 under a key kept outside the database ([`AuditKey`]), so
//! someone who can write to the database alone cannot recompute the hashes after an edit. Three
//! schemes exist, and a chain is an unkeyed prefix followed by keyed records:
//! - `sha256`: records written before keyed chains existed (SHA-256, no content hashes);
//! - `sha256-v2`: records written by a store opened without a key (tests, development);
//! - `hmac-sha256`: records sealed with the key whose fingerprint is the record's `key_id`.
//!
//! Within a stream, an unkeyed record after a keyed one is a break: it can only be a keyed
//! record rewritten. A store with a key never writes unkeyed records, and one without a key
//! refuses to write once any stream is keyed.

mod verify;

use std::str::FromStr;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StoreError;

pub use verify::{
    ApplicationEventRow, ChainBreak, EventRow, Evidence, KeyRequired, StoredTerms, Verified,
    verify, verify_chain,
};

/// The audit facts of one command; the store numbers and chains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// SHA-256 of the request as received.
    pub request_digest: String,
    /// Ids of the events the command appended (`loan_id:seq`; `application_id:seq` in an
    /// application's stream).
    pub event_ids: Vec<String>,
}

/// The stream a record of `target` belongs to: `kind:id` for `kind/id[/…]` (`loan/L1` →
/// `loan:L1`), and the book and the audit log itself as one stream each (`book`, `audit`).
pub fn stream_of(target: &str) -> String {
    let mut parts = target.splitn(3, '/');
    let kind = parts.next().unwrap_or_default();
    match (kind, parts.next()) {
        ("book" | "audit", _) | (_, None) => kind.to_owned(),
        (_, Some(id)) => format!("{kind}:{id}"),
    }
}

/// The stream that continues the chain written before streams existed.
pub const BOOK_STREAM: &str = "book";

/// The hash before the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Records written before keyed chains: SHA-256 over the entry, no content hashes.
pub const SCHEME_LEGACY: &str = "sha256";
/// Records written by a store without a key: SHA-256 over the entry and its content hashes.
pub const SCHEME_UNKEYED: &str = "sha256-v2";
/// Records sealed with HMAC-SHA256 under the audit key.
pub const SCHEME_KEYED: &str = "hmac-sha256";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The record's position in the whole log, in write order: for paging. Not hashed, and
    /// PostgreSQL may leave gaps (a rolled-back write); the stream numbers are what is chained.
    pub seq: i64,
    /// The stream it belongs to ([`stream_of`] its target; `book` for records written before
    /// streams existed).
    pub stream: String,
    /// Its number in its stream, from 1: hashed.
    pub stream_seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// SHA-256 (hex) over the events the command appended (loan or application, seq, value
    /// date, event JSON); empty when it appended none. Computed by the store from what it wrote.
    pub content_hash: String,
    /// For a booking: the booked loan's terms hash.
    pub terms_hash: Option<String>,
    /// How `hash` was made: [`SCHEME_LEGACY`], [`SCHEME_UNKEYED`] or [`SCHEME_KEYED`].
    pub scheme: String,
    /// For keyed records, the fingerprint of the key ([`AuditKey::id`]).
    pub key_id: Option<String>,
    /// The hash of the record before it in its stream.
    pub prev_hash: String,
    pub hash: String,
}

/// A stream's head as stored: its last record's number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StreamHead {
    pub stream: String,
    pub seq: i64,
    pub hash: String,
    pub scheme: String,
}

/// A checkpoint seen at some time and kept elsewhere: `SEQ:HASH`, its number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

impl FromStr for Checkpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Checkpoint, String> {
        let (seq, hash) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not SEQ:HASH"))?;
        let seq: i64 = seq
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("`{seq}` is not a record number from 1"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{hash}` is not a hash of 64 hex digits"));
        }
        Ok(Checkpoint {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// What a checkpoint command wrote: its number and hash, how many streams and records it
/// covered, and when. (The heads it covered are stored with it, see [`StoredCheckpoint`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub seq: i64,
    pub hash: String,
    pub streams: i64,
    /// The records in the log then.
    pub count: i64,
    pub at: String,
}

/// One stream's head as a checkpoint covered it: `(stream, seq, hash)`.
pub type CoveredHead = (String, i64, String);

/// A checkpoint as stored: the heads it covered, chained to the checkpoint before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    pub seq: i64,
    pub at: String,
    /// Sorted by stream.
    pub heads: Vec<CoveredHead>,
    pub records: i64,
    pub scheme: String,
    pub key_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The canonical body of a checkpoint.
fn checkpoint_body(c: &StoredCheckpoint) -> Vec<u8> {
    #[derive(Serialize)]
    struct Hashed<'a> {
        seq: i64,
        at: &'a str,
        heads: &'a [CoveredHead],
        records: i64,
        scheme: &'a str,
        key_id: Option<&'a str>,
    }
    let mut body = b"loanbook audit checkpoint\n".to_vec();
    body.extend(c.prev_hash.as_bytes());
    body.push(b'\n');
    body.extend(
        serde_json::to_vec(&Hashed {
            seq: c.seq,
            at: &c.at,
            heads: &c.heads,
            records: c.records,
            scheme: &c.scheme,
            key_id: c.key_id.as_deref(),
        })
        .unwrap_or_default(),
    );
    body
}

/// The hash a checkpoint must carry under its scheme: `None` for a scheme checkpoints do not
/// use.
fn checkpoint_hash(c: &StoredCheckpoint, key: Option<&AuditKey>) -> Option<String> {
    let body = checkpoint_body(c);
    match (c.scheme.as_str(), key) {
        (SCHEME_UNKEYED, _) => Some(hex::encode(Sha256::digest(&body))),
        (SCHEME_KEYED, Some(k)) => Some(hmac_hex(k, &body)),
        _ => None,
    }
}

/// Seal the next checkpoint over `heads` (sorted here), after the one whose hash is `prev_hash`.
pub fn seal_checkpoint(
    prev_hash: &str,
    seq: i64,
    at: &str,
    mut heads: Vec<CoveredHead>,
    records: i64,
    key: Option<&AuditKey>,
) -> StoredCheckpoint {
    heads.sort();
    let mut c = StoredCheckpoint {
        seq,
        at: at.to_owned(),
        heads,
        records,
        scheme: if key.is_some() {
            SCHEME_KEYED
        } else {
            SCHEME_UNKEYED
        }
        .to_owned(),
        key_id: key.map(AuditKey::id),
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    c.hash = checkpoint_hash(&c, key).unwrap_or_default();
    c
}

/// The key the chain is sealed with: 32 bytes, kept outside the database.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an audit key is 64 hex digits (32 bytes)")]
pub struct BadAuditKey;

impl AuditKey {
    /// A new random key.
    pub fn generate() -> AuditKey {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        AuditKey(bytes)
    }

    /// Parse 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<AuditKey, BadAuditKey> {
        let bytes = hex::decode(text.trim()).map_err(|_| BadAuditKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| BadAuditKey)?;
        Ok(AuditKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A fingerprint that names the key in records without revealing it.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"loanbook audit key id\n");
        h.update(self.0);
        hex::encode(h.finalize())[..16].to_owned()
    }
}

/// SHA-256 (hex) of a loan's terms as stored: what its `terms_hash` must be.
pub fn terms_digest(terms: &str) -> String {
    hex::encode(Sha256::digest(terms.as_bytes()))
}

/// One appended event, as hashed into its command's audit record. An application's event is
/// hashed the same way, with its application's id as `loan_id` and an empty `value_date`
/// (application events carry none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts<'a> {
    /// The loan's id (the application's, for an application's event).
    pub loan_id: &'a str,
    pub seq: i64,
    pub value_date: &'a str,
    pub event: &'a str,
}

/// SHA-256 (hex) over the events a command appended, in order; empty for none.
pub fn content_hash(events: &[EventFacts<'_>]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let rows: Vec<(&str, i64, &str, &str)> = events
        .iter()
        .map(|e| (e.loan_id, e.seq, e.value_date, e.event))
        .collect();
    // A JSON array of arrays: unambiguous whatever the strings contain.
    let body = serde_json::to_vec(&rows).unwrap_or_default();
    hex::encode(Sha256::digest(&body))
}

/// The legacy (`sha256`) hash: SHA-256 (hex) of the previous hash and the entry's canonical JSON.
pub fn chain_hash(prev_hash: &str, seq: i64, entry: &AuditEntry) -> String {
    /// The hashed form. A struct, not a JSON map, so the field order is fixed by this
    /// declaration whatever features serde_json is built with.
    #[derive(Serialize)]
    struct Hashed<'a> {
        seq: i64,
        at: &'a str,
        actor: &'a str,
        action: &'a str,
        target: &'a str,
        request_digest: &'a str,
        event_ids: &'a [String],
    }
    let body = serde_json::to_vec(&Hashed {
        seq,
        at: &entry.at,
        actor: &entry.actor,
        action: &entry.action,
        target: &entry.target,
        request_digest: &entry.request_digest,
        event_ids: &entry.event_ids,
    })
    .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(&body);
    hex::encode(h.finalize())
}

/// The canonical body of a `sha256-v2` or `hmac-sha256` record.
pub(crate) fn body_v2(r: &AuditRecord) -> Vec<u8> {
    #[derive(Serialize)]
    struct Hashed<'a> {
        seq: i64,
        at: &'a str,
        actor: &'a str,
        action: &'a str,
        target: &'a str,
        request_digest: &'a str,
        event_ids: &'a [String],
        content_hash: &'a str,
        terms_hash: Option<&'a str>,
        scheme: &'a str,
        key_id: Option<&'a str>,
    }
    let mut body = r.prev_hash.as_bytes().to_vec();
    body.push(b'\n');
    body.extend(
        serde_json::to_vec(&Hashed {
            seq: r.stream_seq,
            at: &r.entry.at,
            actor: &r.entry.actor,
            action: &r.entry.action,
            target: &r.entry.target,
            request_digest: &r.entry.request_digest,
            event_ids: &r.entry.event_ids,
            content_hash: &r.content_hash,
            terms_hash: r.terms_hash.as_deref(),
            scheme: &r.scheme,
            key_id: r.key_id.as_deref(),
        })
        .unwrap_or_default(),
    );
    body
}

pub(crate) fn hmac_hex(key: &AuditKey, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key.0) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Build the next record of its target's stream, numbered `seq` in it, after `prev_hash`:
/// keyed when there is a key. Its position in the whole log (`seq`) is the database's to give.
pub fn seal(
    prev_hash: &str,
    seq: i64,
    entry: &AuditEntry,
    content_hash: String,
    terms_hash: Option<String>,
    key: Option<&AuditKey>,
) -> AuditRecord {
    let mut r = AuditRecord {
        seq: 0,
        stream: stream_of(&entry.target),
        stream_seq: seq,
        entry: entry.clone(),
        content_hash,
        terms_hash,
        scheme: if key.is_some() {
            SCHEME_KEYED
        } else {
            SCHEME_UNKEYED
        }
        .to_owned(),
        key_id: key.map(AuditKey::id),
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    let body = body_v2(&r);
    r.hash = match key {
        Some(k) => hmac_hex(k, &body),
        None => hex::encode(Sha256::digest(&body)),
    };
    r
}

/// The audit log: its records, its streams' heads, verification and checkpoints. (Each write
/// appends its record in its own transaction, so appending is not here.)
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// The audit log in write order.
    async fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError>;
    /// Every stream's head, by stream.
    async fn audit_heads(&self) -> Result<Vec<StreamHead>, StoreError>;
    /// The newest record written, if any.
    async fn audit_newest(&self) -> Result<Option<AuditRecord>, StoreError>;
    /// Whether any stream is sealed with a key (a store without a key then refuses to write).
    async fn audit_keyed(&self) -> Result<bool, StoreError>;
    /// Audit records after position `after`, in write order, at most `limit` (1 to 1000).
    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;
    /// The stored checkpoints, oldest first.
    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
    /// Check the log from one snapshot: every stream's records against their hashes (keyed with
    /// this store's key) and its head, every stored checkpoint and the heads it covered, the
    /// given checkpoint kept elsewhere, the events each command appended and each loan's terms.
    /// `Err(KeyRequired)` inside when the log is keyed and this store has no key.
    async fn verify_audit(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Result<Result<Verified, ChainBreak>, KeyRequired>, StoreError>;
    /// Write a checkpoint over every stream's head, store it with those heads, send it as an
    /// outbox message on `audit.checkpoint` and append its own audit record (`audit` is that
    /// record; its target is set to `audit/SEQ:HASH`).
    async fn audit_checkpoint(
        &self,
        audit: &AuditEntry,
        outbox_id: &str,
    ) -> Result<CheckpointRecord, StoreError>;
}
