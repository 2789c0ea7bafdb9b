//! `markroom stats`: the question statistics of a CSV of marks (`script_id,marker_id,score`
//! and optional `seq`), as JSON on standard output; notices and progress on standard error.
//!
//! The scale decides the kappas and the default tolerance, which decides the flags, so it is
//! never guessed silently: without `--max-score` the highest score in the file is taken and
//! said so, without `--step` the step is 1, also said so.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::domain::Score;
use crate::domain::question::{QuestionDraft, QuestionKind, validate_question};
use crate::domain::rules::MarkingRules;
use crate::domain::statistics::{Mark, Scale, TriggerRules, question_statistics};

/// Inputs above this size get a progress bar.
const LARGE_INPUT_BYTES: u64 = 8 << 20;

pub struct StatsArgs {
    pub input: PathBuf,
    pub max_score: Option<Score>,
    pub step: Option<Score>,
    pub tolerance: Option<Score>,
    pub output: Option<PathBuf>,
}

/// For clap: a score argument, read exactly like a score in the API.
pub fn parse_score_arg(text: &str) -> Result<Score, String> {
    Score::parse(text).map_err(|e| e.to_string())
}

/// The marks of the file, and the marker ids in order of first appearance.
struct Input {
    marks: Vec<Mark>,
    scores: Vec<(Score, u64)>,
    marker_ids: Vec<String>,
}

pub fn run(args: &StatsArgs) -> anyhow::Result<()> {
    let input = read(&args.input)?;
    let rules = MarkingRules::default();
    let (max, step) = scale(args, &input)?;
    let question = validate_question(
        QuestionDraft {
            code: "stats".into(),
            kind: QuestionKind::Essay,
            max,
            step,
            tolerance: args.tolerance,
            final_step: None,
            marks_required: None,
            criteria: Vec::new(),
        },
        rules.default_tolerance_percent,
        rules.default_final_step,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.tolerance.is_none() {
        eprintln!(
            "markroom stats: tolerance {} ({}% of the maximum, rounded to the step)",
            question.tolerance, rules.default_tolerance_percent
        );
    }
    for &(score, line) in &input.scores {
        if score > max {
            bail!("line {line}: score {score} exceeds the maximum {max}");
        }
        if !score.is_multiple_of(step) {
            bail!("line {line}: score {score} is not a multiple of the step {step} (give --step)");
        }
    }
    let spinner = progress(input.marks.len() as u64 >= 200_000, None, "computing statistics");
    let report = question_statistics(
        &input.marks,
        &input.marker_ids,
        &Scale {
            max: max.as_f64(),
            step: step.as_f64(),
        },
        question.tolerance.as_f64(),
        &TriggerRules::from(&rules),
    );
    spinner.finish_and_clear();
    let json = serde_json::to_string_pretty(&report)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
            eprintln!("markroom stats: report written to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}").context("writing the report to standard output")?;
        }
    }
    Ok(())
}

/// The scale: the flags given, or (said on standard error) the highest score and step 1.
fn scale(args: &StatsArgs, input: &Input) -> anyhow::Result<(Score, Score)> {
    let step = match args.step {
        Some(s) => s,
        None => {
            eprintln!("markroom stats: no --step given: step 1");
            Score::points(1)
        }
    };
    let max = match args.max_score {
        Some(m) => m,
        None => {
            let Some(top) = input.scores.iter().map(|s| s.0).max() else {
                bail!("no --max-score given and no marks to take it from");
            };
            eprintln!("markroom stats: no --max-score given: the highest score in the file, {top}");
            top
        }
    };
    Ok((max, step))
}

fn progress(visible: bool, len: Option<u64>, message: &'static str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => {
            let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            s.enable_steady_tick(std::time::Duration::from_millis(120));
            s
        }
    };
    bar.with_message(message)
}

/// The columns the file must have, by header name.
struct Columns {
    script: usize,
    marker: usize,
    score: usize,
    seq: Option<usize>,
}

fn columns(headers: &csv::StringRecord) -> anyhow::Result<Columns> {
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    match (find("script_id"), find("marker_id"), find("score")) {
        (Some(script), Some(marker), Some(score)) => Ok(Columns {
            script,
            marker,
            score,
            seq: find("seq"),
        }),
        _ => bail!(
            "the CSV needs the columns script_id, marker_id and score (seq optional); its header is: {}",
            headers.iter().collect::<Vec<_>>().join(",")
        ),
    }
}

fn read(path: &Path) -> anyhow::Result<Input> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress(len >= LARGE_INPUT_BYTES, Some(len), "reading marks");
    let reader: Box<dyn Read> = Box::new(bar.wrap_read(BufReader::new(file)));
    let mut csv = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(reader);
    let headers = csv
        .headers()
        .with_context(|| format!("reading the header of {}", path.display()))?;
    let cols = columns(headers)?;
    let mut scripts: HashMap<String, u32> = HashMap::new();
    let mut markers: HashMap<String, u32> = HashMap::new();
    let mut input = Input {
        marks: Vec::new(),
        scores: Vec::new(),
        marker_ids: Vec::new(),
    };
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    for record in csv.records() {
        let record = record.map_err(|e| match e.position() {
            Some(p) => anyhow::anyhow!("{}: line {}: {e}", path.display(), p.line()),
            None => anyhow::anyhow!("reading {}: {e}", path.display()),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize, name: &str| -> anyhow::Result<String> {
            match record.get(i) {
                Some(v) if !v.is_empty() => Ok(v.to_string()),
                _ => bail!("line {line}: {name} is empty"),
            }
        };
        let (script, marker) = (field(cols.script, "script_id")?, field(cols.marker, "marker_id")?);
        let text = field(cols.score, "score")?;
        let score = Score::parse(&text).map_err(|e| anyhow::anyhow!("line {line}: score {text:?}: {e}"))?;
        let seq = match cols.seq.and_then(|i| record.get(i)).filter(|v| !v.is_empty()) {
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| anyhow::anyhow!("line {line}: seq {v:?} is not a whole number"))?,
            ),
            None => None,
        };
        let next = scripts.len() as u32;
        let s = *scripts.entry(script.clone()).or_insert(next);
        let next = markers.len() as u32;
        let m = *markers.entry(marker.clone()).or_insert_with(|| {
            input.marker_ids.push(marker.clone());
            next
        });
        if !seen.insert((s, m)) {
            bail!("line {line}: script {script} already has a mark from marker {marker} (one live mark each)");
        }
        input.scores.push((score, line));
        input.marks.push(Mark {
            script: s,
            marker: m,
            score: score.as_f64(),
            seq,
        });
    }
    bar.finish_and_clear();
    Ok(input)
}
