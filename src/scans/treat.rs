//! Technical treatment (rule R9): turn each page upright by its anchor, black out identity, and
//! cut one image per question. What leaves here for markers is only the masked cuts; the
//! upright page stays whole and unmasked for the custodians.

use image::GrayImage;

use super::{ScanError, encode_png, region_pixels};
use crate::domain::template::{Region, SheetTemplate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Upright,
    UpsideDown,
}

/// At least this share of the anchor's pixels must be dark for the anchor to count as there:
/// a filled square scores near 1, handwriting passing through an empty corner far below.
const ANCHOR_DARK_SHARE: f64 = 0.6;
const DARK: u8 = 128;

/// Where the page's anchor is: dark where the template puts it → upright; dark at the
/// 180°-turned position → upside down; neither, or both (a smudge, a black scan) → unknown,
/// for a custodian to decide.
pub fn detect_orientation(page: &GrayImage, anchor: &Region) -> Option<Orientation> {
    let (w, h) = page.dimensions();
    let (x0, y0, x1, y1) = region_pixels(anchor, w, h);
    // The exact pixel rectangle a 180° turn moves the anchor to.
    let turned = (w - x1, h - y1, w - x0, h - y0);
    let up = dark_share(page, (x0, y0, x1, y1)) >= ANCHOR_DARK_SHARE;
    let down = dark_share(page, turned) >= ANCHOR_DARK_SHARE;
    match (up, down) {
        (true, false) => Some(Orientation::Upright),
        (false, true) => Some(Orientation::UpsideDown),
        _ => None,
    }
}

fn dark_share(page: &GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
    let width = page.width() as usize;
    let raw = page.as_raw();
    let mut dark = 0usize;
    for y in y0 as usize..y1 as usize {
        let row = &raw[y * width + x0 as usize..y * width + x1 as usize];
        dark += row.iter().filter(|&&v| v < DARK).count();
    }
    let total = (x1 - x0) as usize * (y1 - y0) as usize;
    if total == 0 { 0.0 } else { dark as f64 / total as f64 }
}

/// Turns a grey page 180° in place. For one byte per pixel in row-major order a half turn is
/// the buffer reversed, which is what `imageops::rotate180_in_place` computes pixel by pixel
/// (a test checks they agree), at memory speed.
pub fn turn_180(page: &mut GrayImage) {
    let buf: &mut [u8] = page;
    buf.reverse();
}

/// Paints each region solid black (0) on the page; regions are placed by `region_pixels`, so
/// the caller passes only the regions of this page.
pub fn paint_masks(page: &mut GrayImage, regions: &[Region]) {
    let (w, h) = page.dimensions();
    for r in regions {
        fill(page, region_pixels(r, w, h), 0);
    }
}

fn fill(img: &mut GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32), value: u8) {
    let width = img.width() as usize;
    let buf: &mut [u8] = img;
    for y in y0 as usize..y1 as usize {
        buf[y * width + x0 as usize..y * width + x1 as usize].fill(value);
    }
}

/// The region's pixels, copied row by row.
pub fn cut(page: &GrayImage, region: &Region) -> GrayImage {
    let (w, h) = page.dimensions();
    copy_rect(page, region_pixels(region, w, h))
}

fn copy_rect(page: &GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> GrayImage {
    let width = page.width() as usize;
    let raw = page.as_raw();
    let mut out = Vec::with_capacity((x1 - x0) as usize * (y1 - y0) as usize);
    for y in y0 as usize..y1 as usize {
        out.extend_from_slice(&raw[y * width + x0 as usize..y * width + x1 as usize]);
    }
    GrayImage::from_raw(x1 - x0, y1 - y0, out).expect("the buffer holds exactly the rectangle")
}

/// The question's cut with every mask painted, pixel for pixel what `paint_masks` then `cut`
/// gives, without masking (or copying) the whole page: the page stays the unmasked original.
pub fn cut_masked(page: &GrayImage, question: &Region, masks: &[Region]) -> GrayImage {
    let (w, h) = page.dimensions();
    let (qx0, qy0, qx1, qy1) = region_pixels(question, w, h);
    let mut out = copy_rect(page, (qx0, qy0, qx1, qy1));
    for m in masks {
        let (mx0, my0, mx1, my1) = region_pixels(m, w, h);
        let (x0, y0, x1, y1) = (mx0.max(qx0), my0.max(qy0), mx1.min(qx1), my1.min(qy1));
        if x0 < x1 && y0 < y1 {
            fill(&mut out, (x0 - qx0, y0 - qy0, x1 - qx0, y1 - qy0), 0);
        }
    }
    out
}

/// One uploaded page, and what a custodian decided about it, if anything.
#[derive(Debug, Clone)]
pub struct PageInput {
    pub image: GrayImage,
    /// `None`: find the anchor. `Some(turn)`: a custodian's treatment decided whether to turn
    /// the page, and the page counts as treated.
    pub turn: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct TreatedPage {
    pub index: u32,
    /// As found (or as the custodian decided); `None` when the anchor was not found.
    pub orientation: Option<Orientation>,
    pub needs_treatment: bool,
    /// Turned if needed, NOT masked: the original kept for custodians.
    pub upright: GrayImage,
}

#[derive(Debug, Clone)]
pub struct CutQuestion {
    pub code: String,
    pub page: u32,
    /// Masked, cut and encoded as PNG.
    pub png: Vec<u8>,
    pub needs_treatment: bool,
}

#[derive(Debug, Clone)]
pub struct TreatedSheet {
    pub pages: Vec<TreatedPage>,
    pub questions: Vec<CutQuestion>,
}

/// Treats a whole sheet: pages in template order, one entry per template page. `extra_masks`
/// are a custodian's added rectangles (of any page; each applies to its own).
pub fn treat_sheet(
    pages: Vec<PageInput>,
    template: &SheetTemplate,
    extra_masks: &[Region],
) -> Result<TreatedSheet, ScanError> {
    if pages.len() != template.pages as usize {
        return Err(ScanError::PageCountMismatch {
            given: pages.len(),
            expected: template.pages,
        });
    }
    let mut sheet = TreatedSheet {
        pages: Vec::with_capacity(pages.len()),
        questions: Vec::with_capacity(template.questions.len()),
    };
    for (index, input) in (0u32..).zip(pages) {
        let (page, questions) = treat_page(index, input, template, extra_masks)?;
        sheet.pages.push(page);
        sheet.questions.extend(questions);
    }
    Ok(sheet)
}

/// Treats page `index` of a sheet: orientation (given or detected), the half turn, then each
/// question on the page cut with the template's masks and `extra_masks` of this page painted.
/// A page whose anchor is not found is still cut (as it lies), its cuts flagged for treatment.
pub fn treat_page(
    index: u32,
    input: PageInput,
    template: &SheetTemplate,
    extra_masks: &[Region],
) -> Result<(TreatedPage, Vec<CutQuestion>), ScanError> {
    let mut image = input.image;
    if image.width() == 0 || image.height() == 0 {
        return Err(ScanError::InvalidImage(format!("page {index} has no pixels")));
    }
    let (orientation, needs_treatment) = match input.turn {
        Some(true) => (Some(Orientation::UpsideDown), false),
        Some(false) => (Some(Orientation::Upright), false),
        None => {
            let anchor = template.anchors.iter().find(|a| a.page == index);
            let found = anchor.and_then(|a| detect_orientation(&image, a));
            (found, found.is_none())
        }
    };
    if orientation == Some(Orientation::UpsideDown) {
        turn_180(&mut image);
    }
    let masks: Vec<Region> = template
        .masks
        .iter()
        .map(|m| m.region)
        .chain(extra_masks.iter().copied())
        .filter(|r| r.page == index)
        .collect();
    let questions = template
        .questions
        .iter()
        .filter(|q| q.region.page == index)
        .map(|q| CutQuestion {
            code: q.question.clone(),
            page: index,
            png: encode_png(&cut_masked(&image, &q.region, &masks)),
            needs_treatment,
        })
        .collect();
    let page = TreatedPage {
        index,
        orientation,
        needs_treatment,
        upright: image,
    };
    Ok((page, questions))
}
