//! The pipeline on generated sheets: masks, turning, treatment and the latent strip, at a low
//! dpi so the debug build stays fast.

use std::collections::BTreeMap;

use image::GrayImage;
use proptest::prelude::*;

use super::*;
use crate::domain::template::{Region, SheetTemplate};

const DPI: u32 = 50;
const CODES: [&str; 5] = ["W1", "S1", "S2", "S3", "S4"];

fn template() -> SheetTemplate {
    standard_template(&CODES)
}

fn spec(seed: u64) -> SheetSpec {
    SheetSpec {
        dpi: DPI,
        seed,
        latents: CODES
            .iter()
            .zip([1u32, 4095, 0, 2730, 77])
            .map(|(c, l)| (c.to_string(), l))
            .collect(),
        ..SheetSpec::default()
    }
}

fn inputs(pages: Vec<GrayImage>, turn: Option<bool>) -> Vec<PageInput> {
    pages.into_iter().map(|image| PageInput { image, turn }).collect()
}

fn png(bytes: &[u8]) -> GrayImage {
    decode_page(bytes, &ImageLimits::default()).unwrap()
}

/// A custodian's rectangles reaching into answers on both pages.
fn extra_masks() -> Vec<Region> {
    let r = |page, x, y, width, height| Region {
        page,
        x,
        y,
        width,
        height,
    };
    vec![
        r(0, 0.30, 0.15, 0.20, 0.10),
        r(0, 0.0, 0.45, 0.33, 0.36),
        r(1, 0.5, 0.05, 0.5, 0.5),
    ]
}

#[test]
fn masked_pixels_are_black_and_the_rest_is_the_original() {
    let t = template();
    let pages = generate_sheet(&t, &spec(1));
    let extra = extra_masks();
    let sheet = treat_sheet(inputs(pages.clone(), None), &t, &extra).unwrap();
    assert_eq!(sheet.questions.len(), CODES.len());
    let all_masks: Vec<Region> = t.masks.iter().map(|m| m.region).chain(extra.iter().copied()).collect();
    let mut masked_somewhere = 0;
    for q in &sheet.questions {
        let original = &pages[q.page as usize];
        let (w, h) = original.dimensions();
        let region = t.questions.iter().find(|r| r.question == q.code).unwrap().region;
        let (qx0, qy0, ..) = region_pixels(&region, w, h);
        let img = png(&q.png);
        for (x, y, p) in img.enumerate_pixels() {
            let (px, py) = (qx0 + x, qy0 + y);
            let masked = all_masks.iter().filter(|m| m.page == q.page).any(|m| {
                let (x0, y0, x1, y1) = region_pixels(m, w, h);
                (x0..x1).contains(&px) && (y0..y1).contains(&py)
            });
            if masked {
                masked_somewhere += 1;
                assert_eq!(p[0], 0, "{} ({x},{y}) lies under a mask", q.code);
            } else {
                assert_eq!(p[0], original.get_pixel(px, py)[0], "{} ({x},{y})", q.code);
            }
        }
    }
    assert!(masked_somewhere > 0, "the custodian's masks reach into answers");
    // The upright pages are kept unmasked for custodians.
    assert_eq!(sheet.pages[0].upright, pages[0]);
}

#[test]
fn painted_masks_are_solid_black_and_cutting_agrees_with_painting() {
    let t = template();
    let pages = generate_sheet(&t, &spec(2));
    let extra = extra_masks();
    for (index, page) in (0u32..).zip(&pages) {
        let regions: Vec<Region> = t
            .masks
            .iter()
            .map(|m| m.region)
            .chain(extra.iter().copied())
            .filter(|r| r.page == index)
            .collect();
        let mut painted = page.clone();
        paint_masks(&mut painted, &regions);
        let (w, h) = page.dimensions();
        for r in &regions {
            let (x0, y0, x1, y1) = region_pixels(r, w, h);
            assert!((y0..y1).all(|y| (x0..x1).all(|x| painted.get_pixel(x, y)[0] == 0)));
        }
        for q in t.questions.iter().filter(|q| q.region.page == index) {
            assert_eq!(cut(&painted, &q.region), cut_masked(page, &q.region, &regions));
        }
    }
}

#[test]
fn an_upside_down_sheet_comes_out_as_the_upright_one() {
    let t = template();
    let upright = treat_sheet(inputs(generate_sheet(&t, &spec(3)), None), &t, &extra_masks()).unwrap();
    let turned_spec = SheetSpec {
        upside_down: true,
        ..spec(3)
    };
    let turned_pages = generate_sheet(&t, &turned_spec);
    assert_ne!(turned_pages[0], upright.pages[0].upright);
    let turned = treat_sheet(inputs(turned_pages, None), &t, &extra_masks()).unwrap();
    for (a, b) in upright.pages.iter().zip(&turned.pages) {
        assert_eq!(a.orientation, Some(Orientation::Upright));
        assert_eq!(b.orientation, Some(Orientation::UpsideDown));
        assert!(!a.needs_treatment && !b.needs_treatment);
        assert_eq!(a.upright, b.upright);
    }
    for (a, b) in upright.questions.iter().zip(&turned.questions) {
        assert_eq!((&a.code, a.page), (&b.code, b.page));
        assert_eq!(png(&a.png), png(&b.png), "{}", a.code);
    }
}

#[test]
fn a_page_without_anchor_needs_treatment_until_a_custodian_decides() {
    let t = template();
    let reference = treat_sheet(inputs(generate_sheet(&t, &spec(4)), None), &t, &[]).unwrap();
    let lost = SheetSpec {
        without_anchor: true,
        upside_down: true,
        ..spec(4)
    };
    let found = treat_sheet(inputs(generate_sheet(&t, &lost), None), &t, &[]).unwrap();
    assert!(found.pages.iter().all(|p| p.needs_treatment && p.orientation.is_none()));
    assert!(found.questions.iter().all(|q| q.needs_treatment));
    assert_eq!(found.questions.len(), CODES.len(), "still cut, as it lies");

    // The custodian turns it: treated, and the cuts are the upright sheet's, anchors aside.
    let treated = treat_sheet(inputs(generate_sheet(&t, &lost), Some(true)), &t, &[]).unwrap();
    assert!(treated.pages.iter().all(|p| !p.needs_treatment));
    assert!(treated.questions.iter().all(|q| !q.needs_treatment));
    for (a, b) in reference.questions.iter().zip(&treated.questions) {
        assert_eq!(png(&a.png), png(&b.png), "{}", a.code);
    }
    // A decision not to turn also counts as treatment.
    let kept = SheetSpec {
        upside_down: false,
        ..lost
    };
    let kept = treat_sheet(inputs(generate_sheet(&t, &kept), Some(false)), &t, &[]).unwrap();
    assert!(kept.questions.iter().all(|q| !q.needs_treatment));
    assert_eq!(kept.pages[0].orientation, Some(Orientation::Upright));
}

#[test]
fn anchors_seen_both_ways_or_neither_are_unknown() {
    let t = template();
    let anchor = t.anchors[0];
    let blank = GrayImage::from_pixel(100, 140, image::Luma([255]));
    assert_eq!(detect_orientation(&blank, &anchor), None);
    let black = GrayImage::from_pixel(100, 140, image::Luma([0]));
    assert_eq!(detect_orientation(&black, &anchor), None);
    let page = &generate_sheet(&t, &spec(5))[0];
    assert_eq!(detect_orientation(page, &anchor), Some(Orientation::Upright));
}

#[test]
fn the_half_turn_is_imageops_rotate180() {
    let page = generate_sheet(&template(), &spec(6)).remove(0);
    let mut ours = page.clone();
    turn_180(&mut ours);
    let mut theirs = page;
    image::imageops::rotate180_in_place(&mut theirs);
    assert_eq!(ours, theirs);
}

#[test]
fn pages_must_match_the_template() {
    let t = template();
    let mut pages = generate_sheet(&t, &spec(7));
    pages.pop();
    let e = treat_sheet(inputs(pages.clone(), None), &t, &[]).unwrap_err();
    assert_eq!(e.code(), "page_count_mismatch");
    pages.extend(generate_sheet(&t, &spec(7)));
    assert_eq!(
        treat_sheet(inputs(pages, None), &t, &[]).unwrap_err().code(),
        "page_count_mismatch"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Every cut reads back its latent exactly, whichever way up the sheet was scanned.
    #[test]
    fn the_latent_strip_reads_back_from_every_cut(
        latents in proptest::collection::vec(0u32..4096, CODES.len()),
        upside_down in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let t = template();
        let spec = SheetSpec {
            dpi: DPI,
            upside_down,
            seed,
            latents: CODES.iter().map(|c| c.to_string()).zip(latents.iter().copied()).collect::<BTreeMap<_, _>>(),
            ..SheetSpec::default()
        };
        let sheet = treat_sheet(inputs(generate_sheet(&t, &spec), None), &t, &[]).unwrap();
        for q in &sheet.questions {
            prop_assert_eq!(read_latent(&png(&q.png)), spec.latents[&q.code], "{}", q.code);
        }
    }
}
