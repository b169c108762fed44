//! The frames: a FITS primary image (BITPIX 16, `NAXIS1` × `NAXIS2`) with a `FRAME` keyword
//! and pixels that are a known function of position and frame number ([`pixel`]), so a
//! reader in another process can check every byte without being told what was written.

use shmfits_core::fits::{self, HduKind, HeaderBuilder, Value, BLOCK_LEN};
use zerocopy::byteorder::{BigEndian, I16};

use crate::file::ShmFile;

/// The value of pixel `(x, y)` of frame `frame` (0-based): `(31 x + 17 y + frame) mod 2^16`
/// as an `i16`, so every frame differs from the one before in every pixel.
///
/// ```
/// use shmfits_unix::camera::pixel;
/// assert_eq!(pixel(0, 0, 0), 0);
/// assert_eq!(pixel(2, 1, 5), 31 * 2 + 17 + 5);
/// assert_eq!(pixel(1057, 0, 0), 32767);
/// assert_eq!(pixel(1057, 0, 1), -32768); // wraps like CFITSIO's short
/// ```
pub fn pixel(x: usize, y: usize, frame: u32) -> i16 {
    x.wrapping_mul(31)
        .wrapping_add(y.wrapping_mul(17))
        .wrapping_add(frame as usize) as i16
}

/// The geometry of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    width: usize,
    height: usize,
}

impl FrameSpec {
    /// A `width` × `height` frame (use [`FrameSpec::file_len`] to check that it is
    /// representable).
    pub fn new(width: usize, height: usize) -> Self {
        FrameSpec { width, height }
    }

    /// Pixels per frame; `None` for an empty frame or one whose bytes overflow a `usize`.
    pub fn pixels(&self) -> Option<usize> {
        self.width
            .checked_mul(self.height)
            .filter(|&n| n > 0 && n.checked_mul(2).is_some())
    }

    /// Bytes of the FITS file: one header block and the data padded to 2880.
    pub fn file_len(&self) -> Option<usize> {
        let data = self.pixels()?.checked_mul(2)?;
        let padded = fits::padded(data as u64).and_then(|p| usize::try_from(p).ok())?;
        padded.checked_add(BLOCK_LEN)
    }

    /// Write frame `frame` into `buf` (resized to [`FrameSpec::file_len`]): header with
    /// `FRAME`, big-endian pixels, zero padding.
    ///
    /// # Errors
    /// A message if the frame is not representable or the header does not fit.
    pub fn fill(&self, frame: u32, buf: &mut Vec<u8>) -> Result<(), String> {
        let (Some(pixels), Some(len)) = (self.pixels(), self.file_len()) else {
            return Err(format!(
                "a {}×{} frame is not representable",
                self.width, self.height
            ));
        };
        buf.resize(len, 0);
        let (header, data) = buf.split_at_mut(BLOCK_LEN);
        let mut b = HeaderBuilder::new(header);
        let cards = (|| {
            b.logical("SIMPLE", true, Some("conforms to FITS"))?;
            b.integer("BITPIX", 16, Some("16-bit signed pixels"))?;
            b.integer("NAXIS", 2, None)?;
            b.integer("NAXIS1", self.width as i64, Some("width"))?;
            b.integer("NAXIS2", self.height as i64, Some("height"))?;
            b.integer("FRAME", i64::from(frame), Some("frame number, from 0"))?;
            b.string("ORIGIN", "shmfits camera example", None)?;
            b.finish()
        })();
        cards.map_err(|e| format!("frame header: {e}"))?;
        let (pixels, padding) = data.split_at_mut(pixels * 2);
        for (y, row) in pixels.chunks_exact_mut(self.width * 2).enumerate() {
            for (x, px) in row.chunks_exact_mut(2).enumerate() {
                px.copy_from_slice(&pixel(x, y, frame).to_be_bytes());
            }
        }
        padding.fill(0);
        Ok(())
    }

    /// Spoil one pixel (the middle one) of a frame made by [`FrameSpec::fill`].
    pub(crate) fn corrupt(&self, buf: &mut [u8]) {
        let i = BLOCK_LEN + 2 * (self.height / 2 * self.width + self.width / 2);
        if let Some(b) = buf.get_mut(i + 1) {
            *b ^= 1;
        }
    }

    /// Check that `file` holds exactly frame `frame`: one primary HDU walked zero-copy from
    /// the shared memory, BITPIX 16, the right axes and `FRAME`, every pixel as
    /// [`pixel`] says (read through the big-endian view).
    ///
    /// # Errors
    /// A message naming the first difference (keyword, or pixel with its coordinates).
    pub fn verify(&self, file: &ShmFile, frame: u32) -> Result<(), String> {
        let mut hdus = file.hdus().map_err(|e| format!("no view: {e}"))?;
        let hdu = hdus
            .next()
            .ok_or("the file has no HDU")?
            .map_err(|e| format!("HDU walk: {e}"))?;
        if let Some(extra) = hdus.next() {
            return Err(match extra {
                Ok(h) => format!("unexpected HDU {} after the image", h.index()),
                Err(e) => format!("HDU walk after the image: {e}"),
            });
        }
        if hdu.kind() != HduKind::Primary || hdu.layout().bitpix() != 16 {
            return Err(format!(
                "expected a BITPIX 16 primary image, found {} with BITPIX {}",
                hdu.kind().name(),
                hdu.layout().bitpix()
            ));
        }
        let axes: Vec<u64> = hdu.axes().collect();
        if axes != [self.width as u64, self.height as u64] {
            return Err(format!(
                "expected axes [{}, {}], found {axes:?}",
                self.width, self.height
            ));
        }
        match hdu.header().get("FRAME") {
            None => return Err(format!("expected FRAME = {frame}, found no FRAME")),
            Some(c) if c.value().and_then(Value::as_i64) == Some(i64::from(frame)) => {}
            Some(c) => {
                return Err(format!(
                    "expected FRAME = {frame}, found FRAME = {}",
                    c.raw_value()
                ))
            }
        }
        let pixels = self.pixels().ok_or("frame size overflows")?;
        let data = file.hdu_data(&hdu).map_err(|e| e.to_string())?;
        if data.len() != pixels * 2 {
            return Err(format!(
                "expected {} data bytes, found {}",
                pixels * 2,
                data.len()
            ));
        }
        let values: &[I16<BigEndian>] = file
            .values(hdu.data_start(), pixels)
            .map_err(|e| e.to_string())?;
        for (y, row) in values.chunks_exact(self.width).enumerate() {
            for (x, v) in row.iter().enumerate() {
                let (want, got) = (pixel(x, y, frame), v.get());
                if want != got {
                    return Err(format!("pixel ({x}, {y}): expected {want}, found {got}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout() {
        let spec = FrameSpec::new(3, 2);
        assert_eq!(spec.file_len(), Some(2 * 2880));
        let mut buf = Vec::new();
        spec.fill(9, &mut buf).unwrap();
        assert_eq!(buf.len(), 5760);
        let hdus: Vec<_> = fits::Hdus::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(hdus.len(), 1);
        let frame = hdus[0].header().get("FRAME").unwrap();
        assert_eq!(frame.value().and_then(Value::as_i64), Some(9));
        assert_eq!(&buf[2880..2882], &pixel(0, 0, 9).to_be_bytes());
        // pixel (2, 1) is the 6th value
        assert_eq!(&buf[2890..2892], &pixel(2, 1, 9).to_be_bytes());
        assert!(buf[2892..].iter().all(|&b| b == 0));
    }

    #[test]
    fn huge_frames_are_not_representable() {
        assert_eq!(FrameSpec::new(usize::MAX, 2).file_len(), None);
        assert_eq!(FrameSpec::new(usize::MAX / 2, 1).file_len(), None);
        assert_eq!(FrameSpec::new(0, 5).file_len(), None);
        assert!(FrameSpec::new(5, 0).fill(0, &mut Vec::new()).is_err());
    }
}
