//! Each shape against its definition at 3, 5, 7 and 25 nodes, over many seeds; the
//! schedule's timing and alternation; the shape set's parsing.

use super::*;

const SIZES: [usize; 4] = [3, 5, 7, 25];
const SEEDS: u64 = 200;

/// Every grudge of `shape` for `n` nodes over [`SEEDS`] seeds.
fn draws(shape: Shape, n: usize) -> Vec<Grudge> {
    (0..SEEDS)
        .map(|seed| shape.grudge(n, &mut Rng::new(seed)))
        .collect()
}

/// If the grudge cuts the nodes into components that see exactly themselves (Jepsen's
/// complete grudge), their sizes, smallest first; `None` if it is anything else.
fn component_sizes(grudge: &Grudge, n: usize) -> Option<Vec<usize>> {
    let views: Vec<BTreeSet<usize>> = (0..n).map(|r| view(grudge, n, r)).collect();
    for (node, seen) in views.iter().enumerate() {
        if !seen.contains(&node) || seen.iter().any(|&other| views[other] != *seen) {
            return None;
        }
    }
    let components: BTreeSet<&BTreeSet<usize>> = views.iter().collect();
    let mut sizes: Vec<usize> = components.iter().map(|c| c.len()).collect();
    sizes.sort_unstable();
    Some(sizes)
}

fn is_symmetric(grudge: &Grudge) -> bool {
    grudge
        .iter()
        .all(|(r, senders)| senders.iter().all(|&s| grudge.drops(s, r)))
}

#[test]
fn one_cuts_a_single_node_off_both_ways_and_nothing_else() {
    for n in SIZES {
        let mut loners = BTreeSet::new();
        for grudge in draws(Shape::One, n) {
            assert_eq!(
                component_sizes(&grudge, n),
                Some(vec![1, n - 1]),
                "{grudge:?}"
            );
            let loner = (0..n).find(|&r| view(&grudge, n, r).len() == 1).unwrap();
            loners.insert(loner);
        }
        assert_eq!(loners.len(), n, "every node is sometimes the one cut off");
    }
}

#[test]
fn minority_third_cuts_off_floor_of_n_minus_one_over_three_nodes() {
    for n in SIZES {
        let k = (n - 1) / 3;
        for grudge in draws(Shape::MinorityThird, n) {
            let expected = if k == 0 { vec![n] } else { vec![k, n - k] };
            assert_eq!(component_sizes(&grudge, n), Some(expected), "n={n}");
            assert_eq!(grudge.is_empty(), n < 4, "nothing is cut below 4 nodes");
        }
    }
}

#[test]
fn majority_splits_in_halves_both_ways() {
    for n in SIZES {
        let mut minorities = BTreeSet::new();
        for grudge in draws(Shape::Majority, n) {
            assert_eq!(component_sizes(&grudge, n), Some(vec![n / 2, n - n / 2]));
            assert!(is_symmetric(&grudge));
            let minority: BTreeSet<usize> = (0..n)
                .filter(|&r| view(&grudge, n, r).len() == n / 2)
                .collect();
            minorities.insert(minority);
        }
        assert!(minorities.len() > 1, "the halves are drawn at random");
    }
}

/// Every node sees a majority (itself included) and no two nodes see the same nodes.
fn assert_distinct_majorities(grudge: &Grudge, n: usize) {
    let views: Vec<BTreeSet<usize>> = (0..n).map(|r| view(grudge, n, r)).collect();
    for (node, seen) in views.iter().enumerate() {
        assert!(seen.len() >= majority_of(n), "n{node} sees {seen:?}");
    }
    let distinct: BTreeSet<&BTreeSet<usize>> = views.iter().collect();
    assert_eq!(distinct.len(), n, "two nodes share a view: {grudge:?}");
}

#[test]
fn three_node_ring_makes_every_link_one_way() {
    for grudge in draws(Shape::MajoritiesRing, 3) {
        assert_distinct_majorities(&grudge, 3);
        for a in 0..3 {
            assert_eq!(grudge.iter().find(|(r, _)| *r == a).unwrap().1.len(), 1);
            for b in (0..3).filter(|&b| b != a) {
                assert_ne!(
                    grudge.drops(a, b),
                    grudge.drops(b, a),
                    "{a}-{b}: {grudge:?}"
                );
            }
        }
    }
}

#[test]
fn five_node_ring_is_a_cycle_where_each_node_sees_its_two_neighbours() {
    let mut rings = BTreeSet::new();
    for grudge in draws(Shape::MajoritiesRing, 5) {
        assert_distinct_majorities(&grudge, 5);
        // Each node sees exactly itself and two others, and is seen by exactly those.
        for node in 0..5 {
            assert_eq!(view(&grudge, 5, node).len(), 3);
        }
        assert!(is_symmetric(&grudge), "the 5-ring's cuts go both ways");
        // The "sees" graph is one 5-cycle: walk it from n0.
        let mut walk = vec![0];
        while walk.len() < 5 {
            let here = *walk.last().unwrap();
            let next = view(&grudge, 5, here)
                .into_iter()
                .find(|&v| v != here && !walk.contains(&v));
            walk.push(next.expect("the neighbours form a single cycle"));
        }
        assert!(view(&grudge, 5, walk[4]).contains(&0));
        rings.insert(
            grudge
                .iter()
                .map(|(r, s)| (r, s.clone()))
                .collect::<Vec<_>>(),
        );
    }
    assert!(rings.len() > 5, "the ring's order is drawn at random");
}

#[test]
fn larger_rings_give_every_node_its_own_majority() {
    for n in [7, 25] {
        for grudge in draws(Shape::MajoritiesRing, n) {
            assert_distinct_majorities(&grudge, n);
            assert!(is_symmetric(&grudge));
            assert!(!grudge.is_empty());
        }
    }
}

#[test]
fn grudges_name_nodes_in_reports_and_json() {
    let names: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
    let mut grudge = Grudge::new();
    grudge.add(1, 0);
    grudge.add(0, 2);
    grudge.add(2, 1);
    grudge.add(2, 2); // a node never drops itself
    assert_eq!(grudge.describe(&names), "{n0: [n2], n1: [n0], n2: [n1]}");
    let json = serde_json::json!({"n0": ["n2"], "n1": ["n0"], "n2": ["n1"]});
    assert_eq!(grudge.to_json(&names), json);
    assert!(grudge.drops(1, 0) && !grudge.drops(0, 1));
}

#[test]
fn schedule_starts_at_once_then_alternates_at_gaps_up_to_twice_the_interval() {
    let interval = Duration::from_secs(10);
    let begin = Instant::from_millis(3);
    let mut schedule = PartitionSchedule::new(begin, interval, Shapes::ALL, Rng::new(9));
    assert_eq!(schedule.next_at(), begin, "the first start comes at once");
    let mut gaps = Vec::new();
    let mut shapes = BTreeMap::new();
    for i in 0..4_000 {
        let at = schedule.next_at();
        match schedule.next_op(5) {
            NemesisOp::Start { shape, .. } => {
                assert_eq!(i % 2, 0, "op {i} is a start");
                *shapes.entry(shape).or_insert(0) += 1;
            }
            NemesisOp::Stop => assert_eq!(i % 2, 1, "op {i} is a stop"),
        }
        gaps.push((schedule.next_at() - at).as_micros());
    }
    assert!(gaps.iter().all(|&g| g < 20_000_000));
    assert!(gaps.iter().any(|&g| g < 500_000) && gaps.iter().any(|&g| g > 19_500_000));
    let mean = gaps.iter().sum::<u64>() / gaps.len() as u64;
    assert!(
        (9_500_000..10_500_000).contains(&mean),
        "mean gap {mean} us"
    );
    assert_eq!(shapes.len(), 4);
    assert!(
        shapes.values().all(|&c| (400..600).contains(&c)),
        "{shapes:?}"
    );
}

#[test]
fn schedule_draws_only_the_allowed_shapes() {
    let only = Shapes::only(&[Shape::MajoritiesRing]);
    let mut schedule = PartitionSchedule::new(Instant::ZERO, Duration::ZERO, only, Rng::new(1));
    for _ in 0..10 {
        match schedule.next_op(3) {
            NemesisOp::Start { shape, .. } => assert_eq!(shape, Shape::MajoritiesRing),
            NemesisOp::Stop => {}
        }
    }
    assert_eq!(
        schedule.next_at(),
        Instant::from_micros(10),
        "1 us gaps: time moves on"
    );
}

#[test]
fn shape_lists_parse_and_reject_unknown_names() {
    let shapes: Shapes = "one, majorities-ring".parse().unwrap();
    assert_eq!(shapes.to_vec(), [Shape::One, Shape::MajoritiesRing]);
    assert_eq!(
        "one,minority-third,majority,majorities-ring".parse(),
        Ok(Shapes::ALL)
    );
    assert!("one,halves".parse::<Shapes>().is_err());
    assert!("".parse::<Shapes>().is_err());
    assert_eq!(Shape::MinorityThird.to_string(), "minority-third");
}
