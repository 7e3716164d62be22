//! aa
