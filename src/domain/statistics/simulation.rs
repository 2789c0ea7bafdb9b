//! The campaign simulation of issue 9 and DESIGN.md section 3: 12 markers, each marking 60 of
//! 240 essays (0–60, tolerance 6, three independent marks an essay, marking noise SD 3). One
//! marker is three quarters of a tolerance lenient; with the default trigger rules they must be
//! flagged for severity in at least 95 of 100 seeded campaigns, and a given fair marker in at
//! most 1.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Flag, Mark, Scale, TriggerRules, question_statistics};

const MARKERS: u32 = 12;
const PER_MARKER: usize = 60;
const MARKS_PER_ESSAY: usize = 3;
const TOLERANCE: f64 = 6.0;

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller: rand 0.9 alone has no normal distribution.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Each essay's three markers: every marker PER_MARKER times, never twice on one essay. A
/// shuffle, then random swaps of clashing marks until no essay has a marker twice.
fn allocation(rng: &mut ChaCha8Rng) -> Vec<[u32; MARKS_PER_ESSAY]> {
    let mut slots: Vec<u32> = (0..MARKERS).flat_map(|m| std::iter::repeat_n(m, PER_MARKER)).collect();
    slots.shuffle(rng);
    loop {
        let mut clean = true;
        for i in 0..slots.len() {
            let base = i - i % MARKS_PER_ESSAY;
            if (base..base + MARKS_PER_ESSAY).any(|j| j != i && slots[j] == slots[i]) {
                clean = false;
                let k = rng.random_range(0..slots.len());
                slots.swap(i, k);
            }
        }
        if clean {
            return slots.chunks(MARKS_PER_ESSAY).map(|c| [c[0], c[1], c[2]]).collect();
        }
    }
}

/// One campaign's live marks; marker 0 is lenient by `lenience`, the others are fair.
fn campaign(seed: u64, lenience: f64) -> Vec<Mark> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seq = [0u64; MARKERS as usize];
    let mut marks = Vec::new();
    for (essay, markers) in allocation(&mut rng).into_iter().enumerate() {
        let truth = 36.0 + 10.0 * normal(&mut rng);
        for m in markers {
            let bias = if m == 0 { lenience } else { 0.0 };
            let score = (truth + bias + 3.0 * normal(&mut rng)).round().clamp(0.0, 60.0);
            seq[m as usize] += 1;
            marks.push(Mark {
                script: essay as u32,
                marker: m,
                score,
                seq: Some(seq[m as usize]),
            });
        }
    }
    marks
}

#[test]
fn a_lenient_marker_is_caught_and_a_fair_one_left_alone() {
    let ids: Vec<String> = (0..MARKERS).map(|m| format!("M{m}")).collect();
    let scale = Scale { max: 60.0, step: 1.0 };
    let rules = TriggerRules::default();
    let (mut caught, mut fair_flagged) = (0, 0);
    for seed in 0..100 {
        let marks = campaign(20_261_129 + seed, 0.75 * TOLERANCE);
        let report = question_statistics(&marks, &ids, &scale, TOLERANCE, &rules);
        assert_eq!(report.markers.len(), MARKERS as usize);
        assert!(report.markers.iter().all(|m| m.n == PER_MARKER));
        if report.markers[0].flags.contains(&Flag::Severity) {
            caught += 1;
        }
        if !report.markers[1].flags.is_empty() {
            fair_flagged += 1;
        }
    }
    assert!(
        caught >= 95,
        "the lenient marker was flagged in {caught} of 100 campaigns"
    );
    assert!(
        fair_flagged <= 1,
        "a fair marker was flagged in {fair_flagged} of 100 campaigns"
    );
}
