//! Percentiles of a sample.

/// The median and 99th percentile of a sample.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary {
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile (nearest rank).
    pub(crate) p99: f64,
}

/// Sorts `xs` and summarizes it (all zero when empty).
pub(crate) fn summary(xs: &mut [f64]) -> Summary {
    if xs.is_empty() {
        return Summary::default();
    }
    xs.sort_by(f64::total_cmp);
    Summary {
        p50: percentile(xs, 50.0),
        p99: percentile(xs, 99.0),
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted `xs`.
fn percentile(xs: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = summary(&mut xs);
        assert_eq!(s.p50, 50.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(summary(&mut [7.0]).p99, 7.0);
        assert_eq!(summary(&mut []).p50, 0.0);
    }
}
