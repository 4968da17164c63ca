//! The floating-point types of the training kernel: f64 (default) and f32, behind one
//! small trait so the kernel in `engine` is written once for both.

use std::borrow::Cow;

/// Floating-point type of the kernel.
pub(crate) trait Real:
    faer::traits::ComplexField
    + Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    /// Machine epsilon (distance from 1 to the next float).
    const EPS: f64;
    /// Conversion from f64 (rounding).
    fn of(x: f64) -> Self;
    /// Conversion to f64 (exact).
    fn f(self) -> f64;
    /// The data in this precision: borrowed for f64 (no copy), converted otherwise.
    fn cow(x: &[f64]) -> Cow<'_, [Self]>;
}

impl Real for f64 {
    const EPS: f64 = f64::EPSILON;
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn f(self) -> f64 {
        self
    }
    fn cow(x: &[f64]) -> Cow<'_, [f64]> {
        Cow::Borrowed(x)
    }
}

impl Real for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn f(self) -> f64 {
        self as f64
    }
    fn cow(x: &[f64]) -> Cow<'_, [f32]> {
        Cow::Owned(x.iter().map(|&t| t as f32).collect())
    }
}
