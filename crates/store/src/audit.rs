//! The audit log's hash chain: each record's hash covers its content and the previous hash, so
//! changing, removing or inserting a record breaks every hash after it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuditEntry;

/// The hash before the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// SHA-256 (hex) of the previous hash and the record's canonical JSON.
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

/// The first record that does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq} is broken: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Check the records (in order) from the genesis hash.
pub fn verify_chain(records: &[AuditRecord]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_owned();
    for (expected_seq, r) in (1..).zip(records) {
        if r.seq != expected_seq {
            return Err(ChainBreak {
                seq: r.seq,
                reason: format!("expected record {expected_seq}: records are missing"),
            });
        }
        if r.prev_hash != prev {
            return Err(ChainBreak {
                seq: r.seq,
                reason: "its previous hash is not the hash of the record before it".into(),
            });
        }
        let h = chain_hash(&r.prev_hash, r.seq, &r.entry);
        if h != r.hash {
            return Err(ChainBreak {
                seq: r.seq,
                reason: "its content does not match its hash".into(),
            });
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
            target: "loan/1".into(),
            request_digest: "d".into(),
            event_ids: vec!["1:1".into()],
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let e = entry(&format!("a{seq}"));
                let hash = chain_hash(&prev, seq, &e);
                let r = AuditRecord {
                    seq,
                    entry: e,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn a_chain_verifies_and_names_the_first_broken_record() {
        let mut records = chain(5);
        assert_eq!(verify_chain(&records), Ok(()));
        records[2].entry.actor = "someone else".into();
        assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
        let mut records = chain(5);
        records.remove(1);
        assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
    }
}
