//! Who may do what: roles, the actions they allow, and API tokens.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A user's role. Every user has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Credit,
    Operations,
    Collections,
    /// Reads everything, changes nothing.
    Auditor,
    /// Reads only the loans its co-lending partner funds.
    Partner,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Credit,
        Role::Operations,
        Role::Collections,
        Role::Auditor,
        Role::Partner,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Credit => "credit",
            Role::Operations => "operations",
            Role::Collections => "collections",
            Role::Auditor => "auditor",
            Role::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Whether the role allows the action.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::Auditor => matches!(action, Read | ReadWebhooks | ReadAudit),
            Role::Partner => matches!(action, Read),
            Role::Credit => matches!(
                action,
                Read | BookLoan
                    | ChangeRate
                    | Restructure
                    | WriteOff
                    | IdentifyLoss
                    | Settle
                    | Approve
                    | ManageProducts
            ),
            Role::Operations => matches!(
                action,
                Read | BookLoan
                    | PostPayment
                    | ReversePayment
                    | LevyCharge
                    | WaiveCharge
                    | Prepay
                    | ChangeRate
                    | WriteOff
                    | IdentifyLoss
                    | Recover
                    | Settle
                    | Foreclose
                    | Approve
            ),
            Role::Collections => matches!(
                action,
                Read | PostPayment | LevyCharge | WaiveCharge | Recover | Settle
            ),
        }
    }
}

/// Everything the API lets a user do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    BookLoan,
    PostPayment,
    ReversePayment,
    LevyCharge,
    WaiveCharge,
    Prepay,
    ChangeRate,
    Restructure,
    WriteOff,
    IdentifyLoss,
    Recover,
    Settle,
    Foreclose,
    Approve,
    ManageUsers,
    ManageWebhooks,
    ReadWebhooks,
    ReadAudit,
    CheckpointAudit,
    ManageProducts,
}

impl Action {
    pub const ALL: [Action; 21] = [
        Action::Read,
        Action::BookLoan,
        Action::PostPayment,
        Action::ReversePayment,
        Action::LevyCharge,
        Action::WaiveCharge,
        Action::Prepay,
        Action::ChangeRate,
        Action::Restructure,
        Action::WriteOff,
        Action::IdentifyLoss,
        Action::Recover,
        Action::Settle,
        Action::Foreclose,
        Action::Approve,
        Action::ManageUsers,
        Action::ManageWebhooks,
        Action::ReadWebhooks,
        Action::ReadAudit,
        Action::CheckpointAudit,
        Action::ManageProducts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::BookLoan => "book_loan",
            Action::PostPayment => "post_payment",
            Action::ReversePayment => "reverse_payment",
            Action::LevyCharge => "levy_charge",
            Action::WaiveCharge => "waive_charge",
            Action::Prepay => "prepay",
            Action::ChangeRate => "change_rate",
            Action::Restructure => "restructure",
            Action::WriteOff => "write_off",
            Action::IdentifyLoss => "identify_loss",
            Action::Recover => "record_recovery",
            Action::Settle => "settle",
            Action::Foreclose => "foreclose",
            Action::Approve => "approve",
            Action::ManageUsers => "manage_users",
            Action::ManageWebhooks => "manage_webhooks",
            Action::ReadWebhooks => "read_webhooks",
            Action::ReadAudit => "read_audit",
            Action::CheckpointAudit => "checkpoint_audit",
            Action::ManageProducts => "manage_products",
        }
    }
}

/// A new API token: 32 random bytes, shown once; only its hash is stored.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("lb_{}", hex::encode(bytes))
}

/// SHA-256 (hex) of a token. Tokens are long and random, so a fast hash is enough: there is
/// nothing to guess that a slow hash would protect.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// SHA-256 (hex) of a request body, for idempotency and the audit log.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_roles_change_nothing() {
        for action in [
            Action::PostPayment,
            Action::WriteOff,
            Action::BookLoan,
            Action::Approve,
        ] {
            assert!(!Role::Auditor.may(action));
            assert!(!Role::Partner.may(action));
        }
        assert!(Role::Auditor.may(Action::Read));
        assert!(Role::Collections.may(Action::PostPayment));
        assert!(!Role::Collections.may(Action::WriteOff));
        assert!(Role::Admin.may(Action::ManageUsers));
        assert!(!Role::Operations.may(Action::ManageUsers));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 67);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
    }
}

#[cfg(test)]
mod documented {
    use super::*;

    /// The roles table of `docs/api.md` is what `Role::may` enforces, cell by cell.
    #[test]
    fn the_documented_rights_are_the_enforced_ones() {
        let doc = include_str!("../../../docs/api.md");
        let start = doc
            .find("| Action | admin |")
            .expect("docs/api.md has the roles table");
        let mut rows = 0;
        for line in doc[start..].lines().skip(2) {
            if !line.starts_with('|') {
                break;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let action = Action::ALL
                .into_iter()
                .find(|a| a.name() == cells[0])
                .unwrap_or_else(|| panic!("unknown action `{}` in docs/api.md", cells[0]));
            for (role, cell) in Role::ALL.into_iter().zip(&cells[1..]) {
                assert_eq!(
                    role.may(action),
                    *cell == "yes",
                    "docs/api.md says {} {} `{}`",
                    role.name(),
                    if *cell == "yes" { "may" } else { "may not" },
                    action.name()
                );
            }
            rows += 1;
        }
        assert_eq!(rows, Action::ALL.len(), "every action is in the table");
    }
}
