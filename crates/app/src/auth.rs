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

    /// Whether the role allows the action: an admin may do everything, any other role what the
    /// rights table grants it.
    pub fn may(self, action: Action) -> bool {
        self == Role::Admin || action.holders().contains(&self)
    }
}

/// The rights table: every action, its name, and the roles besides admin that hold it. The rights
/// of loan commands come from the loan command table
/// ([`crate::servicing::commands`]), so a new command adds its right there, beside its row.
macro_rules! rights {
    (
        rights { $( $loan:ident = $loan_name:literal : [$($loan_role:ident),*] ),* $(,)? }
        commands { $($commands:tt)* }
    ) => {
        rights! {
            @all
            Read = "read": [Credit, Operations, Collections, Auditor, Partner],
            $( $loan = $loan_name: [$($loan_role),*], )*
            Approve = "approve": [Credit, Operations],
            ManageUsers = "manage_users": [],
            ManageWebhooks = "manage_webhooks": [],
            ReadWebhooks = "read_webhooks": [Auditor],
            ReadAudit = "read_audit": [Auditor],
            CheckpointAudit = "checkpoint_audit": [],
            ManageProducts = "manage_products": [Credit],
            Originate = "originate": [Credit, Operations],
            DecideCredit = "decide_credit": [Credit],
            DecidePartner = "decide_partner": [Partner],
            Disburse = "disburse": [Operations],
            CloseBusiness = "close_business": [],
            ReadLedger = "read_ledger": [Auditor, Operations],
            ManageMandates = "manage_mandates": [Operations, Collections],
            ConfigureCollections = "configure_collections": [Operations],
            CollectDebits = "collect_debits": [Operations, Collections],
        }
    };
    (@all $( $action:ident = $name:literal : [$($role:ident),*] ),* $(,)?) => {
        /// Everything the API lets a user do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $( $action, )*
        }

        impl Action {
            pub const ALL: [Action; [$($name),*].len()] = [$(Action::$action),*];

            pub fn name(self) -> &'static str {
                match self {
                    $( Action::$action => $name, )*
                }
            }

            /// The roles besides admin that may do it.
            fn holders(self) -> &'static [Role] {
                match self {
                    $( Action::$action => &[$(Role::$role),*], )*
                }
            }
        }
    };
}

crate::loan_command_table!(rights);

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
