use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean with the half-width of its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    /// Sample mean.
    pub mean: f64,
    /// Half-width of the 95% Student-t interval (n - 1 degrees of freedom);
    /// NaN with fewer than two values, where no interval exists.
    pub ci95: f64,
}

/// Mean and 95% confidence half-width of repeated measurements, the way the
/// report states its results ("average RMSE 95% confidence").
///
/// # Panics
/// If `values` is empty.
#[track_caller]
pub fn mean_ci95(values: &[f64]) -> MeanCi {
    assert!(!values.is_empty(), "mean_ci95 of no values");
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return MeanCi {
            mean,
            ci95: f64::NAN,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .expect("n - 1 >= 1 degrees of freedom")
        .inverse_cdf(0.975);
    MeanCi {
        mean,
        ci95: t * (var / n).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_t_table() {
        // t(0.975, 4) = 2.776445; sd of 1..=5 is sqrt(2.5).
        let m = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((m.mean - 3.0).abs() < 1e-12);
        let want = 2.776445 * (2.5f64 / 5.0).sqrt();
        assert!((m.ci95 - want).abs() < 1e-5, "{} vs {want}", m.ci95);
    }

    #[test]
    fn one_value_has_no_interval() {
        let m = mean_ci95(&[0.9]);
        assert_eq!(m.mean, 0.9);
        assert!(m.ci95.is_nan());
    }
}
