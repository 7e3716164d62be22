//! The people on an application (applicant, co-applicants, guarantors): what is recorded about
//! each and the formats it must have.
//!
//! An application is drafted a little at a time, so a person's document may lack fields: each
//! field present is checked for its format when it is written ([`PersonDoc::check`]), and the
//! fields still missing are listed when the application is submitted ([`PersonDoc::missing`]).
//! Only the last four digits of an Aadhaar number are ever kept.

use serde::{Deserialize, Serialize};

use crate::calendar::{Date, parse_date};
use crate::money::{Currency, Money};
use crate::origination::eligibility::age_on;
use crate::terms::FieldError;

/// Longest name, address line or employer accepted.
pub const MAX_TEXT: usize = 200;
/// The youngest and oldest age an applicant may have on the day they apply.
pub const MIN_AGE: u32 = 18;
pub const MAX_AGE: u32 = 100;

/// A person as written on an application. Every field is optional while the application is a
/// draft.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PersonDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(format = Date))]
    pub date_of_birth: Option<String>,
    /// Permanent Account Number: five letters, four digits, a letter (`ABCPE1234F`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[A-Z]{3}[PCHABGJLFT][A-Z][0-9]{4}[A-Z]$")
    )]
    pub pan: Option<String>,
    /// The last four digits of the Aadhaar number (never the whole number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(pattern = "^[0-9]{4}$"))]
    pub aadhaar_last4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressDoc>,
    /// An Indian mobile number: ten digits starting 6 to 9, optionally after `+91`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(pattern = "^(\\+91)?[6-9][0-9]{9}$"))]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 254))]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employment: Option<EmploymentDoc>,
}

/// A postal address in India.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddressDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 200))]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 200))]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 200))]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 200))]
    pub state: Option<String>,
    /// The six-digit PIN code; it does not start with 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(pattern = "^[1-9][0-9]{5}$"))]
    pub pin: Option<String>,
}

/// How a person earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EmploymentKind {
    Salaried,
    SelfEmployed,
    Business,
    Retired,
    Other,
}

/// A person's employment and income.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmploymentDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EmploymentKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 200))]
    pub employer: Option<String>,
    /// Declared net monthly income, a decimal amount in rupees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[0-9]{1,13}(\\.[0-9]{1,2})?$", example = "85000.00")
    )]
    pub monthly_income: Option<String>,
}

/// A complete person, read from a [`PersonDoc`] that passed [`PersonDoc::missing`] and
/// [`PersonDoc::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub date_of_birth: Date,
    pub pan: String,
    pub monthly_income: i64,
    pub employment: EmploymentKind,
}

impl PersonDoc {
    /// Every field present whose format is wrong, under `path` (`applicant`, `guarantors[0]`).
    /// `on` is the day of application: a date of birth must make the person 18 to 100 then.
    pub fn check(&self, path: &str, on: Date) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let at = |f: &str| format!("{path}.{f}");
        if let Some(n) = &self.name {
            text(&mut errors, &at("name"), n, true);
        }
        if let Some(d) = &self.date_of_birth {
            if let Err(e) = date_of_birth(d, on) {
                errors.push(e.at(at("date_of_birth")));
            }
        }
        if let Some(p) = &self.pan {
            if let Err(e) = pan(p) {
                errors.push(e.at(at("pan")));
            }
        }
        if let Some(a) = &self.aadhaar_last4 {
            if let Err(e) = aadhaar_last4(a) {
                errors.push(e.at(at("aadhaar_last4")));
            }
        }
        if let Some(p) = &self.phone {
            if let Err(e) = phone(p) {
                errors.push(e.at(at("phone")));
            }
        }
        if let Some(e) = &self.email {
            if let Err(e) = email(e) {
                errors.push(e.at(at("email")));
            }
        }
        if let Some(a) = &self.address {
            a.check(&at("address"), &mut errors);
        }
        if let Some(e) = &self.employment {
            if let Some(t) = &e.employer {
                text(&mut errors, &at("employment.employer"), t, false);
            }
            if let Some(m) = &e.monthly_income {
                if let Err(e) = income(m) {
                    errors.push(e.at(at("employment.monthly_income")));
                }
            }
        }
        errors
    }

    /// Every field a submitted application needs that is absent, under `path`.
    pub fn missing(&self, path: &str) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut need = |present: bool, f: &str| {
            if !present {
                out.push(FieldError::coded(
                    format!("{path}.{f}"),
                    "field.missing",
                    "is required to submit the application",
                ));
            }
        };
        need(self.name.is_some(), "name");
        need(self.date_of_birth.is_some(), "date_of_birth");
        need(self.pan.is_some(), "pan");
        need(self.phone.is_some(), "phone");
        let a = self.address.clone().unwrap_or_default();
        need(a.line1.is_some(), "address.line1");
        need(a.city.is_some(), "address.city");
        need(a.state.is_some(), "address.state");
        need(a.pin.is_some(), "address.pin");
        let e = self.employment.clone().unwrap_or_default();
        need(e.kind.is_some(), "employment.kind");
        need(e.monthly_income.is_some(), "employment.monthly_income");
        out
    }

    /// The complete person, or every field missing or malformed.
    pub fn complete(&self, path: &str, on: Date) -> Result<Person, Vec<FieldError>> {
        let mut errors = self.missing(path);
        errors.extend(self.check(path, on));
        let employment = self.employment.as_ref();
        match (
            &self.name,
            self.date_of_birth.as_deref().map(parse_date),
            &self.pan,
            employment.and_then(|e| e.kind),
            employment
                .and_then(|e| e.monthly_income.as_deref())
                .map(income),
        ) {
            (Some(name), Some(Ok(dob)), Some(pan), Some(kind), Some(Ok(income)))
                if errors.is_empty() =>
            {
                Ok(Person {
                    name: name.trim().to_owned(),
                    date_of_birth: dob,
                    pan: pan.clone(),
                    monthly_income: income,
                    employment: kind,
                })
            }
            _ => Err(errors),
        }
    }
}

impl AddressDoc {
    fn check(&self, path: &str, errors: &mut Vec<FieldError>) {
        for (f, v, required) in [
            ("line1", &self.line1, true),
            ("line2", &self.line2, false),
            ("city", &self.city, true),
            ("state", &self.state, true),
        ] {
            if let Some(v) = v {
                text(errors, &format!("{path}.{f}"), v, required);
            }
        }
        if let Some(p) = &self.pin {
            if let Err(e) = pin(p) {
                errors.push(e.at(format!("{path}.pin")));
            }
        }
    }
}

fn text(errors: &mut Vec<FieldError>, field: &str, v: &str, non_empty: bool) {
    if non_empty && v.trim().is_empty() {
        errors.push(FieldError::coded(field, "text.empty", "must not be empty"));
    } else if v.chars().count() > MAX_TEXT {
        errors.push(FieldError::coded(
            field,
            "text.length",
            format!("must be at most {MAX_TEXT} characters"),
        ));
    } else if v.chars().any(char::is_control) {
        errors.push(FieldError::coded(
            field,
            "text.control",
            "must not contain control characters",
        ));
    }
}

/// A PAN: `AAAAA9999A`, whose fourth letter is the holder's type (`P` for a person).
pub fn pan(s: &str) -> Result<(), FieldError> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[..5].iter().all(u8::is_ascii_uppercase)
        && b[5..9].iter().all(u8::is_ascii_digit)
        && b[9].is_ascii_uppercase();
    if !shape {
        return Err(FieldError::coded(
            "pan",
            "pan.format",
            format!(
                "must be a PAN: five capital letters, four digits and a capital letter (ABCPE1234F), got `{}`",
                clip(s)
            ),
        ));
    }
    // The fourth character names the holder's type: P person, C company, H HUF, A AOP, B BOI,
    // G government, J artificial juridical person, L local authority, F firm, T trust.
    if !b"PCHABGJLFT".contains(&b[3]) {
        return Err(FieldError::coded(
            "pan",
            "pan.holder_type",
            "its fourth letter must be a holder type (P, C, H, A, B, G, J, L, F or T)",
        ));
    }
    Ok(())
}

/// The last four digits of an Aadhaar number: a whole number is refused, not truncated.
pub fn aadhaar_last4(s: &str) -> Result<(), FieldError> {
    let digits = s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    if digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::coded(
            "aadhaar_last4",
            "aadhaar.whole_number",
            "must be only the last four digits: a whole Aadhaar number is never stored",
        ));
    }
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::coded(
            "aadhaar_last4",
            "aadhaar.last4",
            "must be the last four digits of the Aadhaar number",
        ));
    }
    Ok(())
}

/// A PIN code: six digits, not starting with 0.
pub fn pin(s: &str) -> Result<(), FieldError> {
    let b = s.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return Err(FieldError::coded(
            "pin",
            "pin.format",
            "must be a six-digit PIN code that does not start with 0",
        ));
    }
    Ok(())
}

/// An Indian mobile number: ten digits starting 6 to 9, optionally after `+91`.
pub fn phone(s: &str) -> Result<(), FieldError> {
    let n = s.strip_prefix("+91").unwrap_or(s).as_bytes();
    if n.len() != 10 || !n.iter().all(u8::is_ascii_digit) || !(b'6'..=b'9').contains(&n[0]) {
        return Err(FieldError::coded(
            "phone",
            "phone.format",
            "must be an Indian mobile number: ten digits starting 6 to 9, optionally after +91",
        ));
    }
    Ok(())
}

/// An e-mail address: one `@` between a local part and a dotted domain, no spaces, at most 254
/// characters. (Deliverability is the mail server's to judge; this catches typing slips.)
pub fn email(s: &str) -> Result<(), FieldError> {
    let bad = || {
        FieldError::coded(
            "email",
            "email.format",
            "must be an e-mail address (name@example.com)",
        )
    };
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let Some((local, domain)) = s.split_once('@') else {
        return Err(bad());
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if local.is_empty() || local.len() > 64 || domain.contains('@') || !labels_ok {
        return Err(bad());
    }
    Ok(())
}

/// A date of birth: a date, not after `on`, making the person 18 to 100 on `on`.
pub fn date_of_birth(s: &str, on: Date) -> Result<Date, FieldError> {
    let dob =
        parse_date(s).map_err(|rule| FieldError::coded("date_of_birth", "date.format", rule))?;
    if dob > on {
        return Err(FieldError::coded(
            "date_of_birth",
            "date_of_birth.future",
            format!("must not be after the application date {on}"),
        ));
    }
    let age = age_on(dob, on);
    if !(MIN_AGE..=MAX_AGE).contains(&age) {
        return Err(FieldError::coded(
            "date_of_birth",
            "date_of_birth.age",
            format!("must make the applicant {MIN_AGE} to {MAX_AGE} years old on {on} (is {age})"),
        ));
    }
    Ok(dob)
}

/// A declared monthly income: a non-negative amount in rupees.
pub fn income(s: &str) -> Result<i64, FieldError> {
    let m = Money::parse(s, Currency::INR).map_err(|e| {
        FieldError::coded(
            "monthly_income",
            "amount.format",
            format!("must be a decimal amount: {e}"),
        )
    })?;
    if m.minor() < 0 {
        return Err(FieldError::coded(
            "monthly_income",
            "amount.non_negative",
            "must not be negative",
        ));
    }
    if m.minor() > Currency::INR.max_amount_minor() {
        return Err(FieldError::coded(
            "monthly_income",
            "amount.max",
            "is larger than any amount Loanbook accepts",
        ));
    }
    Ok(m.minor())
}

fn clip(s: &str) -> String {
    s.chars().take(20).collect()
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    ("text.empty", "The text must not be empty"),
    ("text.length", "The text is longer than 200 characters"),
    ("text.control", "The text contains control characters"),
    (
        "pan.format",
        "A PAN is five capital letters, four digits and a capital letter",
    ),
    (
        "pan.holder_type",
        "A PAN's fourth letter is the holder's type (P, C, H, A, B, G, J, L, F, T)",
    ),
    (
        "aadhaar.whole_number",
        "Only the last four digits of an Aadhaar number are kept; the whole number is refused",
    ),
    (
        "aadhaar.last4",
        "The last four digits of the Aadhaar number",
    ),
    (
        "pin.format",
        "A PIN code is six digits that do not start with 0",
    ),
    (
        "phone.format",
        "An Indian mobile number: ten digits starting 6 to 9, optionally after +91",
    ),
    ("email.format", "An e-mail address name@example.com"),
    (
        "date_of_birth.future",
        "A date of birth is not after the application date",
    ),
    (
        "date_of_birth.age",
        "The applicant must be 18 to 100 years old on the application date",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    fn full() -> PersonDoc {
        serde_json::from_str(
            r#"{"name": "Asha Rao", "date_of_birth": "1990-04-12", "pan": "ABCPR1234F",
                "aadhaar_last4": "1234", "phone": "+919876543210", "email": "asha@example.in",
                "address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pin": "560001"},
                "employment": {"kind": "salaried", "employer": "Acme", "monthly_income": "85000.00"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_full_person_is_complete() {
        let p = full().complete("applicant", d("2025-06-30")).unwrap();
        assert_eq!(p.monthly_income, 8_500_000);
        assert_eq!(p.date_of_birth, d("1990-04-12"));
        assert_eq!(p.employment, EmploymentKind::Salaried);
    }

    #[test]
    fn an_empty_person_lists_every_missing_field() {
        let e = PersonDoc::default().missing("applicant");
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "applicant.name",
                "applicant.date_of_birth",
                "applicant.pan",
                "applicant.phone",
                "applicant.address.line1",
                "applicant.address.city",
                "applicant.address.state",
                "applicant.address.pin",
                "applicant.employment.kind",
                "applicant.employment.monthly_income"
            ]
        );
        assert!(e.iter().all(|e| e.code == "field.missing"));
    }

    #[test]
    fn malformed_fields_are_named_with_their_rule() {
        let mut p = full();
        p.pan = Some("ABCP1234F".into());
        p.aadhaar_last4 = Some("1234 5678 9012".into());
        p.phone = Some("5876543210".into());
        p.email = Some("asha@".into());
        p.date_of_birth = Some("2031-02-30".into());
        p.address.as_mut().unwrap().pin = Some("060001".into());
        p.employment.as_mut().unwrap().monthly_income = Some("-5".into());
        let e = p.check("applicant", d("2025-06-30"));
        let got: Vec<_> = e.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            [
                ("applicant.date_of_birth", "date.format"),
                ("applicant.pan", "pan.format"),
                ("applicant.aadhaar_last4", "aadhaar.whole_number"),
                ("applicant.phone", "phone.format"),
                ("applicant.email", "email.format"),
                ("applicant.address.pin", "pin.format"),
                ("applicant.employment.monthly_income", "amount.non_negative"),
            ]
        );
    }

    #[test]
    fn dates_of_birth_make_an_adult_under_a_hundred() {
        let on = d("2025-06-30");
        assert_eq!(
            date_of_birth("2025-07-01", on).unwrap_err().code,
            "date_of_birth.future"
        );
        assert_eq!(
            date_of_birth("2007-07-01", on).unwrap_err().code,
            "date_of_birth.age"
        );
        assert!(date_of_birth("2007-06-30", on).is_ok());
        assert!(date_of_birth("1925-06-30", on).is_ok());
        assert_eq!(
            date_of_birth("1924-06-30", on).unwrap_err().code,
            "date_of_birth.age"
        );
    }

    #[test]
    fn pan_holder_type_is_checked() {
        assert!(pan("ABCPE1234F").is_ok());
        assert_eq!(pan("ABCXE1234F").unwrap_err().code, "pan.holder_type");
        assert_eq!(pan("abcpe1234f").unwrap_err().code, "pan.format");
        assert_eq!(pan("ÄBCPE1234F").unwrap_err().code, "pan.format");
    }

    #[test]
    fn phones_emails_pins() {
        assert!(phone("9876543210").is_ok());
        assert!(phone("+919876543210").is_ok());
        assert!(phone("+9198765432101").is_err());
        assert!(email("a.b@mail.example.in").is_ok());
        assert!(email("a b@example.in").is_err());
        assert!(email("a@localhost").is_err());
        assert!(pin("110001").is_ok());
        assert!(pin("11001").is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<PersonDoc>(r#"{"aadhaar": "123412341234"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"));
    }
}
