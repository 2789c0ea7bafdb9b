//! The marks arranged for the computations: grouped by script (a compressed row layout, marks
//! of one script contiguous and ordered by marker) and, per marker, in marking order.

use std::ops::Range;

use super::Mark;

pub(crate) struct Design {
    /// One past the largest marker index seen: per-marker arrays have this length.
    pub marker_slots: usize,
    /// `start[s]..start[s + 1]` are the marks of dense script `s`.
    pub start: Vec<usize>,
    /// The caller's index of each dense script.
    pub script_id: Vec<u32>,
    pub marker: Vec<u32>,
    pub score: Vec<f64>,
    /// The dense script of every mark.
    pub script_of: Vec<u32>,
    /// The x of the marker's trend: their `seq` when every mark of theirs has one, otherwise
    /// their own position (1, 2, …) in the input.
    pub order: Vec<f64>,
    /// `by_marker_start[m]..by_marker_start[m + 1]` index `by_marker`: marker `m`'s marks in
    /// marking order.
    pub by_marker_start: Vec<usize>,
    pub by_marker: Vec<usize>,
    /// Later marks of a (script, marker) pair already seen; the first one counts.
    pub duplicates: usize,
    /// Marks whose score is not a finite number.
    pub unusable: usize,
}

impl Design {
    pub fn new(marks: &[Mark]) -> Design {
        let mut keyed: Vec<(u64, usize)> = Vec::with_capacity(marks.len());
        let mut unusable = 0;
        for (pos, m) in marks.iter().enumerate() {
            if m.score.is_finite() {
                keyed.push(((u64::from(m.script) << 32) | u64::from(m.marker), pos));
            } else {
                unusable += 1;
            }
        }
        // Sorting on (script, marker, input position) puts a repeated pair's first mark first.
        keyed.sort_unstable();
        let before = keyed.len();
        keyed.dedup_by_key(|k| k.0);
        let duplicates = before - keyed.len();

        let mut start = Vec::new();
        let mut script_id = Vec::new();
        let mut marker = Vec::with_capacity(keyed.len());
        let mut score = Vec::with_capacity(keyed.len());
        let mut pos = Vec::with_capacity(keyed.len());
        let mut script_of = Vec::with_capacity(keyed.len());
        let mut last_script = None;
        for (i, &(key, p)) in keyed.iter().enumerate() {
            let script = key >> 32;
            if last_script != Some(script) {
                start.push(i);
                script_id.push(script as u32);
                last_script = Some(script);
            }
            script_of.push((start.len() - 1) as u32);
            marker.push(key as u32);
            score.push(marks[p].score);
            pos.push(p);
        }
        start.push(keyed.len());
        let marker_slots = marker.iter().map(|&m| m as usize + 1).max().unwrap_or(0);
        let (by_marker_start, by_marker, order) = marking_order(marks, &marker, &pos, marker_slots);
        Design {
            marker_slots,
            start,
            script_id,
            marker,
            score,
            script_of,
            order,
            by_marker_start,
            by_marker,
            duplicates,
            unusable,
        }
    }

    pub fn n_marks(&self) -> usize {
        self.marker.len()
    }

    pub fn n_scripts(&self) -> usize {
        self.start.len() - 1
    }

    pub fn script(&self, s: usize) -> Range<usize> {
        self.start[s]..self.start[s + 1]
    }

    pub fn script_len(&self, s: usize) -> usize {
        self.start[s + 1] - self.start[s]
    }

    /// Marker `m`'s marks (indices into the mark arrays) in marking order.
    pub fn marks_of(&self, m: usize) -> &[usize] {
        &self.by_marker[self.by_marker_start[m]..self.by_marker_start[m + 1]]
    }

    /// Markers with at least one mark.
    pub fn n_markers(&self) -> usize {
        (0..self.marker_slots).filter(|&m| !self.marks_of(m).is_empty()).count()
    }

    /// The scripts the ICC and Fleiss' kappa are computed over (DESIGN.md section 3): those
    /// marked by every marker of the input when there are two or more (a crossed design, the
    /// listwise deletion pingouin applies); otherwise those with the most common number of
    /// marks, a tie going to the larger number.
    pub fn reliability_rows(&self) -> Rows {
        let markers = self.n_markers();
        let complete: Vec<usize> = (0..self.n_scripts())
            .filter(|&s| self.script_len(s) == markers)
            .collect();
        if markers >= 2 && complete.len() >= 2 {
            return Rows {
                scripts: complete,
                k: markers,
                crossed: true,
            };
        }
        let mut counts: Vec<usize> = Vec::new();
        for s in 0..self.n_scripts() {
            let len = self.script_len(s);
            if counts.len() <= len {
                counts.resize(len + 1, 0);
            }
            counts[len] += 1;
        }
        let k = (0..counts.len()).max_by_key(|&len| (counts[len], len)).unwrap_or(0);
        Rows {
            scripts: (0..self.n_scripts()).filter(|&s| self.script_len(s) == k).collect(),
            k,
            crossed: false,
        }
    }
}

/// Rows of a complete table: `scripts` each with exactly `k` marks; `crossed` when the same
/// `k` markers marked all of them.
pub(crate) struct Rows {
    pub scripts: Vec<usize>,
    pub k: usize,
    pub crossed: bool,
}

/// Per-marker lists of marks in marking order, and the trend's x for every mark.
fn marking_order(marks: &[Mark], marker: &[u32], pos: &[usize], slots: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let mut count = vec![0usize; slots + 1];
    for &m in marker {
        count[m as usize + 1] += 1;
    }
    for m in 0..slots {
        count[m + 1] += count[m];
    }
    let start = count.clone();
    let mut fill = count;
    let mut by_marker = vec![0usize; marker.len()];
    for (i, &m) in marker.iter().enumerate() {
        by_marker[fill[m as usize]] = i;
        fill[m as usize] += 1;
    }
    let mut order = vec![0.0; marker.len()];
    for m in 0..slots {
        let mine = &mut by_marker[start[m]..start[m + 1]];
        let all_seq = mine.iter().all(|&i| marks[pos[i]].seq.is_some());
        if all_seq {
            mine.sort_by_key(|&i| (marks[pos[i]].seq, pos[i]));
            for &i in mine.iter() {
                order[i] = marks[pos[i]].seq.map_or(0.0, |s| s as f64);
            }
        } else {
            mine.sort_by_key(|&i| pos[i]);
            for (n, &i) in mine.iter().enumerate() {
                order[i] = (n + 1) as f64;
            }
        }
    }
    (start, by_marker, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk(script: u32, marker: u32, score: f64) -> Mark {
        Mark {
            script,
            marker,
            score,
            seq: None,
        }
    }

    #[test]
    fn groups_by_script_keeps_the_first_of_a_repeated_pair_and_drops_non_finite_scores() {
        let d = Design::new(&[
            mk(7, 1, 3.0),
            mk(2, 0, 1.0),
            mk(7, 1, 9.0),
            mk(7, 0, 4.0),
            mk(2, 2, f64::NAN),
        ]);
        assert_eq!(d.n_scripts(), 2);
        assert_eq!(d.n_marks(), 3);
        assert_eq!((d.duplicates, d.unusable), (1, 1));
        assert_eq!(d.score, vec![1.0, 4.0, 3.0]);
        assert_eq!(d.marks_of(1), &[2]);
        assert_eq!(d.n_markers(), 2);
    }

    #[test]
    fn no_marks_is_an_empty_design() {
        let d = Design::new(&[]);
        assert_eq!((d.n_scripts(), d.n_marks(), d.n_markers()), (0, 0, 0));
        let rows = d.reliability_rows();
        assert!(rows.scripts.is_empty());
    }

    #[test]
    fn marking_order_follows_seq_when_every_mark_has_one() {
        let mut a = mk(0, 0, 1.0);
        a.seq = Some(9);
        let mut b = mk(1, 0, 2.0);
        b.seq = Some(3);
        let d = Design::new(&[a, b]);
        assert_eq!(
            d.marks_of(0).iter().map(|&i| d.order[i]).collect::<Vec<_>>(),
            vec![3.0, 9.0]
        );
    }
}
