//! The image pipeline of scan intake, pure: no database, no HTTP, no storage of its own.
//!
//! An uploaded page is decoded under limits (`decode`), turned upright by its anchor square,
//! masked and cut into one PNG per question (`treat`). The sheet generator (`generate`) makes
//! the pages that tests, the demo and the load simulator upload, each answer carrying its latent
//! score in a strip that programs read back (`latent`). `bench` times the whole path.
//!
//! Every part places a template region on pixels through [`region_pixels`], so the generator,
//! the mask and the cut agree to the pixel.

pub mod bench;
mod decode;
mod generate;
mod latent;
mod treat;

#[cfg(test)]
mod pipeline_tests;

pub use decode::{PageFormat, decode_claimed, decode_page, encode_png, sniff_format};
pub use generate::{SheetSpec, a4_pixels, generate_sheet, standard_template};
pub use latent::{LATENT_CELLS, draw_latent, read_latent, read_latent_png, strip_rows};
pub use treat::{
    CutQuestion, Orientation, PageInput, TreatedPage, TreatedSheet, cut, cut_masked, detect_orientation, paint_masks,
    treat_page, treat_sheet, turn_180,
};

use crate::domain::template::Region;

/// What a decoder may take on before anything is allocated for the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_width: u32,
    pub max_height: u32,
    /// The decoded image in its own colour type (before the conversion to grey).
    pub max_decoded_bytes: u64,
}

impl Default for ImageLimits {
    /// An A4 page scanned at 600 dpi (4,961 × 7,016) fits with room for scanner margins and
    /// 16-bit colour; anything far beyond is a bomb, not a scan.
    fn default() -> Self {
        ImageLimits {
            max_width: 7_200,
            max_height: 10_200,
            max_decoded_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Why a page was refused. `code()` is the stable problem code the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the file is not a readable image: {0}")]
    InvalidImage(String),
    #[error("unsupported image format {0}: pages are PNG, JPEG or TIFF")]
    UnsupportedImageFormat(String),
    #[error("the image is too large: {0}")]
    ImageTooLarge(String),
    #[error("the sheet has {given} page(s) but the template has {expected}")]
    PageCountMismatch { given: usize, expected: u32 },
}

impl ScanError {
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::InvalidImage(_) => "invalid_image",
            ScanError::UnsupportedImageFormat(_) => "unsupported_image_format",
            ScanError::ImageTooLarge(_) => "image_too_large",
            ScanError::PageCountMismatch { .. } => "page_count_mismatch",
        }
    }
}

/// The pixel rectangle `(x0, y0, x1, y1)` (ends exclusive) of a region on a `width` × `height`
/// page: starts rounded down, ends rounded up, so the rectangle covers every pixel the region
/// touches. Clamped to the page and never empty on a non-empty page: a sliver at the page's
/// edge (which validation tolerates to 1e-9) still gives one pixel, so a cut always encodes.
pub fn region_pixels(region: &Region, width: u32, height: u32) -> (u32, u32, u32, u32) {
    let (x0, x1) = span(region.x, region.width, width);
    let (y0, y1) = span(region.y, region.height, height);
    (x0, y0, x1, y1)
}

fn span(start: f64, len: f64, size: u32) -> (u32, u32) {
    if size == 0 {
        return (0, 0);
    }
    let s = f64::from(size);
    // `as` saturates (NaN gives 0), and the clamps keep the span on the page.
    let a = ((start * s).floor().clamp(0.0, s) as u32).min(size - 1);
    let b = (((start + len) * s).ceil().clamp(0.0, s) as u32).max(a + 1);
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(x: f64, y: f64, width: f64, height: f64) -> Region {
        Region {
            page: 0,
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn regions_round_outwards() {
        assert_eq!(region_pixels(&r(0.1, 0.25, 0.5, 0.5), 100, 40), (10, 10, 60, 30));
        assert_eq!(region_pixels(&r(0.105, 0.0, 0.01, 1.0), 100, 40), (10, 0, 12, 40));
        // A sliver at the edge still yields one pixel.
        assert_eq!(region_pixels(&r(1.0, 0.0, 1e-9, 1.0), 100, 40), (99, 0, 100, 40));
    }

    #[test]
    fn problem_codes_are_stable() {
        assert_eq!(ScanError::InvalidImage("x".into()).code(), "invalid_image");
        assert_eq!(
            ScanError::PageCountMismatch { given: 1, expected: 2 }.code(),
            "page_count_mismatch"
        );
    }

    proptest! {
        #[test]
        fn a_region_on_the_page_gives_a_nonempty_rect_inside_it(
            x in 0.0f64..1.0, y in 0.0f64..1.0, w in 1e-6f64..1.0, h in 1e-6f64..1.0,
            width in 1u32..5000, height in 1u32..5000,
        ) {
            let (x0, y0, x1, y1) = region_pixels(&r(x, y, w.min(1.0 - x), h.min(1.0 - y)), width, height);
            prop_assert!(x0 < x1 && x1 <= width && y0 < y1 && y1 <= height);
        }
    }
}
