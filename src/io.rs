//! File formats (DESIGN §5).
