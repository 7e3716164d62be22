//! What the store's integration tests share: each test file takes the module it needs with
//! `mod common;` and leaves the rest unused.
#![allow(dead_code)]

pub mod eod;
