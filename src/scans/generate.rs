//! The sheet generator shared by the tests, the demo and the load simulator: A4 grey pages with
//! the anchor square, name and admission-number boxes filled with print-like strokes, and each
//! answer region filled with handwriting-like strokes below its latent strip. Seeded ChaCha, so
//! a sheet is the same from the same seed on every machine.

use std::collections::BTreeMap;

use image::{GrayImage, Luma};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{draw_latent, region_pixels, strip_rows, turn_180};
use crate::domain::template::{MaskKind, MaskRegion, QuestionRegion, Region, SheetTemplate};

/// A4 in inches.
const A4_INCHES: (f64, f64) = (8.27, 11.69);
const QUESTIONS_PER_PAGE: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct SheetSpec {
    pub dpi: u32,
    /// The whole sheet scanned upside down (every page turned 180°).
    pub upside_down: bool,
    /// Leave the anchor squares out, as a badly scanned or wrong sheet would.
    pub without_anchor: bool,
    pub seed: u64,
    /// Latent score / step per question code, 0..=4095 (only the low 12 bits are drawn);
    /// a question left out carries 0.
    pub latents: BTreeMap<String, u32>,
}

/// Pixels of an A4 page at `dpi`, rounded to the nearest pixel.
pub fn a4_pixels(dpi: u32) -> (u32, u32) {
    let d = f64::from(dpi);
    ((A4_INCHES.0 * d).round() as u32, (A4_INCHES.1 * d).round() as u32)
}

fn region(page: u32, x: f64, y: f64, width: f64, height: f64) -> Region {
    Region {
        page,
        x,
        y,
        width,
        height,
    }
}

/// An A4 layout: an anchor square near the top-left corner of every page, the name and
/// admission-number boxes across the top of page 0, and up to four answer regions per page
/// below. The corner opposite the anchor stays empty, so no answer ink can pass for an anchor
/// of a page turned round; masks sit above every answer region and never overlap one.
pub fn standard_template(question_codes: &[&str]) -> SheetTemplate {
    let pages = question_codes.len().div_ceil(QUESTIONS_PER_PAGE).max(1) as u32;
    let anchor_w = 0.06;
    let anchor_h = anchor_w * A4_INCHES.0 / A4_INCHES.1; // square on paper
    let anchors = (0..pages).map(|p| region(p, 0.05, 0.03, anchor_w, anchor_h)).collect();
    let masks = vec![
        MaskRegion {
            kind: MaskKind::Name,
            region: region(0, 0.16, 0.03, 0.40, 0.045),
        },
        MaskRegion {
            kind: MaskKind::AdmissionNumber,
            region: region(0, 0.60, 0.03, 0.35, 0.045),
        },
    ];
    let questions = question_codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let (page, slot) = (i / QUESTIONS_PER_PAGE, i % QUESTIONS_PER_PAGE);
            QuestionRegion {
                question: (*code).to_string(),
                region: region(page as u32, 0.05, 0.10 + 0.20 * slot as f64, 0.90, 0.19),
            }
        })
        .collect();
    SheetTemplate {
        pages,
        anchors,
        masks,
        questions,
    }
}

/// One grey page per template page, as a scanner would send them.
pub fn generate_sheet(template: &SheetTemplate, spec: &SheetSpec) -> Vec<GrayImage> {
    (0..template.pages).map(|p| generate_page(template, spec, p)).collect()
}

fn generate_page(template: &SheetTemplate, spec: &SheetSpec, page: u32) -> GrayImage {
    let (w, h) = a4_pixels(spec.dpi);
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    // Each page its own stream, so pages can be made in any order (or in parallel).
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ u64::from(page).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let style = Style::for_dpi(spec.dpi);
    if !spec.without_anchor {
        for a in template.anchors.iter().filter(|a| a.page == page) {
            fill_rect(&mut img, region_pixels(a, w, h), 0);
        }
    }
    for m in template.masks.iter().filter(|m| m.region.page == page) {
        let print = Style {
            line_h: style.line_h * 3 / 4,
            upright: true,
            ..style
        };
        scribble(&mut img, region_pixels(&m.region, w, h), &print, &mut rng);
    }
    for q in template.questions.iter().filter(|q| q.region.page == page) {
        let rect = region_pixels(&q.region, w, h);
        let units = spec.latents.get(&q.question).copied().unwrap_or(0);
        draw_latent(&mut img, rect, units);
        // Ink only below the strip: nothing else is drawn in it.
        let below = (rect.0, rect.1 + strip_rows(rect.3 - rect.1), rect.2, rect.3);
        scribble(&mut img, below, &style, &mut rng);
    }
    if spec.upside_down {
        turn_180(&mut img);
    }
    img
}

fn fill_rect(img: &mut GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32), value: u8) {
    for y in y0..y1 {
        for x in x0..x1 {
            img.put_pixel(x, y, Luma([value]));
        }
    }
}

/// Pen and line sizes, in pixels, for a resolution.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// Distance between baselines (about a third of an inch, ruled paper).
    line_h: u32,
    pen: u32,
    /// Print (strokes along the axes) rather than cursive.
    upright: bool,
}

impl Style {
    fn for_dpi(dpi: u32) -> Style {
        Style {
            line_h: (dpi / 3).max(6),
            pen: (dpi / 90).max(1),
            upright: false,
        }
    }
}

/// Lines of "words" across the rectangle, each letter a short pen path, ragged line ends and
/// the odd short line, like an answer written by hand. Everything is clipped to `rect`.
fn scribble(img: &mut GrayImage, rect: (u32, u32, u32, u32), style: &Style, rng: &mut ChaCha8Rng) {
    let (x0, y0, x1, y1) = rect;
    let lh = style.line_h as i32;
    let pad = lh / 3;
    let mut baseline = y0 as i32 + pad + lh * 2 / 3;
    while baseline + pad / 2 < y1 as i32 {
        let end = x1 as i32 - pad - rng.random_range(0..=(x1 - x0) as i32 / 4);
        let mut x = x0 as i32 + pad + rng.random_range(0..=lh / 2);
        while x < end {
            let letters = rng.random_range(2..8);
            for _ in 0..letters {
                let lw = rng.random_range(lh / 4..=lh / 2).max(2);
                letter(img, rect, style, rng, (x, baseline), lw);
                x += lw;
            }
            x += rng.random_range(lh / 4..=lh / 2);
        }
        baseline += lh;
    }
}

/// One letter: a pen path of a few points between the baseline and the x-height, now and then
/// reaching up (an ascender) or down (a descender).
fn letter(
    img: &mut GrayImage,
    clip: (u32, u32, u32, u32),
    style: &Style,
    rng: &mut ChaCha8Rng,
    at: (i32, i32),
    lw: i32,
) {
    let xh = (style.line_h as i32 * 2 / 5).max(2);
    let (x, base) = at;
    let mut prev = (x, base - rng.random_range(0..=xh));
    let points = rng.random_range(3..6);
    for k in 1..=points {
        let px = x + lw * k / points;
        let top = if rng.random_bool(0.12) { xh * 2 } else { xh };
        let bottom = if rng.random_bool(0.06) { -xh / 2 } else { 0 };
        let py = base - rng.random_range(bottom..=top);
        let next = if style.upright { (prev.0, py) } else { (px, py) };
        line(img, clip, prev, next, style.pen);
        if style.upright {
            line(img, clip, next, (px, py), style.pen);
        }
        prev = (px, py);
    }
}

/// A straight pen stroke of a square nib `pen` pixels wide, clipped to `clip`.
fn line(img: &mut GrayImage, clip: (u32, u32, u32, u32), from: (i32, i32), to: (i32, i32), pen: u32) {
    let (cx0, cy0, cx1, cy1) = (clip.0 as i32, clip.1 as i32, clip.2 as i32, clip.3 as i32);
    let steps = (to.0 - from.0).abs().max((to.1 - from.1).abs()).max(1);
    let pen = pen as i32;
    for s in 0..=steps {
        let x = from.0 + (to.0 - from.0) * s / steps - pen / 2;
        let y = from.1 + (to.1 - from.1) * s / steps - pen / 2;
        for yy in y.max(cy0)..(y + pen).min(cy1) {
            for xx in x.max(cx0)..(x + pen).min(cx1) {
                img.put_pixel(xx as u32, yy as u32, Luma([0]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::template::validate_template;

    #[test]
    fn a4_at_200_dpi() {
        assert_eq!(a4_pixels(200), (1654, 2338));
    }

    #[test]
    fn the_standard_template_is_valid_and_keeps_masks_off_questions() {
        let codes = ["W1", "S1", "S2", "S3", "S4", "S5"];
        let t = standard_template(&codes);
        let owned: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        validate_template(&t, &owned).unwrap();
        assert_eq!(t.pages, 2);
        let (w, h) = a4_pixels(200);
        for m in &t.masks {
            let (mx0, my0, mx1, my1) = region_pixels(&m.region, w, h);
            for q in t.questions.iter().filter(|q| q.region.page == m.region.page) {
                let (qx0, qy0, qx1, qy1) = region_pixels(&q.region, w, h);
                assert!(
                    mx1 <= qx0 || qx1 <= mx0 || my1 <= qy0 || qy1 <= my0,
                    "{m:?} overlaps {q:?}"
                );
            }
        }
        assert_eq!(standard_template(&[]).pages, 1);
    }

    #[test]
    fn the_same_seed_gives_the_same_sheet() {
        let t = standard_template(&["W1"]);
        let spec = SheetSpec {
            dpi: 40,
            seed: 7,
            ..SheetSpec::default()
        };
        assert_eq!(generate_sheet(&t, &spec), generate_sheet(&t, &spec));
        let other = SheetSpec {
            seed: 8,
            ..spec.clone()
        };
        assert_ne!(generate_sheet(&t, &spec), generate_sheet(&t, &other));
    }

    #[test]
    fn answers_are_inked_but_not_black() {
        let t = standard_template(&["W1"]);
        let spec = SheetSpec {
            dpi: 72,
            ..SheetSpec::default()
        };
        let page = &generate_sheet(&t, &spec)[0];
        let cut = crate::scans::cut(page, &t.questions[0].region);
        let dark = cut.pixels().filter(|p| p[0] < 128).count() as f64 / cut.pixels().len() as f64;
        assert!((0.03..0.5).contains(&dark), "ink share {dark}");
    }
}
