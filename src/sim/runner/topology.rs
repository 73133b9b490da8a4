//! The broadcast workload's `topology` message: Maelstrom's `--topology` shapes, built the
//! way Maelstrom v0.2.3 builds them from the node list `n0, n1, ...`.

use std::fmt;
use std::str::FromStr;

/// Which neighbours the broadcast workload suggests to each node (Maelstrom's `--topology`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topology {
    /// Maelstrom's default: the nodes fill a square grid of side `ceil(sqrt(n))` row by row;
    /// each node's neighbours are the nodes below, above, right and left of it (at most 4).
    #[default]
    Grid,
    /// A line: `n0 - n1 - ... - n{N-1}`.
    Line,
    /// A tree filled tier by tier (root `n0`) with this many children per node; each node's
    /// neighbours are its parent, then its children. `tree2`, `tree3`, `tree4`.
    Tree(usize),
    /// Every node is every other node's neighbour.
    Total,
}

impl Topology {
    /// Each node's neighbours, in node order; `ids` is the cluster's node list.
    ///
    /// As in Maelstrom, a line of fewer than 2 nodes is empty (no entry at all).
    pub fn neighbours(&self, ids: &[String]) -> Vec<(String, Vec<String>)> {
        let n = ids.len();
        if *self == Topology::Line && n < 2 {
            return Vec::new();
        }
        (0..n)
            .map(|i| {
                let of = self.neighbour_indices(i, n);
                (
                    ids[i].clone(),
                    of.into_iter().map(|j| ids[j].clone()).collect(),
                )
            })
            .collect()
    }

    /// The neighbours of node `i` among `n`, by index, in Maelstrom's order.
    fn neighbour_indices(&self, i: usize, n: usize) -> Vec<usize> {
        match *self {
            Topology::Grid => grid_neighbours(i, n),
            Topology::Line => [i.checked_sub(1), Some(i + 1).filter(|&j| j < n)]
                .into_iter()
                .flatten()
                .collect(),
            Topology::Tree(branching) => {
                let b = branching.max(1);
                let parent = (i > 0).then(|| (i - 1) / b);
                let children = (i * b + 1..=i * b + b).filter(|&c| c < n);
                parent.into_iter().chain(children).collect()
            }
            Topology::Total => (0..n).filter(|&j| j != i).collect(),
        }
    }
}

/// Row `i / side`, column `i % side` of a grid of side `ceil(sqrt(n))`; neighbours below,
/// above, right, left, when they exist.
fn grid_neighbours(index: usize, n: usize) -> Vec<usize> {
    let side = (1..=n).find(|s| s * s >= n).unwrap_or(1);
    let (i, j) = (index / side, index % side);
    let at = |i: Option<usize>, j: Option<usize>| {
        let (i, j) = (i?, j?);
        (j < side && i * side + j < n).then_some(i * side + j)
    };
    [
        at(Some(i + 1), Some(j)),
        at(i.checked_sub(1), Some(j)),
        at(Some(i), Some(j + 1)),
        at(Some(i), j.checked_sub(1)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

impl FromStr for Topology {
    type Err = String;

    /// Maelstrom's names: `grid`, `line`, `tree` (= `tree2`), `tree2`, `tree3`, `tree4`,
    /// `total`.
    fn from_str(name: &str) -> Result<Topology, String> {
        match name {
            "grid" => Ok(Topology::Grid),
            "line" => Ok(Topology::Line),
            "tree" | "tree2" => Ok(Topology::Tree(2)),
            "tree3" => Ok(Topology::Tree(3)),
            "tree4" => Ok(Topology::Tree(4)),
            "total" => Ok(Topology::Total),
            other => Err(format!(
                "--topology {other}: use grid, line, tree2, tree3, tree4 or total"
            )),
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Grid => write!(f, "grid"),
            Topology::Line => write!(f, "line"),
            Topology::Tree(b) => write!(f, "tree{b}"),
            Topology::Total => write!(f, "total"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    /// The neighbour lists as indices, for compact expectations.
    fn shape(topology: Topology, n: usize) -> Vec<Vec<usize>> {
        topology
            .neighbours(&ids(n))
            .into_iter()
            .map(|(_, of)| of.iter().map(|id| id[1..].parse().unwrap()).collect())
            .collect()
    }

    #[test]
    fn grid_of_five_is_a_three_wide_grid_with_a_short_last_row() {
        // n0 n1 n2
        // n3 n4
        let expected = vec![vec![3, 1], vec![4, 2, 0], vec![1], vec![0, 4], vec![1, 3]];
        assert_eq!(shape(Topology::Grid, 5), expected);
    }

    #[test]
    fn grid_of_twenty_five_has_at_most_four_symmetric_neighbours() {
        let grid = shape(Topology::Grid, 25);
        assert_eq!(grid[12], vec![17, 7, 13, 11]); // the centre of a 5 x 5 grid
        assert_eq!(grid[0], vec![5, 1]);
        for (i, of) in grid.iter().enumerate() {
            assert!(of.len() <= 4 && of.len() >= 2);
            assert!(
                of.iter().all(|&j| grid[j].contains(&i)),
                "n{i} not symmetric"
            );
        }
    }

    #[test]
    fn line_and_total_and_trees() {
        assert_eq!(shape(Topology::Line, 3), vec![vec![1], vec![0, 2], vec![1]]);
        assert!(shape(Topology::Line, 1).is_empty());
        assert_eq!(
            shape(Topology::Total, 3),
            vec![vec![1, 2], vec![0, 2], vec![0, 1]]
        );
        // tree2 of 6: n0 -> n1, n2; n1 -> n3, n4; n2 -> n5.
        let tree2 = vec![
            vec![1, 2],
            vec![0, 3, 4],
            vec![0, 5],
            vec![1],
            vec![1],
            vec![2],
        ];
        assert_eq!(shape(Topology::Tree(2), 6), tree2);
        // tree4 of 25: the root's children are n1..n4, n1's are n5..n8, n5's n21..n24.
        let tree4 = shape(Topology::Tree(4), 25);
        assert_eq!(tree4[0], vec![1, 2, 3, 4]);
        assert_eq!(tree4[1], vec![0, 5, 6, 7, 8]);
        assert_eq!(tree4[5], vec![1, 21, 22, 23, 24]);
        assert_eq!(tree4[6], vec![1]);
        assert_eq!(shape(Topology::Tree(3), 1), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn names_round_trip() {
        for name in ["grid", "line", "tree2", "tree3", "tree4", "total"] {
            assert_eq!(name.parse::<Topology>().unwrap().to_string(), name);
        }
        assert_eq!("tree".parse(), Ok(Topology::Tree(2)));
        assert!("ring".parse::<Topology>().is_err());
    }
}
