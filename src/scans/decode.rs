//! Reading an uploaded page and writing a cut: the format comes from the bytes, never from a
//! name or a header the client chose, and the decoder works under limits so that a
//! decompression bomb is refused from its header, before its pixels are allocated.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::error::ImageError;
use image::{ExtendedColorType, GrayImage, ImageEncoder, ImageFormat, ImageReader, Limits};

use super::{ImageLimits, ScanError};

/// The formats a scanning station sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    Png,
    Jpeg,
    Tiff,
}

impl PageFormat {
    /// The format a MIME type names, if it is one of ours.
    pub fn from_mime(mime: &str) -> Option<PageFormat> {
        let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/png" => Some(PageFormat::Png),
            "image/jpeg" | "image/jpg" => Some(PageFormat::Jpeg),
            "image/tiff" | "image/tiff-fx" => Some(PageFormat::Tiff),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            PageFormat::Png => "image/png",
            PageFormat::Jpeg => "image/jpeg",
            PageFormat::Tiff => "image/tiff",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            PageFormat::Png => ImageFormat::Png,
            PageFormat::Jpeg => ImageFormat::Jpeg,
            PageFormat::Tiff => ImageFormat::Tiff,
        }
    }
}

/// The page format from the magic bytes. A known format we do not take (GIF, BMP, WebP, …) is
/// `unsupported_image_format`; bytes that are no known image at all are `invalid_image`.
pub fn sniff_format(bytes: &[u8]) -> Result<PageFormat, ScanError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => Ok(PageFormat::Png),
        Ok(ImageFormat::Jpeg) => Ok(PageFormat::Jpeg),
        Ok(ImageFormat::Tiff) => Ok(PageFormat::Tiff),
        Ok(other) => Err(ScanError::UnsupportedImageFormat(format!("{other:?}"))),
        Err(_) => Err(ScanError::InvalidImage(
            "the bytes are not a PNG, JPEG or TIFF image".into(),
        )),
    }
}

/// Decodes one page (PNG, JPEG or TIFF, sniffed) to 8-bit grey under `limits`.
pub fn decode_page(bytes: &[u8], limits: &ImageLimits) -> Result<GrayImage, ScanError> {
    let format = sniff_format(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(decoder_limits(limits));
    let decoded = reader.decode().map_err(|e| from_image_error(e, format))?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(ScanError::InvalidImage("the image has no pixels".into()));
    }
    // A grey scan converts for free; a colour one costs one more grey-sized buffer.
    Ok(decoded.into_luma8())
}

/// Like [`decode_page`], but the upload also says what it is (its part's `Content-Type`): a
/// file that is not the image it claims to be is refused as `invalid_image`, so a mislabelled
/// file never slips through as something else.
pub fn decode_claimed(bytes: &[u8], claimed_mime: &str, limits: &ImageLimits) -> Result<GrayImage, ScanError> {
    let Some(claimed) = PageFormat::from_mime(claimed_mime) else {
        return Err(ScanError::UnsupportedImageFormat(claimed_mime.to_string()));
    };
    let actual = sniff_format(bytes)?;
    if actual != claimed {
        return Err(ScanError::InvalidImage(format!(
            "the file claims to be {} but is {}",
            claimed.mime(),
            actual.mime()
        )));
    }
    decode_page(bytes, limits)
}

fn decoder_limits(limits: &ImageLimits) -> Limits {
    // `Limits` is non-exhaustive: start from its defaults and set every field we know.
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(limits.max_decoded_bytes);
    l
}

fn from_image_error(e: ImageError, format: PageFormat) -> ScanError {
    match e {
        ImageError::Limits(l) => ScanError::ImageTooLarge(l.to_string()),
        // A feature of the format we cannot read (a TIFF compression, a 12-bit JPEG, …).
        ImageError::Unsupported(u) => ScanError::UnsupportedImageFormat(format!("{}: {u}", format.mime())),
        other => ScanError::InvalidImage(format!("{}: {other}", format.mime())),
    }
}

/// Encodes a grey image as PNG with fast settings and no metadata: nothing but the pixels
/// leaves, which anonymisation wants, and fast deflate keeps ingest near 100 pages/s.
///
/// Panics only on an image with no pixels, which neither a decoded page nor a cut can be.
pub fn encode_png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::with_capacity(img.as_raw().len() / 8 + 1024);
    // `Up` costs one subtraction a byte and suits scans (rows resemble the row above);
    // `Adaptive` tries every filter on every row for a few percent of size.
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Up)
        .write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::L8)
        .expect("a non-empty grey image encodes to PNG in memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn page() -> GrayImage {
        GrayImage::from_fn(40, 30, |x, y| Luma([((x * 7 + y * 3) % 256) as u8]))
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A PNG that claims 60,000 × 60,000 grey pixels (3.6 GB decoded) in a few dozen bytes.
    fn bomb_header() -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&60_000u32.to_be_bytes());
        ihdr.extend_from_slice(&60_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, deflate, no filter, no interlace
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &[0x78, 0x01]);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn png_round_trips_exactly() {
        let p = page();
        assert_eq!(decode_page(&encode_png(&p), &ImageLimits::default()).unwrap(), p);
    }

    #[test]
    fn jpeg_and_tiff_decode_to_grey() {
        let p = page();
        let mut tiff = Cursor::new(Vec::new());
        p.write_to(&mut tiff, ImageFormat::Tiff).unwrap();
        assert_eq!(decode_page(tiff.get_ref(), &ImageLimits::default()).unwrap(), p);
        let rgb = image::DynamicImage::ImageLuma8(p.clone()).to_rgb8();
        let mut jpeg = Cursor::new(Vec::new());
        rgb.write_to(&mut jpeg, ImageFormat::Jpeg).unwrap();
        let back = decode_page(jpeg.get_ref(), &ImageLimits::default()).unwrap();
        assert_eq!(back.dimensions(), p.dimensions());
    }

    #[test]
    fn a_corrupted_png_is_invalid() {
        let mut bytes = encode_png(&page());
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xFF;
        assert_eq!(
            decode_page(&bytes, &ImageLimits::default()).unwrap_err().code(),
            "invalid_image"
        );
        let truncated = &encode_png(&page())[..60];
        assert_eq!(
            decode_page(truncated, &ImageLimits::default()).unwrap_err().code(),
            "invalid_image"
        );
    }

    #[test]
    fn a_bomb_header_is_refused_by_the_decoder_limits() {
        // Refused from the header by the decoder's own `Limits`: a Limits error is raised before
        // any pixel buffer exists (an allocation of 3.6 GB would have been a different error or
        // a success).
        let e = decode_page(&bomb_header(), &ImageLimits::default()).unwrap_err();
        assert_eq!(e.code(), "image_too_large", "{e}");
        // Within the dimensions but over the memory budget: refused too.
        let small = ImageLimits {
            max_decoded_bytes: 100,
            ..ImageLimits::default()
        };
        assert_eq!(
            decode_page(&encode_png(&page()), &small).unwrap_err().code(),
            "image_too_large"
        );
        let narrow = ImageLimits {
            max_width: 39,
            ..ImageLimits::default()
        };
        assert_eq!(
            decode_page(&encode_png(&page()), &narrow).unwrap_err().code(),
            "image_too_large"
        );
    }

    #[test]
    fn jpeg_and_tiff_headers_claiming_60000_pixels_a_side_are_refused() {
        let limits = ImageLimits::default();
        let mut jpeg = Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(page())
            .write_to(&mut jpeg, ImageFormat::Jpeg)
            .unwrap();
        let mut jpeg = jpeg.into_inner();
        // SOF0: marker, length (2), precision (1), height (2), width (2).
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        assert_eq!(decode_page(&jpeg, &limits).unwrap_err().code(), "image_too_large");

        let mut tiff = Cursor::new(Vec::new());
        page().write_to(&mut tiff, ImageFormat::Tiff).unwrap();
        let mut tiff = tiff.into_inner();
        assert_eq!(&tiff[..4], b"II*\0", "little-endian TIFF");
        let ifd = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
        let entries = u16::from_le_bytes(tiff[ifd..ifd + 2].try_into().unwrap()) as usize;
        for e in (0..entries).map(|k| ifd + 2 + 12 * k) {
            let tag = u16::from_le_bytes(tiff[e..e + 2].try_into().unwrap());
            // ImageWidth, ImageLength, RowsPerStrip to 60,000 and Compression to deflate, so the
            // one small strip is consistent with the claim (SHORT or LONG: the value sits first).
            let value: u16 = match tag {
                256 | 257 | 278 => 60_000,
                259 => 8,
                _ => continue,
            };
            tiff[e + 8..e + 10].copy_from_slice(&value.to_le_bytes());
        }
        let e = decode_page(&tiff, &limits).unwrap_err();
        assert_eq!(e.code(), "image_too_large", "{e}");
    }

    #[test]
    fn other_formats_and_non_images_are_refused() {
        let limits = ImageLimits::default();
        let not_image = b"admission_number,name\n2024001,Li Lei\n";
        assert_eq!(decode_page(not_image, &limits).unwrap_err().code(), "invalid_image");
        assert_eq!(decode_page(b"", &limits).unwrap_err().code(), "invalid_image");
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        assert_eq!(
            decode_page(gif, &limits).unwrap_err().code(),
            "unsupported_image_format"
        );
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 60]);
        assert_eq!(
            decode_page(&bmp, &limits).unwrap_err().code(),
            "unsupported_image_format"
        );
    }

    #[test]
    fn a_file_must_be_what_it_claims() {
        let png = encode_png(&page());
        let limits = ImageLimits::default();
        assert!(decode_claimed(&png, "image/png", &limits).is_ok());
        assert_eq!(
            decode_claimed(&png, "image/jpeg", &limits).unwrap_err().code(),
            "invalid_image"
        );
        assert_eq!(
            decode_claimed(&png, "image/gif", &limits).unwrap_err().code(),
            "unsupported_image_format"
        );
    }

    #[test]
    fn encoded_pngs_carry_no_metadata_chunks() {
        let png = encode_png(&page());
        let mut at = 8;
        let mut kinds = Vec::new();
        while at + 8 <= png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            kinds.push(String::from_utf8_lossy(&png[at + 4..at + 8]).to_string());
            at += 12 + len;
        }
        assert!(
            kinds.iter().all(|k| ["IHDR", "IDAT", "IEND"].contains(&k.as_str())),
            "{kinds:?}"
        );
    }
}
