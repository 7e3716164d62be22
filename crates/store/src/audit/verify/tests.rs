//! Verification of hand-built logs: streams, keys, rewrites and checkpoints.
use super::super::{AuditEntry, seal, seal_checkpoint};
use super::*;

fn entry(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-01-01T00:00:00Z".into(),
        actor: "ops".into(),
        action: action.into(),
        target: target.into(),
        request_digest: "d".into(),
        event_ids: vec![],
    }
}

fn chain(n: i64, target: &str, key: Option<&AuditKey>) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let r = seal(
                &prev,
                seq,
                &entry(&format!("a{seq}"), target),
                String::new(),
                None,
                key,
            );
            prev = r.hash.clone();
            r
        })
        .collect()
}

fn heads(records: &[AuditRecord]) -> Vec<StreamHead> {
    let mut by: BTreeMap<String, StreamHead> = BTreeMap::new();
    for r in records {
        by.insert(
            r.stream.clone(),
            StreamHead {
                stream: r.stream.clone(),
                seq: r.stream_seq,
                hash: r.hash.clone(),
                scheme: r.scheme.clone(),
            },
        );
    }
    by.into_values().collect()
}

fn evidence(records: Vec<AuditRecord>) -> Evidence {
    Evidence {
        heads: heads(&records),
        records,
        ..Evidence::default()
    }
}

fn break_at(ev: &Evidence, key: Option<&AuditKey>) -> Option<(String, i64)> {
    match verify(ev, key, None) {
        Ok(Err(b)) => Some((b.stream, b.seq)),
        _ => None,
    }
}

#[test]
fn streams_are_named_after_their_targets() {
    assert_eq!(stream_of("loan/L1"), "loan:L1");
    assert_eq!(stream_of("loan/L1/payments"), "loan:L1");
    assert_eq!(stream_of("book/main"), "book");
    assert_eq!(stream_of("audit/3:ab"), "audit");
    assert_eq!(stream_of("audit"), "audit");
    assert_eq!(stream_of("user/asha"), "user:asha");
}

#[test]
fn a_chain_verifies_and_names_the_first_broken_record() {
    let mut records = chain(5, "loan/L1", None);
    assert_eq!(verify_chain(&records), Ok(()));
    records[2].entry.actor = "someone else".into();
    assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
    let mut records = chain(5, "loan/L1", None);
    records.remove(1);
    assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
}

#[test]
fn streams_chain_on_their_own_and_each_is_checked() {
    let key = AuditKey::generate();
    let mut records = chain(3, "loan/L1", Some(&key));
    records.extend(chain(2, "loan/L2", Some(&key)));
    let ev = evidence(records.clone());
    let v = verify(&ev, Some(&key), None).unwrap().unwrap();
    assert_eq!((v.records, v.streams, v.keyed), (5, 2, 5));
    records[4].entry.actor = "intruder".into();
    assert_eq!(
        break_at(&evidence(records), Some(&key)),
        Some(("loan:L2".into(), 2))
    );
}

#[test]
fn a_keyed_chain_needs_its_key_and_refuses_another() {
    let key = AuditKey::generate();
    let ev = evidence(chain(3, "loan/L1", Some(&key)));
    assert_eq!(verify(&ev, Some(&key), None).map(|r| r.is_ok()), Ok(true));
    assert!(verify(&ev, None, None).is_err());
    let other = AuditKey::generate();
    assert_eq!(break_at(&ev, Some(&other)), Some(("loan:L1".into(), 1)));
}

#[test]
fn rehashing_without_the_key_is_caught() {
    let key = AuditKey::generate();
    let mut records = chain(4, "loan/L1", Some(&key));
    // Edit record 2 and reseal it and the rest without the key, as unkeyed records.
    records[1].entry.actor = "intruder".into();
    let mut prev = records[0].hash.clone();
    for r in records.iter_mut().skip(1) {
        *r = seal(&prev, r.stream_seq, &r.entry, String::new(), None, None);
        prev = r.hash.clone();
    }
    assert_eq!(
        break_at(&evidence(records), Some(&key)),
        Some(("loan:L1".into(), 2))
    );
}

#[test]
fn a_checkpoint_catches_a_stream_cut_back_with_its_head() {
    let key = AuditKey::generate();
    let mut records = chain(4, "loan/L1", Some(&key));
    records.extend(chain(1, "user/asha", Some(&key)));
    let covered = heads(&records)
        .into_iter()
        .map(|h| (h.stream, h.seq, h.hash))
        .collect();
    let c = seal_checkpoint(GENESIS_HASH, 1, "t", covered, 5, Some(&key));
    let mut ev = evidence(records);
    ev.checkpoints = vec![c.clone()];
    assert!(verify(&ev, Some(&key), None).unwrap().is_ok());
    // Cut loan:L1 back to 2 records and move its head back to match.
    ev.records
        .retain(|r| !(r.stream == "loan:L1" && r.stream_seq > 2));
    ev.heads = heads(&ev.records);
    assert_eq!(break_at(&ev, Some(&key)), Some(("loan:L1".into(), 4)));
    // Without the checkpoint the cut is invisible: which is why checkpoints are kept
    // outside the database as well.
    ev.checkpoints.clear();
    assert!(verify(&ev, Some(&key), None).unwrap().is_ok());
    let kept = Checkpoint {
        seq: c.seq,
        hash: c.hash.clone(),
    };
    assert_eq!(
        verify(&ev, Some(&key), Some(&kept))
            .unwrap()
            .map_err(|b| (b.stream, b.seq)),
        Err((CHECKPOINT_STREAM.into(), 1))
    );
    // A checkpoint resealed without the key does not pass.
    let mut forged = c;
    forged.heads.retain(|h| h.0 != "loan:L1");
    forged.hash = seal_checkpoint(GENESIS_HASH, 1, "t", forged.heads.clone(), 5, None).hash;
    ev.checkpoints = vec![forged];
    assert_eq!(
        break_at(&ev, Some(&key)),
        Some((CHECKPOINT_STREAM.into(), 1))
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

/// A record sealed over the events it appended, numbered from 1 in a new stream.
fn appending(target: &str, owner: &str, value_date: &str, event: &str) -> AuditRecord {
    let facts = [EventFacts {
        loan_id: owner,
        seq: 1,
        value_date,
        event,
    }];
    let entry = AuditEntry {
        event_ids: vec![format!("{owner}:1")],
        ..entry("append", target)
    };
    seal(GENESIS_HASH, 1, &entry, content_hash(&facts), None, None)
}

#[test]
fn application_events_are_checked_apart_from_loan_events() {
    // A loan and an application with the same id: each record is held to its own aggregate.
    let records = vec![
        appending("loan/X1", "X1", "2024-01-01", "loan event"),
        appending("application/X1", "X1", "", "application event"),
    ];
    let loan_event = EventRow {
        loan_id: "X1".into(),
        seq: 1,
        value_date: "2024-01-01".into(),
        event: "loan event".into(),
    };
    let application_event = ApplicationEventRow {
        application_id: "X1".into(),
        seq: 1,
        event: "application event".into(),
    };
    let ev = Evidence {
        events: vec![loan_event.clone()],
        application_events: vec![application_event.clone()],
        ..evidence(records.clone())
    };
    assert!(matches!(verify(&ev, None, None), Ok(Ok(_))));
    let edited = Evidence {
        application_events: vec![ApplicationEventRow {
            event: "edited".into(),
            ..application_event.clone()
        }],
        ..ev.clone()
    };
    assert_eq!(break_at(&edited, None), Some(("application:X1".into(), 1)));
    let missing = Evidence {
        application_events: vec![],
        ..ev.clone()
    };
    assert_eq!(break_at(&missing, None), Some(("application:X1".into(), 1)));
    let inserted = Evidence {
        application_events: vec![
            application_event.clone(),
            ApplicationEventRow {
                seq: 2,
                ..application_event
            },
        ],
        ..ev.clone()
    };
    match verify(&inserted, None, None) {
        Ok(Err(b)) => assert!(b.reason.contains("X1:2"), "{}", b.reason),
        other => panic!("{other:?}"),
    }
    // The loan's event is not mistaken for the application's.
    let swapped = Evidence {
        events: vec![],
        ..ev
    };
    assert_eq!(break_at(&swapped, None), Some(("loan:X1".into(), 1)));
}
