//! payout
