//! relucert
pub fn placeholder() {}
