//! bureau
