//! Frames of an episode: a small rasterizer for the classic-control
//! drawings, and writers for an animated GIF or a PNG strip, so an agent
//! can be watched without a window.

use std::path::Path;

use ml_core::{Error, Result};

/// An RGB image, row-major, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// The colour at `(x, y)`.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * self.width + x);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// A frame being drawn, with anti-aliasing left out for speed and
/// simplicity: filled polygons, circles and thick lines.
#[derive(Debug, Clone)]
pub struct Canvas {
    frame: Frame,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Self {
        Self {
            frame: Frame {
                width,
                height,
                rgb: background.repeat(width * height),
            },
        }
    }

    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.frame.width && (y as usize) < self.frame.height {
            let i = 3 * (y as usize * self.frame.width + x as usize);
            self.frame.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Fill a polygon (even-odd rule) given in pixel coordinates.
    pub fn polygon(&mut self, points: &[(f64, f64)], c: [u8; 3]) {
        if points.len() < 3 {
            return;
        }
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.1), h.max(p.1)));
        let y0 = lo.floor().max(0.0) as i64;
        let y1 = hi.ceil().min(self.frame.height as f64) as i64;
        let mut xs = Vec::new();
        for y in y0..y1 {
            let sy = y as f64 + 0.5;
            xs.clear();
            for i in 0..points.len() {
                let (a, b) = (points[i], points[(i + 1) % points.len()]);
                if (a.1 <= sy) != (b.1 <= sy) {
                    xs.push(a.0 + (sy - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let (from, to) = ((pair[0] - 0.5).ceil() as i64, (pair[1] - 0.5).floor() as i64);
                for x in from.max(0)..=to.min(self.frame.width as i64 - 1) {
                    self.put(x, y, c);
                }
            }
        }
    }

    /// Fill a circle.
    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, c: [u8; 3]) {
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.put(x, y, c);
                }
            }
        }
    }

    /// A line of `width` pixels.
    pub fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, width: f64, c: [u8; 3]) {
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let half = width.max(1.0) / 2.0;
        let (nx, ny) = (-dy / len * half, dx / len * half);
        self.polygon(
            &[
                (x0 + nx, y0 + ny),
                (x1 + nx, y1 + ny),
                (x1 - nx, y1 - ny),
                (x0 - nx, y0 - ny),
            ],
            c,
        );
    }

    /// The finished frame.
    pub fn into_frame(self) -> Frame {
        self.frame
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        op: "write",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn check_frames(frames: &[Frame]) -> Result<(usize, usize)> {
    let first = frames
        .first()
        .ok_or_else(|| Error::invalid("frames", "no frames to write"))?;
    if frames
        .iter()
        .any(|f| f.width != first.width || f.height != first.height || f.rgb.len() != 3 * f.width * f.height)
    {
        return Err(Error::invalid("frames", "frames of different sizes"));
    }
    if first.width > usize::from(u16::MAX) || first.height > usize::from(u16::MAX) || first.width == 0 {
        return Err(Error::invalid(
            "frames",
            "a frame wider or taller than 65535 pixels, or empty",
        ));
    }
    Ok((first.width, first.height))
}

/// The frames as an animated GIF (looping, `fps` frames a second).
///
/// # Errors
/// No frames, frames of different sizes, I/O failures.
pub fn write_gif(frames: &[Frame], fps: u32, path: &Path) -> Result<()> {
    let (w, h) = check_frames(frames)?;
    let mut bytes = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut bytes, w as u16, h as u16, &[]).map_err(|e| io_err(path, e))?;
        enc.set_repeat(gif::Repeat::Infinite).map_err(|e| io_err(path, e))?;
        let delay = (100 / fps.max(1)).max(2) as u16;
        for f in frames {
            // The drawings use a handful of colours: the quantizer's fast
            // setting keeps them exact.
            let mut frame = gif::Frame::from_rgb_speed(w as u16, h as u16, &f.rgb, 30);
            frame.delay = delay;
            enc.write_frame(&frame).map_err(|e| io_err(path, e))?;
        }
    }
    ml_core::io::write_atomic(path, &bytes)
}

/// The frames side by side in rows of `columns`, as one PNG.
///
/// # Errors
/// No frames, frames of different sizes, I/O failures.
pub fn write_png_strip(frames: &[Frame], columns: usize, path: &Path) -> Result<()> {
    let (w, h) = check_frames(frames)?;
    let columns = columns.clamp(1, frames.len());
    let rows = frames.len().div_ceil(columns);
    let (sw, sh) = (w * columns, h * rows);
    let mut rgb = vec![255u8; sw * sh * 3];
    for (k, f) in frames.iter().enumerate() {
        let (ox, oy) = ((k % columns) * w, (k / columns) * h);
        for y in 0..h {
            let src = &f.rgb[y * w * 3..(y + 1) * w * 3];
            let at = ((oy + y) * sw + ox) * 3;
            rgb[at..at + w * 3].copy_from_slice(src);
        }
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, sw as u32, sh as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| io_err(path, e))?;
        writer.write_image_data(&rgb).map_err(|e| io_err(path, e))?;
    }
    ml_core::io::write_atomic(path, &bytes)
}

/// An episode's frames to `path` by its extension: a PNG strip of every
/// `png_every`-th frame in rows of ten for `.png`, an animated GIF at 30
/// frames a second otherwise.
///
/// # Errors
/// As [`write_gif`] and [`write_png_strip`].
pub fn write_episode(frames: &[Frame], path: &Path, png_every: usize) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => {
            let picks: Vec<Frame> = frames.iter().step_by(png_every.max(1)).cloned().collect();
            write_png_strip(&picks, 10, path)
        }
        _ => write_gif(frames, 30, path),
    }
}
