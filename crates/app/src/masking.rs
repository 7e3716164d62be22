//! Masking of personal data (PAN, Aadhaar, phone numbers, e-mail, bank accounts, birth dates)
//! for views that roles without a need for identities see, and for logs. One place, two rules:
//!
//! - **by key**: a value under a key that names personal data is masked whole, at any depth and
//!   in any spelling: keys are compared case-insensitively, ignoring `_`, `-`, `.` and spaces
//!   (`PAN`, `Pan`, `kyc.pan`, `aadhaar_number`, `accountNumber`, `account_no`, `mobile`, …);
//! - **by value**: wherever a string sits, a PAN (`AAAAA9999A`), an Aadhaar number (12 digits,
//!   spaces allowed), a mobile number (10 digits, `+91` allowed) or a bank account number (9 to
//!   18 digits) inside it is masked.
//!
//! The last four characters stay visible, so a person can still tell two records apart.

use serde_json::Value;

/// Keys whose normalised form contains one of these name personal data.
const KEY_PARTS: [&str; 17] = [
    "aadhaar",
    "aadhar",
    "pannumber",
    "panno",
    "pancard",
    "phone",
    "mobile",
    "email",
    "accountnumber",
    "accountno",
    "acctno",
    "acctnumber",
    "bankaccount",
    "dateofbirth",
    "birthdate",
    "passport",
    "voterid",
];

/// Keys whose normalised form ends with one of these name personal data.
const KEY_ENDINGS: [&str; 7] = ["pan", "dob", "msisdn", "iban", "accno", "acno", "uid"];

/// A key as compared: lower case, without `_`, `-`, `.` and spaces.
fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a key names personal data, in any spelling.
pub fn is_personal_key(key: &str) -> bool {
    let k = normalise(key);
    KEY_PARTS.iter().any(|p| k.contains(p)) || KEY_ENDINGS.iter().any(|e| k.ends_with(e))
}

/// Mask all but the last four characters; a value of four or fewer is masked whole.
pub fn mask_all(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return "****".into();
    }
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{}{tail}", "*".repeat(n - 4))
}

/// Mask every personal identifier found in free text (for values under ordinary keys, and for
/// log lines), keeping the last four characters of each.
pub fn mask_text(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    mask_pans(&mut chars);
    mask_digit_runs(&mut chars);
    chars.into_iter().collect()
}

/// `AAAAA9999A` as a word of its own (ASCII letters in either case).
fn mask_pans(chars: &mut [char]) {
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = &chars[start..i];
        let is_pan = word.len() == 10
            && word[..5].iter().all(char::is_ascii_alphabetic)
            && word[5..9].iter().all(char::is_ascii_digit)
            && word[9].is_ascii_alphabetic();
        if is_pan {
            for c in &mut chars[start..start + 6] {
                *c = '*';
            }
        }
    }
}

/// Runs of 9 to 18 digits: Aadhaar, mobile and account numbers. Digit groups of three or more
/// separated by one space or hyphen belong to one run (`1234 5678 9012`, `98765 43210`), as does
/// a leading `+91`; shorter groups do not, so dates and amounts stay as they are.
fn mask_digit_runs(chars: &mut [char]) {
    let group_end = |chars: &[char], mut i: usize| {
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let first = i;
        let mut end = group_end(chars, i);
        let mut digits: Vec<usize> = (first..end).collect();
        let country_code = end - first == 2
            && chars[first] == '9'
            && chars[first + 1] == '1'
            && first > 0
            && chars[first - 1] == '+';
        let mut last_len = if country_code { 3 } else { end - first };
        while last_len >= 3
            && end + 1 < chars.len()
            && matches!(chars[end], ' ' | '-')
            && chars[end + 1].is_ascii_digit()
        {
            let next_end = group_end(chars, end + 1);
            if next_end - (end + 1) < 3 {
                break;
            }
            digits.extend(end + 1..next_end);
            last_len = next_end - (end + 1);
            end = next_end;
        }
        if (9..=18).contains(&digits.len()) {
            for &d in &digits[..digits.len() - 4] {
                chars[d] = '*';
            }
        }
        i = end;
    }
}

/// Mask a JSON document in place: whole values under personal keys, identifiers in every other
/// string, at any depth.
pub fn mask_value(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if is_personal_key(k) {
                    mask_whole(child);
                } else {
                    mask_value(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::String(s) => *s = mask_text(s),
        _ => {}
    }
}

/// Everything under a personal key: every scalar masked.
fn mask_whole(v: &mut Value) {
    match v {
        Value::Object(map) => map.values_mut().for_each(mask_whole),
        Value::Array(items) => items.iter_mut().for_each(mask_whole),
        Value::String(s) => *s = mask_all(s),
        Value::Number(n) => *v = Value::String(mask_all(&n.to_string())),
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masked(v: Value) -> Value {
        let mut v = v;
        mask_value(&mut v);
        v
    }

    #[test]
    fn every_spelling_of_a_personal_key_is_masked() {
        for key in [
            "pan",
            "PAN",
            "Pan",
            "pan_number",
            "panNumber",
            "aadhaar",
            "aadhaar_number",
            "AadhaarNo",
            "aadhar",
            "phone",
            "Phone-Number",
            "mobile",
            "mobile_no",
            "alternateMobile",
            "email",
            "emailAddress",
            "account_number",
            "accountNumber",
            "account_no",
            "bank_account",
            "date_of_birth",
            "dob",
            "kyc.pan",
        ] {
            let v = masked(json!({ key: "ABCDEFGH1234" }));
            assert_eq!(v[key], "********1234", "{key}");
        }
        for key in ["name", "city", "company", "kind", "notes"] {
            assert!(!is_personal_key(key), "{key}");
        }
    }

    #[test]
    fn nested_keys_and_lists_are_masked() {
        let v = masked(json!({
            "kyc": {"pan": "ABCDE1234F", "Aadhaar": "1234 5678 9012"},
            "contacts": [{"phone": "9876543210", "label": "home"}, {"mobile": 9123456789u64}],
            "bank": {"accountNumber": "001234567890", "ifsc": "HDFC0001234"},
            "phones": ["9876543210"],
        }));
        assert_eq!(v["kyc"]["pan"], "******234F");
        assert_eq!(v["kyc"]["Aadhaar"], "**********9012");
        assert_eq!(v["contacts"][0]["phone"], "******3210");
        assert_eq!(v["contacts"][0]["label"], "home");
        assert_eq!(v["contacts"][1]["mobile"], "******6789");
        assert_eq!(v["bank"]["accountNumber"], "********7890");
        assert_eq!(v["bank"]["ifsc"], "HDFC0001234");
        assert_eq!(v["phones"][0], "******3210");
    }

    #[test]
    fn a_pan_is_masked_wherever_it_sits() {
        assert_eq!(mask_text("PAN ABCDE1234F ok"), "PAN ******234F ok");
        assert_eq!(mask_text("pan abcde1234f"), "pan ******234f");
        assert_eq!(mask_text("ABCDE12345"), "ABCDE12345");
    }

    #[test]
    fn an_aadhaar_number_is_masked_with_or_without_spaces() {
        assert_eq!(mask_text("uid 123456789012"), "uid ********9012");
        assert_eq!(mask_text("uid 1234 5678 9012."), "uid **** **** 9012.");
    }

    #[test]
    fn a_mobile_number_is_masked_with_or_without_the_country_code() {
        assert_eq!(mask_text("call 9876543210"), "call ******3210");
        assert_eq!(mask_text("call +91 98765 43210"), "call +** ***** *3210");
        assert_eq!(mask_text("+919876543210"), "+********3210");
    }

    #[test]
    fn a_bank_account_number_is_masked_from_9_to_18_digits() {
        assert_eq!(mask_text("a/c 123456789"), "a/c *****6789");
        assert_eq!(
            mask_text("a/c 123456789012345678"),
            "a/c **************5678"
        );
        // Dates, amounts and short numbers are not identifiers.
        assert_eq!(
            mask_text("2024-01-01 20000.00 12345678"),
            "2024-01-01 20000.00 12345678"
        );
    }

    #[test]
    fn identifiers_under_ordinary_keys_are_masked_by_pattern() {
        let v = masked(
            json!({"notes": "PAN ABCDE1234F, call 9876543210", "n": [{"x": "123456789012"}]}),
        );
        assert_eq!(v["notes"], "PAN ******234F, call ******3210");
        assert_eq!(v["n"][0]["x"], "********9012");
    }
}
