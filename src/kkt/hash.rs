//! Content hashes of a network and a dataset, independent of the file format: a
//! certificate names its inputs by them and [`super::verify`] refuses a certificate
//! whose hashes do not match (docs/formats.md).

use sha2::{Digest, Sha256};

use crate::data::Dataset;
use crate::net::Net;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a network's content (independent of file format): the tag
/// `relucert/net-content@1`, then d, k, bias flag as u64 little-endian, then w (row-major),
/// b (if any) and v as f64 little-endian.
pub fn net_content_hash(net: &Net) -> String {
    let mut h = Sha256::new();
    h.update(crate::io::tags::NET_CONTENT.as_bytes());
    for n in [net.dim() as u64, net.width() as u64, u64::from(net.has_bias())] {
        h.update(n.to_le_bytes());
    }
    for t in net.flatten().iter() {
        h.update(t.to_le_bytes());
    }
    hex(&h.finalize())
}

/// SHA-256 of a dataset's content: the tag `relucert/data-content@1`, d and m as u64
/// little-endian, then x (row-major) and y as f64 little-endian.
pub fn data_content_hash(data: &Dataset) -> String {
    let mut h = Sha256::new();
    h.update(crate::io::tags::DATA_CONTENT.as_bytes());
    for n in [data.d() as u64, data.m() as u64] {
        h.update(n.to_le_bytes());
    }
    for i in 0..data.m() {
        for t in data.x().row(i).iter() {
            h.update(t.to_le_bytes());
        }
    }
    for t in data.y().iter() {
        h.update(t.to_le_bytes());
    }
    hex(&h.finalize())
}
