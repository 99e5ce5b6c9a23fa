//! The weights file: `policies/scan/model-v1.bin`.
//!
//! Layout (little-endian): magic `PCSCANW1`, format version (u32), feature
//! bits (u32), window and stride (u32 each), four biases and four thresholds
//! (f32 each), the weight scale (f32), `1 << bits` weights as i16 (multiplied
//! by the scale on load), then the SHA-256 of everything before it.
//!
//! Invariant: a file loads only if its checksum, version, feature bits and
//! window shape match this build; anything else is an error naming the file.

use super::features::{DIM, DIM_BITS};
use super::{Model, STRIDE, WINDOW};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"PCSCANW1";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 * 4 + 4 * 8 + 4;

/// Serialises a model.
pub fn to_bytes(model: &Model) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + DIM * 2 + 32);
    out.extend_from_slice(MAGIC);
    for v in [VERSION, DIM_BITS, WINDOW as u32, STRIDE as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in model.bias.iter().chain(model.thresholds.iter()) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let max = model.weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
    out.extend_from_slice(&scale.to_le_bytes());
    for w in &model.weights {
        let q = (w / scale).round().clamp(-32767.0, 32767.0) as i16;
        out.extend_from_slice(&q.to_le_bytes());
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Parses and verifies a weights file; the error says what is wrong.
pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
    let expected = HEADER + DIM * 2 + 32;
    if bytes.len() < HEADER + 32 || &bytes[..8] != MAGIC {
        return Err("not a portcullis weights file (bad magic)".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("checksum mismatch: the file is corrupt or was edited".into());
    }
    let u = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let f = |i: usize| f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (version, bits, window, stride) = (u(8), u(12), u(16), u(20));
    if version != VERSION {
        return Err(format!(
            "format version {version}, this build reads {VERSION}"
        ));
    }
    if bits != DIM_BITS || window as usize != WINDOW || stride as usize != STRIDE {
        return Err(format!(
            "trained for {bits} feature bits and windows {window}/{stride}; this build uses {DIM_BITS} and {WINDOW}/{STRIDE}: retrain with `portcullis scan train`"
        ));
    }
    if bytes.len() != expected {
        return Err(format!("{} bytes, expected {expected}", bytes.len()));
    }
    let mut bias = [0.0; 4];
    let mut thresholds = [0.0; 4];
    for k in 0..4 {
        bias[k] = f(24 + 4 * k);
        thresholds[k] = f(40 + 4 * k);
    }
    let scale = f(56);
    let codes: Vec<i16> = body[HEADER..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    // The same product as `sink::Weights::Packed` computes per lookup.
    let weights = codes.iter().map(|&q| f32::from(q) * scale).collect();
    Ok(Model {
        weights,
        packed: Some((codes, scale)),
        bias,
        thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_round_trips_through_its_file_format() {
        let mut m = Model::zero();
        m.weights[7] = 1.5;
        m.weights[9] = -0.25;
        m.bias = [0.0, -1.0, -2.0, -3.0];
        m.thresholds = [1.0, 0.9, 0.8, 0.7];
        let back = from_bytes(&to_bytes(&m)).unwrap();
        for f in [7, 9, 11] {
            assert_eq!(back.scoring_weights().get(f), back.weights[f as usize]);
        }
        assert!((back.weights[7] - 1.5).abs() < 1e-3);
        assert!((back.weights[9] + 0.25).abs() < 1e-3);
        assert_eq!(back.bias, m.bias);
        assert_eq!(back.thresholds, m.thresholds);
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        let mut bytes = to_bytes(&Model::zero());
        bytes[100] ^= 1;
        assert!(from_bytes(&bytes).unwrap_err().contains("checksum"));
    }

    #[test]
    fn another_file_is_refused_by_its_magic() {
        assert!(from_bytes(b"hello world, this is not a model at all, not at all").is_err());
    }
}
