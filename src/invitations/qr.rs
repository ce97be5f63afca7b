//! QR codes of survey links, as SVG (for printing) and PNG (for one-stop systems that embed images).

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

/// Why a QR code could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the link does not fit in a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("cannot encode PNG: {0}")]
    Png(#[from] png::EncodingError),
}

fn code(url: &str) -> Result<QrCode, QrError> {
    // Medium error correction survives a smudged or creased result slip.
    Ok(QrCode::with_error_correction_level(
        url.as_bytes(),
        EcLevel::M,
    )?)
}

/// The QR code as a standalone SVG document.
pub fn svg(url: &str) -> Result<String, QrError> {
    Ok(code(url)?
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// The QR code as a grayscale PNG, `scale` pixels per module, with the standard 4-module margin.
pub fn png(url: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let code = code(url)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let side = (modules + 8) * scale;
    let mut pixels = vec![255u8; (side * side) as usize];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i as u32 % modules + 4, i as u32 / modules + 4);
        for y in my * scale..(my + 1) * scale {
            let row = (y * side) as usize;
            pixels[row + (mx * scale) as usize..row + ((mx + 1) * scale) as usize].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_and_png_are_well_formed() -> Result<(), Box<dyn std::error::Error>> {
        let url = "https://khaosat.example.vn/s/AAAAAAAAAAAAAAAAAAAAAA";
        let s = svg(url)?;
        assert!(s.contains("<svg") && s.contains("</svg>"));
        let p = png(url, 4)?;
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(p));
        let reader = decoder.read_info()?;
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width % 4, 0);
        Ok(())
    }
}
