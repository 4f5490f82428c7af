//! A batch's rows split over the cores, for the estimators that predict
//! row by row (tree ensembles, neighbours): each chunk's rows are computed
//! as they would be alone, so the outputs do not depend on the threads.

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

/// Threads for a batch of `rows` rows whose `work` reaches `threshold`:
/// every core (at most one a row); one below it, where starting threads
/// costs more than it saves.
pub(crate) fn threads_for(rows: usize, work: usize, threshold: usize) -> usize {
    if work >= threshold {
        std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(rows)
            .max(1)
    } else {
        1
    }
}

/// `f` over `x`'s rows and the same rows of `out`, in `threads` chunks
/// side by side (one: on this thread).
pub(crate) fn by_row_chunks<F>(x: ArrayView2<'_, f64>, mut out: ArrayViewMut2<'_, f64>, threads: usize, f: F)
where
    F: Fn(ArrayView2<'_, f64>, ArrayViewMut2<'_, f64>) + Sync,
{
    if threads <= 1 || x.nrows() == 0 {
        f(x, out);
        return;
    }
    let chunk = x.nrows().div_ceil(threads);
    std::thread::scope(|scope| {
        for (xs, os) in x
            .axis_chunks_iter(Axis(0), chunk)
            .zip(out.axis_chunks_iter_mut(Axis(0), chunk))
        {
            let f = &f;
            scope.spawn(move || f(xs, os));
        }
    });
}
