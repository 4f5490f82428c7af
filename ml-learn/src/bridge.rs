//! Crossing to linfa's ndarray 0.16 without copying where the layout allows.

use ml_core::ndarray::{Array1, Array2, ArrayView2};
use std::borrow::Cow;

/// A standard-layout slice of `x` (copied only if `x` is not contiguous).
pub(crate) fn contiguous<'a>(x: &'a ArrayView2<'a, f64>) -> Cow<'a, [f64]> {
    match x.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.iter().copied().collect()),
    }
}

/// An ndarray 0.16 view over a standard-layout slice.
pub(crate) fn view16(data: &[f64], rows: usize, cols: usize) -> ndarray16::ArrayView2<'_, f64> {
    ndarray16::ArrayView2::from_shape((rows, cols), data).expect("slice length is rows × cols")
}

pub(crate) fn vec1(a: &ndarray16::Array1<f64>) -> Array1<f64> {
    a.iter().copied().collect()
}

pub(crate) fn mat2(a: &ndarray16::Array2<f64>) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| a[[i, j]])
}
