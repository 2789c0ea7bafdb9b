//! The latent strip: a generated answer carries the score a perfect marker would give, so that
//! simulated markers can "read" it as a person reads an essay (issue 6 item 9, DESIGN.md §5).
//!
//! In a cut question image of w × h pixels, cell i (0..12) covers columns
//! [⌊i·w/12⌋, ⌊(i+1)·w/12⌋) and rows [0, ⌈0.05·h⌉); it is black (0) when bit i (least
//! significant first) of latent / step is 1 and white (255) otherwise. Nothing else is drawn
//! in the strip. Integer arithmetic throughout, so writer and reader agree on every pixel.

use image::GrayImage;

/// Cells in the strip: latent units from 0 to 4,095.
pub const LATENT_CELLS: u32 = 12;

/// ⌈0.05 · h⌉, computed exactly as ⌈h / 20⌉.
pub fn strip_rows(height: u32) -> u32 {
    height.div_ceil(20)
}

fn cell_columns(i: u32, width: u32) -> (u32, u32) {
    let w = u64::from(width);
    let at = |k: u32| (u64::from(k) * w / u64::from(LATENT_CELLS)) as u32;
    (at(i), at(i + 1))
}

/// Draws the strip of `units` (low 12 bits) into the rectangle `(x0, y0, x1, y1)` of `page`,
/// which must be the question region's pixel rectangle so the cut reads back exactly.
pub fn draw_latent(page: &mut GrayImage, rect: (u32, u32, u32, u32), units: u32) {
    let (x0, y0, x1, y1) = rect;
    let rows = strip_rows(y1 - y0);
    for i in 0..LATENT_CELLS {
        let (c0, c1) = cell_columns(i, x1 - x0);
        let value = if (units >> i) & 1 == 1 { 0 } else { 255 };
        for y in y0..y0 + rows {
            for x in x0 + c0..x0 + c1 {
                page.put_pixel(x, y, image::Luma([value]));
            }
        }
    }
}

/// Reads the latent units back from a cut question image: a cell is black when most of its
/// pixels are dark, so a reader survives a speck (and a lossless cut reads exactly).
pub fn read_latent(img: &GrayImage) -> u32 {
    strip_units(img, strip_rows(img.height()))
}

/// The units in the first `rows` rows of `img` (the strip).
fn strip_units(img: &GrayImage, rows: u32) -> u32 {
    let w = img.width();
    let mut units = 0;
    for i in 0..LATENT_CELLS {
        let (c0, c1) = cell_columns(i, w);
        let total = u64::from(c1 - c0) * u64::from(rows);
        let dark = (0..rows)
            .flat_map(|y| (c0..c1).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y)[0] < 128)
            .count() as u64;
        if total > 0 && dark * 2 > total {
            units |= 1 << i;
        }
    }
    units
}

/// Reads the latent units from a PNG cut as a person glances at the top of a page: only the
/// strip's rows (the first ⌈h/20⌉) are decoded. A PNG that is not 8-bit grey without interlacing
/// (not what markroom writes) is decoded whole.
pub fn read_latent_png(bytes: &[u8]) -> Result<u32, String> {
    let whole = || -> Result<u32, String> {
        let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).map_err(|e| e.to_string())?;
        Ok(read_latent(&img.to_luma8()))
    };
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .map_err(|e| e.to_string())?;
    let (w, h, interlaced) = (reader.info().width, reader.info().height, reader.info().interlaced);
    if interlaced || reader.output_color_type() != (png::ColorType::Grayscale, png::BitDepth::Eight) {
        return whole();
    }
    let rows = strip_rows(h);
    let mut strip = GrayImage::new(w, rows);
    for y in 0..rows {
        let row = reader
            .next_row()
            .map_err(|e| e.to_string())?
            .ok_or("the image ends inside its strip")?;
        let data = row.data();
        for x in 0..w {
            strip.put_pixel(x, y, image::Luma([data[x as usize]]));
        }
    }
    Ok(strip_units(&strip, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cells_tile_the_full_width_and_the_top_five_percent() {
        assert_eq!(strip_rows(100), 5);
        assert_eq!(strip_rows(101), 6);
        assert_eq!(strip_rows(1), 1);
        assert_eq!(cell_columns(0, 125), (0, 10));
        assert_eq!(cell_columns(11, 125).1, 125);
        let mut img = GrayImage::from_pixel(125, 101, image::Luma([255]));
        draw_latent(&mut img, (0, 0, 125, 101), 0b1000_0000_0001);
        assert_eq!(img.get_pixel(0, 5)[0], 0);
        assert_eq!(img.get_pixel(0, 6)[0], 255);
        assert_eq!(img.get_pixel(10, 0)[0], 255);
        assert_eq!(img.get_pixel(124, 0)[0], 0);
    }

    proptest! {
        #[test]
        fn the_strip_reads_back_from_the_png_rows_alone(units in 0u32..4096, w in 12u32..300, h in 1u32..200) {
            let mut page = GrayImage::from_pixel(w, h, image::Luma([255]));
            draw_latent(&mut page, (0, 0, w, h), units);
            // Ink below the strip must not matter, and is never decoded.
            for y in strip_rows(h)..h {
                page.put_pixel(y % w, y, image::Luma([0]));
            }
            let mut png = Vec::new();
            page.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            prop_assert_eq!(read_latent_png(&png), Ok(units));
        }

        #[test]
        fn the_strip_reads_back(units in 0u32..4096, w in 1u32..300, h in 1u32..120, dx in 0u32..9, dy in 0u32..9) {
            let mut page = GrayImage::from_pixel(w + 20, h + 20, image::Luma([255]));
            draw_latent(&mut page, (dx, dy, dx + w, dy + h), units);
            let cut = image::imageops::crop_imm(&page, dx, dy, w, h).to_image();
            // Narrow images have empty cells, which read as 0.
            let readable = (0..LATENT_CELLS).filter(|&i| { let (a, b) = cell_columns(i, w); a < b })
                .fold(0, |m, i| m | (1 << i));
            prop_assert_eq!(read_latent(&cut), units & readable);
        }
    }
}
