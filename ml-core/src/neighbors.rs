//! Nearest-neighbour search for [`Estimator::Neighbors`]: brute force, or a
//! KD-tree (scikit-learn's `algorithm="kd_tree"`), which finds exactly the
//! same neighbours in the same order, so predictions do not depend on the
//! search.
//!
//! Both searches rank candidates by `(squared distance, row)`, computed by
//! the one `sq_dist`. The tree prunes a box only when its lower bound is
//! strictly greater than the current k-th candidate; the bound is a sum of
//! squared gaps no larger, term by term, than the squared differences of
//! any point in the box, and rounding is monotone, so no candidate that
//! brute force would keep is ever pruned.
//!

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1};
use serde::{Deserialize, Serialize};

use crate::Estimator;

/// How a k-nearest-neighbours model finds the neighbours (scikit-learn's
/// `algorithm`); the neighbours found are the same either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeighborSearch {
    /// A KD-tree for up to [`NeighborSearch::KD_TREE_MAX_FEATURES`]
    /// features (as scikit-learn's `"auto"` chooses), brute force above.
    #[default]
    Auto,
    /// A KD-tree whatever the width.
    KdTree,
    /// Every training row for every query.
    Brute,
}

impl NeighborSearch {
    /// Above this many features `Auto` searches by brute force: boxes in
    /// many dimensions rarely prune (scikit-learn's threshold).
    pub const KD_TREE_MAX_FEATURES: usize = 15;
    /// scikit-learn's default `leaf_size`.
    pub const DEFAULT_LEAF_SIZE: usize = 30;
    /// The largest `leaf_size` accepted.
    pub const MAX_LEAF_SIZE: usize = 100_000;

    /// The name scikit-learn uses (`auto`, `kd_tree`, `brute`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::KdTree => "kd_tree",
            Self::Brute => "brute",
        }
    }

    /// Parse scikit-learn's name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Self::Auto),
            "kd_tree" => Some(Self::KdTree),
            "brute" => Some(Self::Brute),
            _ => None,
        }
    }

    /// [`NeighborSearch::DEFAULT_LEAF_SIZE`], for serde's defaults.
    pub fn default_leaf_size() -> usize {
        Self::DEFAULT_LEAF_SIZE
    }

    /// Whether a tree is used over `width` features.
    pub fn uses_tree(self, width: usize) -> bool {
        match self {
            Self::Auto => width <= Self::KD_TREE_MAX_FEATURES,
            Self::KdTree => true,
            Self::Brute => false,
        }
    }
}

pub(crate) fn is_auto(s: &NeighborSearch) -> bool {
    *s == NeighborSearch::Auto
}

pub(crate) fn is_default_leaf_size(n: &usize) -> bool {
    *n == NeighborSearch::DEFAULT_LEAF_SIZE
}

/// `term(0) + … + term(n - 1)` in four lanes (term `i` into lane `i mod
/// 4`, the lanes added as `(l0 + l1) + (l2 + l3)`): the compiler keeps
/// the lanes in one vector register. Distances and box bounds are summed
/// in this one order, so a bound whose every term is at most a distance's
/// is at most the distance after rounding too.
#[inline(always)]
fn lanes(n: usize, term: impl Fn(usize) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let full = n / 4 * 4;
    let mut i = 0;
    while i < full {
        acc[0] += term(i);
        acc[1] += term(i + 1);
        acc[2] += term(i + 2);
        acc[3] += term(i + 3);
        i += 4;
    }
    for j in full..n {
        acc[j - full] += term(j);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Squared Euclidean distance between `query` and a row of the same
/// width: the one formula both searches use, so they rank candidates
/// identically.
#[inline]
pub(crate) fn sq_dist(query: &[f64], row: &[f64]) -> f64 {
    let n = query.len().min(row.len());
    let (q, r) = (&query[..n], &row[..n]);
    lanes(n, |i| {
        let d = q[i] - r[i];
        d * d
    })
}

/// A row as a slice: borrowed when contiguous, else copied.
fn as_slice<'a>(row: &'a ArrayView1<'_, f64>) -> std::borrow::Cow<'a, [f64]> {
    match row.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(row.to_vec()),
    }
}

/// Offer candidate `c` to the `k` best so far (a max-heap of them).
#[inline]
fn offer(heap: &mut BinaryHeap<Candidate>, k: usize, c: Candidate) {
    if heap.len() < k {
        heap.push(c);
    } else if heap.peek().is_some_and(|worst| c < *worst) {
        heap.pop();
        heap.push(c);
    }
}

/// A candidate neighbour, ordered by distance then row.
#[derive(Debug, Clone, Copy)]
struct Candidate(f64, usize);

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// A KD-tree over training rows: nodes split at the median of their widest
/// feature until at most `leaf_size` rows remain, as scikit-learn's does.
#[derive(Debug, Clone)]
pub struct KdTree {
    width: usize,
    /// Row numbers, permuted so that each node's rows are contiguous.
    order: Vec<usize>,
    /// The rows in `order`, `rows × width`, for sequential reads.
    data: Vec<f64>,
    /// Each node's `[start, end)` in `order`; node `i`'s children are
    /// `2i + 1` and `2i + 2`.
    ranges: Vec<(usize, usize)>,
    /// Each node's bounding box: `width` lows then `width` highs.
    boxes: Vec<f64>,
}

impl KdTree {
    /// Build over `points` (`rows × features`, finite).
    pub fn new(points: ArrayView2<'_, f64>, leaf_size: usize) -> Self {
        let (rows, width) = points.dim();
        let leaf_size = leaf_size.max(1);
        // Levels as scikit-learn computes them: leaves hold between
        // leaf_size / 2 and leaf_size rows.
        let mut levels = 1usize;
        while rows.div_ceil(1 << (levels - 1)) > leaf_size && levels < 40 {
            levels += 1;
        }
        let n_nodes = (1usize << levels) - 1;
        let mut order: Vec<usize> = (0..rows).collect();
        let mut ranges = vec![(0, 0); n_nodes];
        let mut boxes = vec![0.0; n_nodes * 2 * width];
        for node in 0..n_nodes {
            let (start, end) = if node == 0 {
                (0, rows)
            } else {
                let parent = ranges[(node - 1) / 2];
                let mid = parent.0 + (parent.1 - parent.0) / 2;
                if node % 2 == 1 {
                    (parent.0, mid)
                } else {
                    (mid, parent.1)
                }
            };
            ranges[node] = (start, end);
            let (lo, hi) = boxes[node * 2 * width..(node + 1) * 2 * width].split_at_mut(width);
            lo.fill(f64::INFINITY);
            hi.fill(f64::NEG_INFINITY);
            for &r in &order[start..end] {
                for (j, &v) in points.row(r).iter().enumerate() {
                    lo[j] = lo[j].min(v);
                    hi[j] = hi[j].max(v);
                }
            }
            if 2 * node + 1 < n_nodes && end - start > 1 && width > 0 {
                // Split the widest feature at the median; ties by row, so
                // the tree does not depend on the sort's internals.
                let dim = (0..width)
                    .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])).then(b.cmp(&a)))
                    .unwrap_or(0);
                let mid = (end - start) / 2;
                order[start..end].select_nth_unstable_by(mid, |&a, &b| {
                    points[[a, dim]].total_cmp(&points[[b, dim]]).then(a.cmp(&b))
                });
            }
        }
        let mut data = Vec::with_capacity(rows * width);
        for &r in &order {
            data.extend(points.row(r).iter());
        }
        Self {
            width,
            order,
            data,
            ranges,
            boxes,
        }
    }

    /// The `k` nearest rows to `query` as `(squared distance, row)`,
    /// nearest first, ties to the earlier row: what brute force finds.
    pub fn nearest(&self, query: ArrayView1<'_, f64>, k: usize, out: &mut Vec<(f64, usize)>) {
        let query = as_slice(&query);
        let mut heap = BinaryHeap::with_capacity(k + 1);
        if k > 0 && !self.order.is_empty() {
            self.visit(0, &query, k, &mut heap);
        }
        out.clear();
        out.extend(heap.into_sorted_vec().into_iter().map(|c| (c.0, c.1)));
    }

    /// The squared distance from `query` to node's box: each feature's gap
    /// to the box (zero inside it), summed in the lanes' order.
    fn lower_bound(&self, node: usize, query: &[f64]) -> f64 {
        let b = &self.boxes[node * 2 * self.width..(node + 1) * 2 * self.width];
        let (lo, hi) = b.split_at(self.width);
        // An empty node's box is inverted (lows +inf): its bound is +inf.
        let n = query.len().min(lo.len());
        lanes(n, |i| {
            let q = query[i];
            let gap = if q < lo[i] {
                q - lo[i]
            } else if q > hi[i] {
                q - hi[i]
            } else {
                0.0
            };
            gap * gap
        })
    }

    fn visit(&self, node: usize, query: &[f64], k: usize, heap: &mut BinaryHeap<Candidate>) {
        let (start, end) = self.ranges[node];
        if start == end {
            return;
        }
        let left = 2 * node + 1;
        if left >= self.ranges.len() {
            for i in start..end {
                let row = &self.data[i * self.width..(i + 1) * self.width];
                offer(heap, k, Candidate(sq_dist(query, row), self.order[i]));
            }
            return;
        }
        let (bl, br) = (self.lower_bound(left, query), self.lower_bound(left + 1, query));
        let children = if bl <= br {
            [(left, bl), (left + 1, br)]
        } else {
            [(left + 1, br), (left, bl)]
        };
        for (child, bound) in children {
            let pruned = heap.len() == k && heap.peek().is_some_and(|worst| bound > worst.0);
            if !pruned {
                self.visit(child, query, k, heap);
            }
        }
    }
}

/// Brute force over `points` (rows of `width` values, in one slice): every
/// row's distance, the `k` smallest by `(distance, row)`, nearest first.
fn brute_nearest(points: &[f64], width: usize, query: ArrayView1<'_, f64>, k: usize, out: &mut Vec<(f64, usize)>) {
    let query = as_slice(&query);
    let mut heap = BinaryHeap::with_capacity(k + 1);
    if width == 0 {
        // No features: every row is at distance zero.
        heap.extend((0..k).map(|i| Candidate(0.0, i)));
    } else {
        // Rows come in increasing order, so once k are kept a row no
        // nearer than the k-th (a tie loses to its earlier row) is out.
        let mut worst = f64::INFINITY;
        for (i, row) in points.chunks_exact(width).enumerate() {
            let d = sq_dist(&query, row);
            if d >= worst {
                continue;
            }
            offer(&mut heap, k, Candidate(d, i));
            if heap.len() == k {
                worst = heap.peek().map_or(f64::INFINITY, |c| c.0);
            }
        }
    }
    out.clear();
    out.extend(heap.into_sorted_vec().into_iter().map(|c| (c.0, c.1)));
}

/// Average the neighbours' outputs (by inverse distance when weighted,
/// exact matches alone deciding when there are some).
fn vote(near: &[(f64, usize)], outputs: ArrayView2<'_, f64>, distance_weighted: bool, mut o: ArrayViewMut1<'_, f64>) {
    let exact = near.iter().any(|d| d.0 == 0.0);
    let mut total = 0.0;
    for &(d2, i) in near {
        let w = match (distance_weighted, exact) {
            (false, _) => 1.0,
            (true, true) => f64::from(u8::from(d2 == 0.0)),
            (true, false) => 1.0 / d2.sqrt(),
        };
        total += w;
        o.scaled_add(w, &outputs.row(i));
    }
    o /= total;
}

/// Query rows × training rows × features above which a batch is split
/// over the cores.
const PARALLEL_WORK: usize = 1 << 23;
/// Fewer query rows than this are searched by brute force under `Auto`
/// when no tree was built in advance: building one costs more.
const AUTO_TREE_MIN_QUERIES: usize = 16;

/// A neighbour model's raw outputs for `x` ([`Estimator::Neighbors`];
/// any other estimator has none: an empty matrix), searching with `tree`
/// when given, else as the model says (building a tree for this call).
pub(crate) fn raw_output(estimator: &Estimator, tree: Option<&KdTree>, x: ArrayView2<'_, f64>) -> Array2<f64> {
    let Estimator::Neighbors {
        points,
        outputs,
        k,
        distance_weighted,
        search,
        leaf_size,
    } = estimator
    else {
        return Array2::zeros((x.nrows(), 0));
    };
    let (points, outputs, distance_weighted, search) = (points.view(), outputs.view(), *distance_weighted, *search);
    let mut out = Array2::zeros((x.nrows(), outputs.ncols()));
    let k = (*k).clamp(1, points.nrows().max(1));
    let built;
    let tree = match tree {
        Some(t) => Some(t),
        None if search == NeighborSearch::KdTree
            || (search.uses_tree(points.ncols()) && x.nrows() >= AUTO_TREE_MIN_QUERIES) =>
        {
            built = KdTree::new(points, *leaf_size);
            Some(&built)
        }
        None => None,
    };
    // Brute force reads the rows from one contiguous slice.
    let flat = match tree {
        Some(_) => std::borrow::Cow::Borrowed(&[][..]),
        None => match points.as_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(points.iter().copied().collect()),
        },
    };
    let width = points.ncols();
    let run = |xs: ArrayView2<'_, f64>, mut os: ndarray::ArrayViewMut2<'_, f64>| {
        let mut near = Vec::with_capacity(k);
        for (row, o) in xs.outer_iter().zip(os.outer_iter_mut()) {
            match tree {
                Some(t) => t.nearest(row, k, &mut near),
                None => brute_nearest(&flat, width, row, k, &mut near),
            }
            vote(&near, outputs, distance_weighted, o);
        }
    };
    let work = x.nrows().saturating_mul(points.nrows()).saturating_mul(width.max(1));
    let threads = crate::parallel::threads_for(x.nrows(), work, PARALLEL_WORK);
    crate::parallel::by_row_chunks(x, out.view_mut(), threads, run);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn grid(rows: usize, width: usize, seed: u64) -> Array2<f64> {
        // A small LCG: coarse values so that ties in distance are common.
        let mut s = seed;
        Array2::from_shape_fn((rows, width), |_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 33) % 7) as f64 - 3.0
        })
    }

    #[test]
    fn tree_finds_what_brute_force_finds_ties_included() {
        for (rows, width, leaf) in [
            (1, 1, 1),
            (5, 0, 2),
            (7, 2, 1),
            (200, 3, 5),
            (500, 4, 30),
            (64, 20, 4),
            (90, 7, 3),
        ] {
            let points = grid(rows, width, rows as u64);
            let queries = grid(50, width, 99);
            let tree = KdTree::new(points.view(), leaf);
            for k in [1, 3, rows.min(10), rows] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for q in queries.outer_iter() {
                    tree.nearest(q, k, &mut a);
                    brute_nearest(points.as_slice().unwrap(), width, q, k, &mut b);
                    assert_eq!(a, b, "rows {rows} width {width} leaf {leaf} k {k}");
                }
            }
        }
    }

    #[test]
    fn outputs_do_not_depend_on_the_search() {
        let points = grid(300, 3, 5);
        let outputs = grid(300, 2, 6);
        let x = grid(40, 3, 7);
        let model = |search, leaf_size| Estimator::Neighbors {
            points: points.clone(),
            outputs: outputs.clone(),
            k: 5,
            distance_weighted: true,
            search,
            leaf_size,
        };
        let brute = raw_output(&model(NeighborSearch::Brute, 30), None, x.view());
        let tree = raw_output(&model(NeighborSearch::KdTree, 2), None, x.view());
        // A prebuilt tree, as a compiled spec keeps one.
        let built = KdTree::new(points.view(), 7);
        assert_eq!(
            raw_output(&model(NeighborSearch::Auto, 7), Some(&built), x.view()),
            brute
        );
        assert_eq!(brute, tree);
        assert!(brute.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn names_round_trip() {
        for s in [NeighborSearch::Auto, NeighborSearch::KdTree, NeighborSearch::Brute] {
            assert_eq!(NeighborSearch::parse(s.name()), Some(s));
        }
        assert_eq!(NeighborSearch::parse("ball_tree"), None);
        assert!(NeighborSearch::Auto.uses_tree(15) && !NeighborSearch::Auto.uses_tree(16));
    }
}
