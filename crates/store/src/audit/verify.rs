//! Verifying the audit log from one snapshot of the database: each stream's chain and head, the
//! checkpoints and the heads they covered, the events the commands appended (to loans and to
//! applications) and the loans' terms.
//!
//! A record of an application's stream (`application:ID`) names the application's events it
//! appended (`ID:SEQ`); any other record names loans' events. Both are hashed into the record
//! the same way ([`EventFacts`], an application's event with an empty value date).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    AuditKey, AuditRecord, BOOK_STREAM, Checkpoint, EventFacts, GENESIS_HASH, SCHEME_KEYED,
    SCHEME_LEGACY, SCHEME_UNKEYED, StoredCheckpoint, StreamHead, body_v2, chain_hash,
    checkpoint_hash, content_hash, hmac_hex, stream_of, terms_digest,
};

/// The first record that does not fit its stream's chain, or a checkpoint that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq} of stream `{stream}` is broken: {reason}")]
pub struct ChainBreak {
    /// The stream, or `checkpoint` for the chain of checkpoints.
    pub stream: String,
    /// The record's number in its stream (the checkpoint's number).
    pub seq: i64,
    pub reason: String,
}

fn broken(stream: &str, seq: i64, reason: impl Into<String>) -> ChainBreak {
    ChainBreak {
        stream: stream.to_owned(),
        seq,
        reason: reason.into(),
    }
}

/// The stream name under which breaks of the checkpoints' chain are reported.
pub const CHECKPOINT_STREAM: &str = "checkpoint";

/// Keyed records were found but no key was given to check them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "audit record {seq} of stream `{stream}` is sealed with a key (id {key_id}): give the audit key to verify the log"
)]
pub struct KeyRequired {
    pub stream: String,
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

/// One row of `application_events` as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationEventRow {
    pub application_id: String,
    pub seq: i64,
    pub event: String,
}

/// Everything verification reads, from one snapshot of the database.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub records: Vec<AuditRecord>,
    pub heads: Vec<StreamHead>,
    pub checkpoints: Vec<StoredCheckpoint>,
    pub loans: Vec<StoredTerms>,
    pub events: Vec<EventRow>,
    pub application_events: Vec<ApplicationEventRow>,
}

/// The prefix of an application's stream.
const APPLICATION_STREAM: &str = "application:";

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub records: usize,
    /// Records sealed with the key.
    pub keyed: usize,
    /// Records before the first keyed one of their stream (or in streams with none), which only
    /// keyed records after them and checkpoints protect.
    pub unkeyed: usize,
    pub streams: usize,
    pub checkpoints: usize,
    /// The newest checkpoint, as `SEQ:HASH`.
    pub last_checkpoint: Option<Checkpoint>,
}

enum Failure {
    Break(ChainBreak),
    Key(KeyRequired),
}

impl From<ChainBreak> for Failure {
    fn from(b: ChainBreak) -> Failure {
        Failure::Break(b)
    }
}

/// One aggregate's stored events, as hashed, and those that some record names.
#[derive(Default)]
struct Events<'a> {
    stored: HashMap<(&'a str, i64), EventFacts<'a>>,
    covered: HashSet<(&'a str, i64)>,
}

impl<'a> Events<'a> {
    fn of(facts: impl Iterator<Item = EventFacts<'a>>) -> Events<'a> {
        Events {
            stored: facts.map(|f| ((f.loan_id, f.seq), f)).collect(),
            covered: HashSet::new(),
        }
    }
}

impl EventRow {
    /// The event as its command's record hashed it.
    fn facts(&self) -> EventFacts<'_> {
        EventFacts {
            loan_id: &self.loan_id,
            seq: self.seq,
            value_date: &self.value_date,
            event: &self.event,
        }
    }
}

impl ApplicationEventRow {
    /// The event as its command's record hashed it: application events carry no value date.
    fn facts(&self) -> EventFacts<'_> {
        EventFacts {
            loan_id: &self.application_id,
            seq: self.seq,
            value_date: "",
            event: &self.event,
        }
    }
}

/// What the walk over the streams gathers.
#[derive(Default)]
struct Walk<'a> {
    loan_events: Events<'a>,
    application_events: Events<'a>,
    loans: HashMap<&'a str, &'a StoredTerms>,
    /// Each booked loan's booking record: (stream, number).
    booked: HashMap<&'a str, (&'a str, i64)>,
    /// Each stream's last number and hash.
    ends: BTreeMap<&'a str, (i64, String)>,
    /// Checkpoints that `audit` records name: (number, hash, the record's number).
    named_checkpoints: Vec<(i64, &'a str, i64)>,
    keyed: usize,
    unkeyed: usize,
}

/// Check every stream, its head, the checkpoints, the events and terms the records cover, and
/// optionally a checkpoint kept elsewhere.
pub fn verify(
    ev: &Evidence,
    key: Option<&AuditKey>,
    checkpoint: Option<&Checkpoint>,
) -> Result<Result<Verified, ChainBreak>, KeyRequired> {
    match verify_all(ev, key, checkpoint) {
        Ok(v) => Ok(Ok(v)),
        Err(Failure::Break(b)) => Ok(Err(b)),
        Err(Failure::Key(k)) => Err(k),
    }
}

fn verify_all(
    ev: &Evidence,
    key: Option<&AuditKey>,
    external: Option<&Checkpoint>,
) -> Result<Verified, Failure> {
    let mut w = Walk {
        loan_events: Events::of(ev.events.iter().map(EventRow::facts)),
        application_events: Events::of(
            ev.application_events.iter().map(ApplicationEventRow::facts),
        ),
        loans: ev.loans.iter().map(|l| (l.loan_id.as_str(), l)).collect(),
        ..Walk::default()
    };
    let mut streams: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for r in &ev.records {
        streams.entry(r.stream.as_str()).or_default().push(r);
    }
    for (stream, records) in &mut streams {
        records.sort_by_key(|r| r.stream_seq);
        verify_stream(&mut w, stream, records, key)?;
    }
    check_heads(&w, &ev.heads)?;
    let by_number: HashMap<(&str, i64), &AuditRecord> = ev
        .records
        .iter()
        .map(|r| ((r.stream.as_str(), r.stream_seq), r))
        .collect();
    check_checkpoints(&w, &ev.checkpoints, &by_number, key, external)?;
    check_terms_and_events(&w, ev)?;
    Ok(Verified {
        records: ev.records.len(),
        keyed: w.keyed,
        unkeyed: w.unkeyed,
        streams: streams.len(),
        checkpoints: ev.checkpoints.len(),
        last_checkpoint: ev.checkpoints.last().map(|c| Checkpoint {
            seq: c.seq,
            hash: c.hash.clone(),
        }),
    })
}

/// Walk one stream's records (sorted by number) from the genesis hash.
fn verify_stream<'a>(
    w: &mut Walk<'a>,
    stream: &'a str,
    records: &[&'a AuditRecord],
    key: Option<&AuditKey>,
) -> Result<(), Failure> {
    let mut prev = GENESIS_HASH.to_owned();
    let (mut seen_keyed, mut past_legacy) = (false, false);
    for (expected, r) in (1..).zip(records) {
        if r.stream_seq != expected {
            return Err(broken(
                stream,
                expected,
                format!(
                    "it is missing (the next stored record of the stream is {}): records were deleted",
                    r.stream_seq
                ),
            )
            .into());
        }
        if r.stream != stream_of(&r.entry.target) && r.stream != BOOK_STREAM {
            return Err(broken(
                stream,
                r.stream_seq,
                format!("its target `{}` is not of this stream", r.entry.target),
            )
            .into());
        }
        if r.prev_hash != prev {
            return Err(broken(
                stream,
                r.stream_seq,
                "its previous hash is not the hash of the record before it: records were removed, inserted or reordered",
            )
            .into());
        }
        let hash = record_hash(r, key, &mut seen_keyed, &mut past_legacy)?;
        if hash != r.hash {
            return Err(broken(stream, r.stream_seq, "its content does not match its hash").into());
        }
        if seen_keyed {
            w.keyed += 1;
        } else {
            w.unkeyed += 1;
        }
        check_content(w, r)?;
        prev = r.hash.clone();
    }
    let last = records.last().map_or(0, |r| r.stream_seq);
    w.ends.insert(stream, (last, prev));
    Ok(())
}

/// The hash `r` must have under its scheme, enforcing the order of schemes in a stream: legacy
/// records first, then unkeyed ones, then keyed ones.
fn record_hash(
    r: &AuditRecord,
    key: Option<&AuditKey>,
    seen_keyed: &mut bool,
    past_legacy: &mut bool,
) -> Result<String, Failure> {
    let at = |reason: &str| broken(&r.stream, r.stream_seq, reason);
    match r.scheme.as_str() {
        SCHEME_LEGACY => {
            if *past_legacy {
                return Err(at(
                    "it claims the legacy scheme after newer records: it was rewritten",
                )
                .into());
            }
            Ok(chain_hash(&r.prev_hash, r.stream_seq, &r.entry))
        }
        SCHEME_UNKEYED => {
            *past_legacy = true;
            if *seen_keyed {
                return Err(at(
                    "it is not keyed but records before it are: a keyed record was rewritten",
                )
                .into());
            }
            Ok(hex::encode(Sha256::digest(body_v2(r))))
        }
        SCHEME_KEYED => {
            *past_legacy = true;
            *seen_keyed = true;
            let record_key = r.key_id.clone().unwrap_or_default();
            let Some(k) = key else {
                return Err(Failure::Key(KeyRequired {
                    stream: r.stream.clone(),
                    seq: r.stream_seq,
                    key_id: record_key,
                }));
            };
            if record_key != k.id() {
                return Err(at(&format!(
                    "it was sealed with the key {record_key}, not with the given key {}",
                    k.id()
                ))
                .into());
            }
            Ok(hmac_hex(k, &body_v2(r)))
        }
        other => Err(at(&format!("unknown scheme `{other}`")).into()),
    }
}

/// The events a record names are stored as it hashed them; a booking's loan has the terms hash
/// it booked; a checkpoint record's checkpoint is noted for later.
fn check_content<'a>(w: &mut Walk<'a>, r: &'a AuditRecord) -> Result<(), ChainBreak> {
    let at = |reason: String| broken(&r.stream, r.stream_seq, reason);
    let (events, kind) = if r.stream.starts_with(APPLICATION_STREAM) {
        (&mut w.application_events, "application")
    } else {
        (&mut w.loan_events, "loan")
    };
    let mut appended = Vec::with_capacity(r.entry.event_ids.len());
    for id in &r.entry.event_ids {
        let parsed = id
            .rsplit_once(':')
            .and_then(|(owner, seq)| seq.parse::<i64>().ok().map(|s| (owner, s)));
        let Some(k) = parsed else {
            return Err(at(format!("event id `{id}` is malformed")));
        };
        events.covered.insert(k);
        match events.stored.get(&k) {
            Some(e) => appended.push(*e),
            None if r.scheme == SCHEME_LEGACY => {}
            None => {
                return Err(at(format!(
                    "its event {id} is missing from the {kind}'s events"
                )));
            }
        }
    }
    if r.stream == "audit" {
        let named = r
            .entry
            .target
            .strip_prefix("audit/")
            .and_then(|c| c.parse::<Checkpoint>().ok());
        if let Some(c) = named {
            let hash = r.entry.target.rsplit_once(':').map_or("", |(_, h)| h);
            w.named_checkpoints.push((c.seq, hash, r.stream_seq));
        }
    }
    if r.scheme == SCHEME_LEGACY {
        return Ok(());
    }
    if content_hash(&appended) != r.content_hash {
        return Err(at(format!(
            "the events it appended ({}) were changed",
            r.entry.event_ids.join(", ")
        )));
    }
    if let Some(th) = &r.terms_hash {
        let loan_id = r.entry.target.strip_prefix("loan/").unwrap_or_default();
        w.booked.insert(loan_id, (&r.stream, r.stream_seq));
        match w.loans.get(loan_id) {
            None => return Err(at(format!("the loan `{loan_id}` it booked is missing"))),
            Some(l) if &l.terms_hash != th => {
                return Err(at(format!(
                    "the stored terms hash of loan `{loan_id}` is not the one booked"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Each stream ends at its head; no head is left without its records.
fn check_heads(w: &Walk<'_>, heads: &[StreamHead]) -> Result<(), ChainBreak> {
    let by_stream: HashMap<&str, &StreamHead> =
        heads.iter().map(|h| (h.stream.as_str(), h)).collect();
    for (stream, (last, hash)) in &w.ends {
        let Some(h) = by_stream.get(stream) else {
            return Err(broken(
                stream,
                *last,
                "its stream has no head: the head was deleted",
            ));
        };
        if h.seq > *last {
            return Err(broken(
                stream,
                last + 1,
                format!(
                    "it is missing: the stream's head is record {}, the last stored record is {last}: the newest records were deleted",
                    h.seq
                ),
            ));
        }
        if h.seq < *last {
            return Err(broken(
                stream,
                h.seq + 1,
                format!("it is past the stream's head (record {})", h.seq),
            ));
        }
        if &h.hash != hash {
            return Err(broken(
                stream,
                *last,
                "its hash is not the stream's head hash",
            ));
        }
    }
    for h in heads {
        if !w.ends.contains_key(h.stream.as_str()) && h.seq > 0 {
            return Err(broken(
                &h.stream,
                1,
                format!(
                    "the stream's head is record {} but none of its records is stored: they were deleted",
                    h.seq
                ),
            ));
        }
    }
    Ok(())
}

/// The checkpoints chain from the genesis hash, each is sealed as its scheme says, every head
/// it covered is still a record of its stream with that hash, every checkpoint an `audit`
/// record names is stored, and the one kept elsewhere (if given) is among them.
fn check_checkpoints(
    w: &Walk<'_>,
    checkpoints: &[StoredCheckpoint],
    records: &HashMap<(&str, i64), &AuditRecord>,
    key: Option<&AuditKey>,
    external: Option<&Checkpoint>,
) -> Result<(), Failure> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut seen_keyed = false;
    for (expected, c) in (1..).zip(checkpoints) {
        let at = |reason: String| broken(CHECKPOINT_STREAM, c.seq, reason);
        if c.seq != expected {
            return Err(broken(
                CHECKPOINT_STREAM,
                expected,
                "it is missing: checkpoints were deleted",
            )
            .into());
        }
        if c.prev_hash != prev {
            return Err(
                at("its previous hash is not the hash of the checkpoint before it".into()).into(),
            );
        }
        if c.scheme == SCHEME_KEYED {
            seen_keyed = true;
            let record_key = c.key_id.clone().unwrap_or_default();
            match key {
                None => {
                    return Err(Failure::Key(KeyRequired {
                        stream: CHECKPOINT_STREAM.into(),
                        seq: c.seq,
                        key_id: record_key,
                    }));
                }
                Some(k) if k.id() != record_key => {
                    return Err(at(format!(
                        "it was sealed with the key {record_key}, not with the given key"
                    ))
                    .into());
                }
                Some(_) => {}
            }
        } else if seen_keyed {
            return Err(at(
                "it is not keyed but checkpoints before it are: it was rewritten".into(),
            )
            .into());
        }
        if checkpoint_hash(c, key).as_deref() != Some(c.hash.as_str()) {
            return Err(at("its content does not match its hash".into()).into());
        }
        for (stream, seq, hash) in &c.heads {
            match records.get(&(stream.as_str(), *seq)) {
                None => {
                    return Err(broken(
                        stream,
                        *seq,
                        format!(
                            "checkpoint {} covered it but it is missing: the stream was cut back",
                            c.seq
                        ),
                    )
                    .into());
                }
                Some(r) if r.scheme == SCHEME_KEYED && c.scheme != SCHEME_KEYED => {
                    return Err(at(format!(
                        "it is not keyed but covers the keyed record {seq} of `{stream}`: it was rewritten"
                    ))
                    .into());
                }
                Some(r) if &r.hash != hash => {
                    return Err(broken(
                        stream,
                        *seq,
                        format!(
                            "its hash is not the one checkpoint {} covered: it was rewritten",
                            c.seq
                        ),
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
        prev = c.hash.clone();
    }
    check_named_and_kept(w, checkpoints, external)
}

/// Every checkpoint an `audit` record names is stored, and so is the one kept elsewhere.
fn check_named_and_kept(
    w: &Walk<'_>,
    checkpoints: &[StoredCheckpoint],
    external: Option<&Checkpoint>,
) -> Result<(), Failure> {
    let stored: HashMap<i64, &str> = checkpoints
        .iter()
        .map(|c| (c.seq, c.hash.as_str()))
        .collect();
    for (seq, hash, record) in &w.named_checkpoints {
        if stored.get(seq) != Some(hash) {
            return Err(broken(
                "audit",
                *record,
                format!("the checkpoint {seq} it wrote is missing or changed"),
            )
            .into());
        }
    }
    if let Some(c) = external {
        match stored.get(&c.seq) {
            None => {
                return Err(broken(
                    CHECKPOINT_STREAM,
                    c.seq,
                    format!(
                        "it is the checkpoint given but missing: the last stored checkpoint is {}",
                        checkpoints.last().map_or(0, |c| c.seq)
                    ),
                )
                .into());
            }
            Some(h) if *h != c.hash => {
                return Err(broken(
                    CHECKPOINT_STREAM,
                    c.seq,
                    "its hash is not the checkpoint's given",
                )
                .into());
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every loan's terms hash to its terms hash, and every stored event (of a loan or of an
/// application) is covered by a record.
fn check_terms_and_events(w: &Walk<'_>, ev: &Evidence) -> Result<(), ChainBreak> {
    let place = |loan_id: &str| -> (String, i64) {
        match w.booked.get(loan_id) {
            Some((stream, seq)) => ((*stream).to_owned(), *seq),
            None => {
                let stream = stream_of(&format!("loan/{loan_id}"));
                let last = w.ends.get(stream.as_str()).map_or(0, |e| e.0);
                (stream, last)
            }
        }
    };
    for l in &ev.loans {
        if terms_digest(&l.terms) != l.terms_hash {
            let (stream, seq) = place(&l.loan_id);
            return Err(broken(
                &stream,
                seq,
                format!(
                    "the stored terms of loan `{}` do not hash to its terms hash",
                    l.loan_id
                ),
            ));
        }
    }
    for e in &ev.events {
        if !w.loan_events.covered.contains(&(e.loan_id.as_str(), e.seq)) {
            let (stream, seq) = place(&e.loan_id);
            return Err(broken(
                &stream,
                seq,
                format!(
                    "event {}:{} is in no audit record: it was inserted",
                    e.loan_id, e.seq
                ),
            ));
        }
    }
    for e in &ev.application_events {
        let id = e.application_id.as_str();
        if !w.application_events.covered.contains(&(id, e.seq)) {
            let stream = format!("{APPLICATION_STREAM}{id}");
            let last = w.ends.get(stream.as_str()).map_or(0, |e| e.0);
            return Err(broken(
                &stream,
                last,
                format!(
                    "application event {id}:{} is in no audit record: it was inserted",
                    e.seq
                ),
            ));
        }
    }
    Ok(())
}

/// Check the records alone, each stream from the genesis hash in the order of its numbers,
/// without a key: for unkeyed chains. Names the first break of the first broken stream.
pub fn verify_chain(records: &[AuditRecord]) -> Result<(), ChainBreak> {
    let mut streams: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for r in records {
        streams.entry(r.stream.as_str()).or_default().push(r);
    }
    for (stream, mut records) in streams {
        records.sort_by_key(|r| r.stream_seq);
        verify_stream_alone(stream, &records)?;
    }
    Ok(())
}

fn verify_stream_alone(stream: &str, records: &[&AuditRecord]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_owned();
    for (expected, r) in (1..).zip(records) {
        if r.stream_seq != expected {
            return Err(broken(
                stream,
                r.stream_seq,
                format!("expected record {expected}: records are missing"),
            ));
        }
        if r.prev_hash != prev {
            return Err(broken(
                stream,
                r.stream_seq,
                "its previous hash is not the hash of the record before it",
            ));
        }
        let h = match r.scheme.as_str() {
            SCHEME_LEGACY => chain_hash(&r.prev_hash, r.stream_seq, &r.entry),
            SCHEME_UNKEYED => hex::encode(Sha256::digest(body_v2(r))),
            _ => {
                return Err(broken(
                    stream,
                    r.stream_seq,
                    "it is keyed: verify it with the key",
                ));
            }
        };
        if h != r.hash {
            return Err(broken(
                stream,
                r.stream_seq,
                "its content does not match its hash",
            ));
        }
        prev = h;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
