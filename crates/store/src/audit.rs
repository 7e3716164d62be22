//! The audit log's hash chain. Each record's hash covers its content, the hash of the events its
//! command appended (and, for a booking, the loan's terms hash) and the previous record's hash,
//! so changing, removing, inserting or reordering a record, or editing an event or a loan's
//! terms, breaks the chain at a record that [`verify`] names.
//!
//! Records are sealed with HMAC-SHA256 under a key kept outside the database ([`AuditKey`]), so
//! someone who can write to the database alone cannot recompute the hashes after an edit. Three
//! schemes exist, and a chain is an unkeyed prefix followed by keyed records:
//! - `sha256`: records written before keyed chains existed (SHA-256, no content hashes);
//! - `sha256-v2`: records written by a store opened without a key (tests, development);
//! - `hmac-sha256`: records sealed with the key whose fingerprint is the record's `key_id`.
//!
//! An unkeyed record after a keyed one is a break: it can only be a keyed record rewritten.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuditEntry;

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
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// SHA-256 (hex) over the events the command appended (loan, seq, value date, event JSON);
    /// empty when it appended none. Computed by the store from what it wrote.
    pub content_hash: String,
    /// For a booking: the booked loan's terms hash.
    pub terms_hash: Option<String>,
    /// How `hash` was made: [`SCHEME_LEGACY`], [`SCHEME_UNKEYED`] or [`SCHEME_KEYED`].
    pub scheme: String,
    /// For keyed records, the fingerprint of the key ([`AuditKey::id`]).
    pub key_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain's head as stored: the last record's number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    pub scheme: String,
}

/// A head seen at some time and kept elsewhere: `SEQ:HASH`.
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

/// What a checkpoint command wrote: the head it covers, the count of records then, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub seq: i64,
    pub hash: String,
    pub count: i64,
    pub at: String,
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

/// One appended event, as hashed into its command's audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts<'a> {
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
fn body_v2(r: &AuditRecord) -> Vec<u8> {
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
            seq: r.seq,
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

fn hmac_hex(key: &AuditKey, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key.0) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Build the next record after `prev_hash`: keyed when there is a key.
pub fn seal(
    prev_hash: &str,
    seq: i64,
    entry: &AuditEntry,
    content_hash: String,
    terms_hash: Option<String>,
    key: Option<&AuditKey>,
) -> AuditRecord {
    let mut r = AuditRecord {
        seq,
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

/// The first record that does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq} is broken: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

fn broken(seq: i64, reason: impl Into<String>) -> ChainBreak {
    ChainBreak {
        seq,
        reason: reason.into(),
    }
}

/// Keyed records were found but no key was given to check them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "audit record {seq} is sealed with a key (id {key_id}): give the audit key to verify the chain"
)]
pub struct KeyRequired {
    pub seq: i64,
    pub key_id: String,
}

/// A loan's terms as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTerms {
    pub loan_id: String,
    pub terms: String,
    pub terms_hash: String,
}

/// One row of `loan_events` as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub loan_id: String,
    pub seq: i64,
    pub value_date: String,
    pub event: String,
}

/// Everything verification reads, from one snapshot of the database.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub records: Vec<AuditRecord>,
    pub head: Option<AuditHead>,
    pub loans: Vec<StoredTerms>,
    pub events: Vec<EventRow>,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub records: usize,
    /// Records sealed with the key.
    pub keyed: usize,
    /// Records before the first keyed one, which only the first keyed record (and any
    /// checkpoint) protects.
    pub unkeyed: usize,
    pub head_seq: i64,
    pub head_hash: String,
}

/// Check the chain, its head, the events and terms it covers, and optionally a checkpoint.
pub fn verify(
    ev: &Evidence,
    key: Option<&AuditKey>,
    checkpoint: Option<&Checkpoint>,
) -> Result<Result<Verified, ChainBreak>, KeyRequired> {
    let events: HashMap<(&str, i64), &EventRow> = ev
        .events
        .iter()
        .map(|e| ((e.loan_id.as_str(), e.seq), e))
        .collect();
    let loans: HashMap<&str, &StoredTerms> =
        ev.loans.iter().map(|l| (l.loan_id.as_str(), l)).collect();
    let mut covered: HashSet<(&str, i64)> = HashSet::new();
    let mut booked: HashMap<&str, i64> = HashMap::new();
    let mut prev = GENESIS_HASH.to_owned();
    let (mut keyed, mut unkeyed) = (0usize, 0usize);
    let mut last_legacy = true;
    for (expected, r) in (1..).zip(&ev.records) {
        if r.seq != expected {
            return Ok(Err(broken(
                expected,
                format!(
                    "it is missing (the next stored record is {}): records were deleted",
                    r.seq
                ),
            )));
        }
        if r.prev_hash != prev {
            return Ok(Err(broken(
                r.seq,
                "its previous hash is not the hash of the record before it: records were removed, inserted or reordered",
            )));
        }
        let hash = match r.scheme.as_str() {
            SCHEME_LEGACY => {
                if !last_legacy {
                    return Ok(Err(broken(
                        r.seq,
                        "it claims the legacy scheme after newer records: it was rewritten",
                    )));
                }
                unkeyed += 1;
                chain_hash(&r.prev_hash, r.seq, &r.entry)
            }
            SCHEME_UNKEYED => {
                last_legacy = false;
                if keyed > 0 {
                    return Ok(Err(broken(
                        r.seq,
                        "it is not keyed but records before it are: a keyed record was rewritten",
                    )));
                }
                unkeyed += 1;
                hex::encode(Sha256::digest(body_v2(r)))
            }
            SCHEME_KEYED => {
                last_legacy = false;
                let record_key = r.key_id.clone().unwrap_or_default();
                let Some(k) = key else {
                    return Err(KeyRequired {
                        seq: r.seq,
                        key_id: record_key,
                    });
                };
                if record_key != k.id() {
                    return Ok(Err(broken(
                        r.seq,
                        format!(
                            "it was sealed with the key {record_key}, not with the given key {}",
                            k.id()
                        ),
                    )));
                }
                keyed += 1;
                hmac_hex(k, &body_v2(r))
            }
            other => {
                return Ok(Err(broken(r.seq, format!("unknown scheme `{other}`"))));
            }
        };
        if hash != r.hash {
            return Ok(Err(broken(r.seq, "its content does not match its hash")));
        }
        let mut appended = Vec::with_capacity(r.entry.event_ids.len());
        for id in &r.entry.event_ids {
            let parsed = id
                .rsplit_once(':')
                .and_then(|(loan, seq)| seq.parse::<i64>().ok().map(|s| (loan, s)));
            let Some(k) = parsed else {
                return Ok(Err(broken(r.seq, format!("event id `{id}` is malformed"))));
            };
            covered.insert(k);
            match events.get(&k) {
                Some(e) => appended.push(EventFacts {
                    loan_id: &e.loan_id,
                    seq: e.seq,
                    value_date: &e.value_date,
                    event: &e.event,
                }),
                None if r.scheme == SCHEME_LEGACY => {}
                None => {
                    return Ok(Err(broken(
                        r.seq,
                        format!("its event {id} is missing from the loan's events"),
                    )));
                }
            }
        }
        if r.scheme != SCHEME_LEGACY {
            if content_hash(&appended) != r.content_hash {
                return Ok(Err(broken(
                    r.seq,
                    format!(
                        "the events it appended ({}) were changed",
                        r.entry.event_ids.join(", ")
                    ),
                )));
            }
            if let Some(th) = &r.terms_hash {
                let loan_id = r.entry.target.strip_prefix("loan/").unwrap_or_default();
                booked.insert(loan_id, r.seq);
                match loans.get(loan_id) {
                    None => {
                        return Ok(Err(broken(
                            r.seq,
                            format!("the loan `{loan_id}` it booked is missing"),
                        )));
                    }
                    Some(l) if &l.terms_hash != th => {
                        return Ok(Err(broken(
                            r.seq,
                            format!(
                                "the stored terms hash of loan `{loan_id}` is not the one booked"
                            ),
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        prev = r.hash.clone();
    }
    let last = ev.records.last().map_or(0, |r| r.seq);
    if let Some(h) = &ev.head {
        if h.seq > last {
            return Ok(Err(broken(
                last + 1,
                format!(
                    "it is missing: the chain's head is record {}, the last stored record is {last}: the newest records were deleted",
                    h.seq
                ),
            )));
        }
        if h.seq < last {
            return Ok(Err(broken(
                h.seq + 1,
                format!("it is past the chain's head (record {})", h.seq),
            )));
        }
        if h.hash != prev {
            return Ok(Err(broken(last, "its hash is not the chain's head hash")));
        }
    }
    if let Some(c) = checkpoint {
        match usize::try_from(c.seq - 1)
            .ok()
            .and_then(|i| ev.records.get(i))
        {
            None => {
                return Ok(Err(broken(
                    c.seq,
                    format!("it is in the checkpoint but missing: the chain ends at record {last}"),
                )));
            }
            Some(r) if r.hash != c.hash => {
                return Ok(Err(broken(c.seq, "its hash is not the checkpoint's")));
            }
            Some(_) => {}
        }
    }
    for l in &ev.loans {
        if terms_digest(&l.terms) != l.terms_hash {
            let seq = booked.get(l.loan_id.as_str()).copied().unwrap_or(last);
            return Ok(Err(broken(
                seq,
                format!(
                    "the stored terms of loan `{}` do not hash to its terms hash",
                    l.loan_id
                ),
            )));
        }
    }
    for e in &ev.events {
        if !covered.contains(&(e.loan_id.as_str(), e.seq)) {
            let seq = booked.get(e.loan_id.as_str()).copied().unwrap_or(last);
            return Ok(Err(broken(
                seq,
                format!(
                    "event {}:{} is in no audit record: it was inserted",
                    e.loan_id, e.seq
                ),
            )));
        }
    }
    Ok(Ok(Verified {
        records: ev.records.len(),
        keyed,
        unkeyed,
        head_seq: last,
        head_hash: prev,
    }))
}

/// Check the records alone (in order) from the genesis hash, without a key: for unkeyed chains.
pub fn verify_chain(records: &[AuditRecord]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_owned();
    for (expected, r) in (1..).zip(records) {
        if r.seq != expected {
            return Err(broken(
                r.seq,
                format!("expected record {expected}: records are missing"),
            ));
        }
        if r.prev_hash != prev {
            return Err(broken(
                r.seq,
                "its previous hash is not the hash of the record before it",
            ));
        }
        let h = match r.scheme.as_str() {
            SCHEME_LEGACY => chain_hash(&r.prev_hash, r.seq, &r.entry),
            SCHEME_UNKEYED => hex::encode(Sha256::digest(body_v2(r))),
            _ => return Err(broken(r.seq, "it is keyed: verify it with the key")),
        };
        if h != r.hash {
            return Err(broken(r.seq, "its content does not match its hash"));
        }
        prev = h;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: "2024-01-01T00:00:00Z".into(),
            actor: "ops".into(),
            action: action.into(),
            target: "book/main".into(),
            request_digest: "d".into(),
            event_ids: vec![],
        }
    }

    fn chain(n: i64, key: Option<&AuditKey>) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let r = seal(
                    &prev,
                    seq,
                    &entry(&format!("a{seq}")),
                    String::new(),
                    None,
                    key,
                );
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn evidence(records: Vec<AuditRecord>) -> Evidence {
        let head = records.last().map(|r| AuditHead {
            seq: r.seq,
            hash: r.hash.clone(),
            scheme: r.scheme.clone(),
        });
        Evidence {
            records,
            head,
            ..Evidence::default()
        }
    }

    #[test]
    fn a_chain_verifies_and_names_the_first_broken_record() {
        let mut records = chain(5, None);
        assert_eq!(verify_chain(&records), Ok(()));
        records[2].entry.actor = "someone else".into();
        assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
        let mut records = chain(5, None);
        records.remove(1);
        assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
    }

    #[test]
    fn a_keyed_chain_needs_its_key_and_refuses_another() {
        let key = AuditKey::generate();
        let ev = evidence(chain(3, Some(&key)));
        assert_eq!(verify(&ev, Some(&key), None).map(|r| r.is_ok()), Ok(true));
        assert!(verify(&ev, None, None).is_err());
        let other = AuditKey::generate();
        assert_eq!(
            verify(&ev, Some(&other), None).map(|r| r.map_err(|b| b.seq)),
            Ok(Err(1))
        );
    }

    #[test]
    fn rehashing_without_the_key_is_caught() {
        let key = AuditKey::generate();
        let mut records = chain(4, Some(&key));
        // Edit record 2 and reseal it and the rest without the key, as unkeyed records.
        records[1].entry.actor = "intruder".into();
        let mut prev = records[0].hash.clone();
        for r in records.iter_mut().skip(1) {
            *r = seal(&prev, r.seq, &r.entry, String::new(), None, None);
            prev = r.hash.clone();
        }
        let ev = evidence(records);
        assert_eq!(
            verify(&ev, Some(&key), None).map(|r| r.map_err(|b| b.seq)),
            Ok(Err(2))
        );
    }

    #[test]
    fn keys_round_trip_through_hex_and_hide_in_debug() {
        let k = AuditKey::generate();
        assert_eq!(AuditKey::from_hex(&k.to_hex()), Ok(k.clone()));
        assert!(AuditKey::from_hex("abc").is_err());
        assert!(!format!("{k:?}").contains(&k.to_hex()));
        assert_eq!(k.id().len(), 16);
    }

    #[test]
    fn checkpoints_parse_and_print() {
        let c: Checkpoint = format!("12:{}", "Ab".repeat(32)).parse().unwrap();
        assert_eq!(c.seq, 12);
        assert_eq!(c.to_string(), format!("12:{}", "ab".repeat(32)));
        assert!("x:y".parse::<Checkpoint>().is_err());
        assert!("0:00".parse::<Checkpoint>().is_err());
    }
}
