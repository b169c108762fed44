//! Medians and the growth exponent (least squares on log-log).

/// Median of `xs` (the mean of the two middle values for an even count); `NaN` when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Least-squares fit of `ln t = a + k ln n` over `(n, t)` points: `(k, a)`.
/// `None` with fewer than two distinct sizes.
pub fn loglog_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .filter(|(n, t)| *n > 0.0 && *t > 0.0 && t.is_finite())
        .map(|(n, t)| (n.ln(), t.ln()))
        .collect();
    let len = p.len() as f64;
    if p.len() < 2 {
        return None;
    }
    let mx = p.iter().map(|q| q.0).sum::<f64>() / len;
    let my = p.iter().map(|q| q.1).sum::<f64>() / len;
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let k = sxy / sxx;
    Some((k, my - k * mx))
}

/// The fitted time at size `n`.
pub fn predict((k, a): (f64, f64), n: f64) -> f64 {
    (a + k * n.ln()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_nan() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
    }

    #[test]
    fn fit_recovers_exponent() {
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&n: &f64| (n, 0.05 * n.powf(2.0)))
            .collect();
        let (k, a) = loglog_fit(&pts).unwrap();
        assert!((k - 2.0).abs() < 1e-9, "{k}");
        assert!((predict((k, a), 32.0) - 0.05 * 1024.0).abs() < 1e-6);
        assert!(loglog_fit(&[(1.0, 1.0)]).is_none());
        assert!(loglog_fit(&[(2.0, 1.0), (2.0, 3.0)]).is_none());
    }
}
