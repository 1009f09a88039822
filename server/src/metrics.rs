//! Prometheus text format (version 0.0.4) for `GET /metrics`: a histogram the writer fills
//! without locks, and a small writer of samples. The names are listed in the README.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A Prometheus histogram with fixed upper bounds; observations are lock-free.
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, plus +Inf (not cumulative; summed when rendered).
    counts: Vec<AtomicU64>,
    /// The sum of the observations in millionths.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum_micros: AtomicU64::new(0) }
    }

    pub fn observe(&self, v: f64) {
        let i = self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((v.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Seconds of a commit (its fsync included).
pub const COMMIT_SECONDS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Commands in one batch (one transaction).
pub const BATCH_COMMANDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Text in the exposition format.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", inner.join(","))
}

impl Exposition {
    /// `# HELP` and `# TYPE` of a metric; its samples follow.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, pairs: &[(&str, &str)], value: f64) {
        let _ = writeln!(self.out, "{name}{} {value}", labels(pairs));
    }

    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.family(name, "histogram", help);
        let mut cumulative = 0u64;
        for (i, bound) in h.bounds.iter().enumerate() {
            cumulative += h.counts[i].load(Ordering::Relaxed);
            let le = format!("{bound}");
            let _ = writeln!(self.out, "{name}_bucket{} {cumulative}", labels(&[("le", &le)]));
        }
        cumulative += h.counts[h.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(self.out, "{name}_bucket{} {cumulative}", labels(&[("le", "+Inf")]));
        let _ = writeln!(self.out, "{name}_sum {}", h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(self.out, "{name}_count {cumulative}");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_sum_and_count() {
        let h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            h.observe(v);
        }
        let mut e = Exposition::default();
        e.histogram("x_seconds", "X.", &h);
        let text = e.finish();
        assert!(text.contains("x_seconds_bucket{le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"1\"} 3\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("x_seconds_sum 4.25\n") && text.contains("x_seconds_count 4\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut e = Exposition::default();
        e.sample("y", &[("device", "a\"b\\c\nd")], 1.0);
        assert_eq!(e.finish(), "y{device=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
