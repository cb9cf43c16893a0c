//! Raw video frames as sources produce them.

/// Pixel layouts a source can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 8-bit B, G, R, X/A per pixel (X11 ZPixmap on little-endian, most compositors).
    Bgra,
    /// 8-bit R, G, B, X/A per pixel.
    Rgba,
    /// 8-bit Y plane followed by an interleaved half-resolution UV plane.
    Nv12,
}

impl PixelFormat {
    /// Bytes per pixel of the first plane.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Bgra | PixelFormat::Rgba => 4,
            PixelFormat::Nv12 => 1,
        }
    }

    /// Total buffer size for a tightly packed `width`×`height` picture.
    pub fn buffer_len(self, width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        match self {
            PixelFormat::Bgra | PixelFormat::Rgba => w * h * 4,
            PixelFormat::Nv12 => w * h + w * h.div_ceil(2),
        }
    }
}

/// Output mode of a source: exact size and refresh rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoMode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl VideoMode {
    /// A `width`×`height`@`fps` mode.
    pub const fn new(width: u32, height: u32, fps: u32) -> Self {
        Self { width, height, fps }
    }

    /// Nanoseconds between frames.
    pub fn frame_interval_ns(&self) -> u64 {
        1_000_000_000 / self.fps.max(1) as u64
    }
}

/// One captured picture. Buffers are reused: sources fill a frame in place.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Layout of `data`.
    pub format: PixelFormat,
    /// Bytes per row of the first plane (NV12: the UV plane has the same stride).
    pub stride: usize,
    /// Pixel data, tightly packed rows of `stride` bytes.
    pub data: Vec<u8>,
    /// Monotonic capture time in nanoseconds (from the source's [`crate::clock::Clock`]).
    pub capture_ts_ns: u64,
    /// Source frame number, counting from 0.
    pub frame_number: u64,
}

impl VideoFrame {
    /// A black frame of the given size and format.
    pub fn new(width: u32, height: u32, format: PixelFormat) -> Self {
        Self {
            width,
            height,
            format,
            stride: width as usize * format.bytes_per_pixel(),
            data: vec![0; format.buffer_len(width, height)],
            capture_ts_ns: 0,
            frame_number: 0,
        }
    }

    /// Resizes the buffer for another size/format (keeps the allocation when it fits).
    pub fn reshape(&mut self, width: u32, height: u32, format: PixelFormat) {
        self.width = width;
        self.height = height;
        self.format = format;
        self.stride = width as usize * format.bytes_per_pixel();
        self.data.resize(format.buffer_len(width, height), 0);
    }

    /// Luma (BT.601, full range) of the pixel at (x, y), whatever the format.
    pub fn luma_at(&self, x: u32, y: u32) -> u8 {
        let (x, y) = (x as usize, y as usize);
        match self.format {
            PixelFormat::Nv12 => self.data[y * self.stride + x],
            PixelFormat::Bgra | PixelFormat::Rgba => {
                let p = &self.data[y * self.stride + x * 4..][..4];
                let (r, g, b) = if self.format == PixelFormat::Bgra {
                    (p[2], p[1], p[0])
                } else {
                    (p[0], p[1], p[2])
                };
                ((77 * r as u32 + 150 * g as u32 + 29 * b as u32) >> 8) as u8
            }
        }
    }
}
