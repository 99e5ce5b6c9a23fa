//! The statistical layer: a logistic-regression model over hashed features
//! ([`features`]), scored on sliding windows of tokens so that a short
//! injection inside a long document is not diluted; the highest window decides.
//! [`train`] fits it deterministically; [`weights`] reads and writes the
//! versioned, checksummed weights file.
//!
//! Invariants: scoring is linear in the number of features; a model is
//! immutable once built; the same text, group and weights always give the same
//! score.

mod address;
pub mod features;
mod persona;
pub mod plan;
mod sentence;
pub mod sink;
pub(crate) mod text;
pub mod train;
pub mod weights;

use features::{DIM, Doc, Group};
use sink::Weights;

/// Tokens per window.
pub const WINDOW: usize = 48;
/// Tokens between window starts.
pub const STRIDE: usize = 12;

/// A trained model.
#[derive(Debug, Clone)]
pub struct Model {
    /// One weight per hashed feature. Private so that it cannot drift from
    /// `packed`: only training (which has no `packed`) writes it.
    weights: Vec<f32>,
    /// The same weights as the weights file stores them (i16 codes and the
    /// scale), for a model read from one: `weights[i]` is exactly
    /// `f32::from(codes[i]) * scale`. Half the memory, so the random lookups
    /// of scanning stay in the core's cache.
    packed: Option<(Vec<i16>, f32)>,
    /// Bias per group (index = `Group as usize`; 0 unused).
    pub bias: [f32; 4],
    /// Probability at or above which a text is flagged, per group.
    pub thresholds: [f32; 4],
}

/// A model's verdict on one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Probability of injection in the highest window.
    pub probability: f32,
    /// That window, as a token range.
    pub window: (usize, usize),
}

impl Model {
    /// An all-zero model (probability 0.5 everywhere, thresholds 1.0: never flags).
    pub fn zero() -> Model {
        Model {
            weights: vec![0.0; DIM],
            packed: None,
            bias: [0.0; 4],
            thresholds: [1.0; 4],
        }
    }

    /// One weight per hashed feature.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The weights in the form scanning reads fastest; the same values.
    pub fn scoring_weights(&self) -> Weights<'_> {
        match &self.packed {
            Some((codes, scale)) => Weights::Packed(codes, *scale),
            None => Weights::Plain(&self.weights),
        }
    }

    /// The flagging threshold for `group`.
    pub fn threshold(&self, group: Group) -> f32 {
        self.thresholds[group as usize]
    }

    /// Raw margin of tokens `a..b`.
    pub fn margin(&self, doc: &Doc, group: Group, a: usize, b: usize) -> f32 {
        let feats = doc.window(a, b);
        let sum: f32 = feats
            .iter()
            .map(|&f| self.weights.get(f as usize).copied().unwrap_or(0.0))
            .sum();
        self.bias[group as usize] + sum / (feats.len().max(1) as f32).sqrt()
    }

    /// Scores every window and returns the highest.
    pub fn score(&self, doc: &Doc, group: Group) -> Score {
        let (margin, window) = self.best_window(doc, group);
        Score {
            probability: sigmoid(margin),
            window,
        }
    }

    /// The highest-margin window and its margin.
    pub fn best_window(&self, doc: &Doc, group: Group) -> (f32, (usize, usize)) {
        let mut sums = Vec::with_capacity(doc.len());
        let mut counts = Vec::with_capacity(doc.len());
        let mut lo = 0usize;
        for &hi in &doc.ends {
            let hi = hi as usize;
            let s: f32 = doc.feats[lo..hi]
                .iter()
                .map(|&f| self.weights.get(f as usize).copied().unwrap_or(0.0))
                .sum();
            sums.push(s);
            counts.push((hi - lo) as u32);
            lo = hi;
        }
        self.best_window_of(&sums, &counts, group)
    }

    /// The highest-margin window from per-token weight sums and feature counts.
    pub fn best_window_of(
        &self,
        sums: &[f32],
        counts: &[u32],
        group: Group,
    ) -> (f32, (usize, usize)) {
        let n = sums.len().min(counts.len());
        let bias = self.bias[group as usize];
        if n <= WINDOW {
            // One window: no prefix sums needed.
            let total: f32 = sums[..n].iter().sum();
            let c = counts[..n].iter().sum::<u32>().max(1) as f32;
            return (bias + total / c.sqrt(), (0, n));
        }
        let mut contrib = Vec::with_capacity(n + 1);
        let mut count = Vec::with_capacity(n + 1);
        contrib.push(0.0f32);
        count.push(0u32);
        for t in 0..n {
            contrib.push(contrib[t] + sums[t]);
            count.push(count[t] + counts[t]);
        }
        let mut best = (f32::NEG_INFINITY, (0, WINDOW));
        let mut start = 0;
        loop {
            let end = (start + WINDOW).min(n);
            let c = (count[end] - count[start]).max(1) as f32;
            let m = bias + (contrib[end] - contrib[start]) / c.sqrt();
            if m > best.0 {
                best = (m, (start, end));
            }
            if end == n {
                break;
            }
            start = (start + STRIDE).min(n - WINDOW);
        }
        best
    }

    /// The tokens of a window that push its score up most, as (token index, contribution).
    pub fn strongest_tokens(
        &self,
        doc: &Doc,
        window: (usize, usize),
        k: usize,
    ) -> Vec<(usize, f32)> {
        let mut v: Vec<(usize, f32)> = (window.0..window.1)
            .map(|t| {
                let s = doc
                    .window(t, t + 1)
                    .iter()
                    .map(|&f| self.weights.get(f as usize).copied().unwrap_or(0.0))
                    .sum();
                (t, s)
            })
            .filter(|&(_, s)| s > 0.0)
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
