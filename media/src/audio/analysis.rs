//! Finding tones in PCM: Goertzel power at one frequency and a coarse-to-fine scan for the
//! dominant frequency (small and allocation-free; no FFT crate needed).

/// Power of `freq` Hz in `samples` (mono, `rate` Hz), Goertzel algorithm, normalised so a
/// full-scale sine gives about 0.25.
pub fn goertzel_power(samples: &[f32], rate: u32, freq: f32) -> f32 {
    let n = samples.len().max(1) as f32;
    let w = 2.0 * std::f32::consts::PI * freq / rate as f32;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f32, 0f32);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    p / (n * n)
}

/// The frequency (Hz) with the most power between `lo` and `hi`: a 10 Hz scan refined to
/// 1 Hz around the peak.
pub fn dominant_frequency(samples: &[f32], rate: u32, lo: f32, hi: f32) -> f32 {
    let scan = |from: f32, to: f32, step: f32| {
        let mut best = (from, -1.0f32);
        let mut f = from;
        while f <= to {
            let p = goertzel_power(samples, rate, f);
            if p > best.1 {
                best = (f, p);
            }
            f += step;
        }
        best.0
    };
    let coarse = scan(lo, hi, 10.0);
    scan((coarse - 10.0).max(lo), (coarse + 10.0).min(hi), 1.0)
}

/// One channel out of interleaved samples.
pub fn channel(interleaved: &[f32], channels: usize, index: usize) -> Vec<f32> {
    interleaved
        .iter()
        .skip(index)
        .step_by(channels)
        .copied()
        .collect()
}

/// Root mean square of samples.
pub fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|x| x * x).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / 48_000.0).sin() * 0.5)
            .collect()
    }

    #[test]
    fn finds_the_tone() {
        for f in [440.0, 1000.0, 3150.0] {
            let s = sine(f, 9600);
            let got = dominant_frequency(&s, 48_000, 100.0, 8000.0);
            assert!((got - f).abs() <= 2.0, "{f} -> {got}");
            assert!(goertzel_power(&s, 48_000, f) > 100.0 * goertzel_power(&s, 48_000, f * 1.5));
        }
    }

    #[test]
    fn silence_has_no_power() {
        assert_eq!(goertzel_power(&[0.0; 480], 48_000, 1000.0), 0.0);
        assert_eq!(rms(&[0.0; 10]), 0.0);
        assert_eq!(channel(&[1.0, 2.0, 3.0, 4.0], 2, 1), vec![2.0, 4.0]);
    }
}
