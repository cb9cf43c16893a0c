//! NVENC input path: BGRA → NV12 (BT.601 limited range) on the GPU with a CUDA kernel
//! compiled at run time by NVRTC, plus the host-side upload/download around it. The same
//! conversion runs on the CPU in [`bgra_to_nv12_reference`], which checks the GPU result
//! and serves machines without a GPU.
//!
//! CUDA is loaded dynamically: [`cuda_available`] checks for the driver library before any
//! cudarc call (cudarc panics on first use without one).

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};

use super::EncodeError;
use crate::frame::{PixelFormat, VideoFrame};

/// The CUDA kernel: one thread per 2×2 pixel block writes 4 luma samples and one
/// interleaved UV pair (chroma from the block's average colour). Integer BT.601 limited
/// range, bit-exact with [`bgra_to_nv12_reference`].
pub const BGRA_TO_NV12_KERNEL: &str = r#"
extern "C" __global__ void bgra_to_nv12(const unsigned char* src, int src_stride,
                                        unsigned char* dst, int width, int height) {
    int bx = blockIdx.x * blockDim.x + threadIdx.x;
    int by = blockIdx.y * blockDim.y + threadIdx.y;
    if (bx * 2 >= width || by * 2 >= height) return;
    int sr = 0, sg = 0, sb = 0;
    for (int dy = 0; dy < 2; dy++) {
        for (int dx = 0; dx < 2; dx++) {
            int x = bx * 2 + dx, y = by * 2 + dy;
            const unsigned char* p = src + y * src_stride + x * 4;
            int b = p[0], g = p[1], r = p[2];
            dst[y * width + x] = (unsigned char)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
            sr += r; sg += g; sb += b;
        }
    }
    int r = (sr + 2) >> 2, g = (sg + 2) >> 2, b = (sb + 2) >> 2;
    unsigned char* uv = dst + width * height + by * width + bx * 2;
    uv[0] = (unsigned char)(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
    uv[1] = (unsigned char)(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
}
"#;

fn y_of(r: i32, g: i32, b: i32) -> u8 {
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8
}

/// CPU reference of [`BGRA_TO_NV12_KERNEL`] (same integer math). `width` and `height`
/// must be even; `dst` gets `w·h·3/2` bytes.
pub fn bgra_to_nv12_reference(src: &VideoFrame, dst: &mut VideoFrame) {
    assert_eq!(src.format, PixelFormat::Bgra);
    let (w, h) = (src.width as usize, src.height as usize);
    assert!(w % 2 == 0 && h % 2 == 0, "NV12 needs even dimensions");
    dst.reshape(src.width, src.height, PixelFormat::Nv12);
    dst.capture_ts_ns = src.capture_ts_ns;
    dst.frame_number = src.frame_number;
    let (luma, uv) = dst.data.split_at_mut(w * h);
    for by in 0..h / 2 {
        for bx in 0..w / 2 {
            let (mut sr, mut sg, mut sb) = (0i32, 0i32, 0i32);
            for dy in 0..2 {
                for dx in 0..2 {
                    let (x, y) = (bx * 2 + dx, by * 2 + dy);
                    let p = &src.data[y * src.stride + x * 4..][..4];
                    let (b, g, r) = (p[0] as i32, p[1] as i32, p[2] as i32);
                    luma[y * w + x] = y_of(r, g, b);
                    sr += r;
                    sg += g;
                    sb += b;
                }
            }
            let (r, g, b) = ((sr + 2) >> 2, (sg + 2) >> 2, (sb + 2) >> 2);
            let o = by * w + bx * 2;
            uv[o] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8;
            uv[o + 1] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8;
        }
    }
}

/// Whether the CUDA driver library can be loaded (checked before any other cudarc call).
pub fn cuda_available() -> bool {
    // SAFETY: only tries to dlopen the driver library (running its initialisers, as any
    // later cudarc use would) and drops it; no CUDA call is made.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

fn cuda_err(e: impl std::fmt::Debug) -> EncodeError {
    EncodeError::Encode(format!("cuda: {e:?}"))
}

/// BGRA→NV12 on the GPU: uploads a frame, converts it, and downloads NV12 (which the
/// NVENC encoder takes as a system-memory frame).
pub struct CudaConverter {
    stream: Arc<CudaStream>,
    func: CudaFunction,
    src: Option<CudaSlice<u8>>,
    dst: Option<CudaSlice<u8>>,
}

impl CudaConverter {
    /// Creates a context on GPU `ordinal` and compiles the kernel with NVRTC.
    pub fn new(ordinal: usize) -> Result<Self, EncodeError> {
        if !cuda_available() {
            return Err(EncodeError::Open {
                name: "cuda".into(),
                reason: "no CUDA driver library (libcuda.so)".into(),
            });
        }
        let ctx = CudaContext::new(ordinal).map_err(cuda_err)?;
        let ptx = cudarc::nvrtc::compile_ptx(BGRA_TO_NV12_KERNEL).map_err(cuda_err)?;
        let module = ctx.load_module(ptx).map_err(cuda_err)?;
        let func = module.load_function("bgra_to_nv12").map_err(cuda_err)?;
        Ok(Self {
            stream: ctx.default_stream(),
            func,
            src: None,
            dst: None,
        })
    }

    /// Converts `src` (BGRA, even size) into `dst` (NV12) through the GPU.
    pub fn convert(&mut self, src: &VideoFrame, dst: &mut VideoFrame) -> Result<(), EncodeError> {
        let (w, h) = (src.width as usize, src.height as usize);
        if src.format != PixelFormat::Bgra || w % 2 != 0 || h % 2 != 0 {
            return Err(EncodeError::Encode(
                "CUDA conversion needs even-sized BGRA".into(),
            ));
        }
        let out_len = PixelFormat::Nv12.buffer_len(src.width, src.height);
        if self.src.as_ref().map(|s| s.len()) != Some(src.data.len()) {
            self.src = Some(
                self.stream
                    .alloc_zeros::<u8>(src.data.len())
                    .map_err(cuda_err)?,
            );
            self.dst = Some(self.stream.alloc_zeros::<u8>(out_len).map_err(cuda_err)?);
        }
        let (s, d) = (
            self.src.as_mut().expect("set"),
            self.dst.as_mut().expect("set"),
        );
        self.stream.memcpy_htod(&src.data, s).map_err(cuda_err)?;
        let cfg = LaunchConfig {
            grid_dim: ((w / 2).div_ceil(16) as u32, (h / 2).div_ceil(16) as u32, 1),
            block_dim: (16, 16, 1),
            shared_mem_bytes: 0,
        };
        let (stride, wi, hi) = (src.stride as i32, w as i32, h as i32);
        let mut launch = self.stream.launch_builder(&self.func);
        launch.arg(&*s).arg(&stride).arg(&mut *d).arg(&wi).arg(&hi);
        // SAFETY: the kernel's signature is (const u8*, int, u8*, int, int), matching the
        // arguments; `s` holds stride·h bytes and `d` w·h·3/2 bytes, and the kernel only
        // touches pixels inside width×height.
        unsafe { launch.launch(cfg) }.map_err(cuda_err)?;
        dst.reshape(src.width, src.height, PixelFormat::Nv12);
        self.stream
            .memcpy_dtoh(&*d, &mut dst.data)
            .map_err(cuda_err)?;
        dst.capture_ts_ns = src.capture_ts_ns;
        dst.frame_number = src.frame_number;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::source::VideoSource;
    use crate::source::stamp::read_stamp_frame;
    use crate::source::synthetic::SyntheticSource;

    fn bgra(pixels: &[[u8; 3]], w: u32, h: u32) -> VideoFrame {
        let mut f = VideoFrame::new(w, h, PixelFormat::Bgra);
        for (i, p) in pixels.iter().cycle().take((w * h) as usize).enumerate() {
            f.data[i * 4..i * 4 + 4].copy_from_slice(&[p[2], p[1], p[0], 255]);
        }
        f
    }

    #[test]
    fn reference_gives_bt601_limited_primaries() {
        // Pure colours, each a 2×2 block: white, black, red, blue side by side.
        let w = 8;
        let mut f = VideoFrame::new(w, 2, PixelFormat::Bgra);
        let cols = [[255u8, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]];
        for y in 0..2 {
            for x in 0..w as usize {
                let [r, g, b] = cols[x / 2];
                f.data[(y * w as usize + x) * 4..][..4].copy_from_slice(&[b, g, r, 255]);
            }
        }
        let mut out = VideoFrame::new(1, 1, PixelFormat::Nv12);
        bgra_to_nv12_reference(&f, &mut out);
        assert_eq!(&out.data[..4], &[235, 235, 16, 16]);
        let uv = &out.data[16..];
        assert_eq!(&uv[..4], &[128, 128, 128, 128]);
        // Red: Y 82, U 90, V 240; blue: Y 41, U 240, V 110 (BT.601 studio swing).
        assert_eq!(out.data[4], 82);
        assert_eq!(&uv[4..6], &[90, 240]);
        assert_eq!(out.data[6], 41);
        assert_eq!(&uv[6..8], &[240, 110]);
    }

    #[test]
    fn reference_agrees_with_swscale_and_keeps_the_stamp() {
        let mut src = SyntheticSource::new(
            crate::frame::VideoMode::new(320, 180, 60),
            std::sync::Arc::new(ManualClock::new(42)),
            false,
        )
        .unwrap();
        let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
        src.next_frame(&mut f).unwrap();
        let mut nv12 = VideoFrame::new(1, 1, PixelFormat::Nv12);
        bgra_to_nv12_reference(&f, &mut nv12);
        assert_eq!(read_stamp_frame(&nv12).map(|s| s.capture_ts_ns), Some(42));
        // Luma matches FFmpeg's BGRA→NV12 conversion within rounding.
        use ffmpeg_next as ff;
        crate::encode::ffmpeg::init();
        let mut a = ff::frame::Video::new(ff::format::Pixel::BGRA, 320, 180);
        let stride = a.stride(0);
        for y in 0..180 {
            a.data_mut(0)[y * stride..y * stride + 1280]
                .copy_from_slice(&f.data[y * 1280..(y + 1) * 1280]);
        }
        let mut b = ff::frame::Video::new(ff::format::Pixel::NV12, 320, 180);
        ff::software::scaling::Context::get(
            ff::format::Pixel::BGRA,
            320,
            180,
            ff::format::Pixel::NV12,
            320,
            180,
            ff::software::scaling::Flags::POINT,
        )
        .unwrap()
        .run(&a, &mut b)
        .unwrap();
        let ys = b.stride(0);
        let mut worst = 0;
        for y in 0..180 {
            for x in 0..320 {
                let d = (b.data(0)[y * ys + x] as i32 - nv12.data[y * 320 + x] as i32).abs();
                worst = worst.max(d);
            }
        }
        assert!(worst <= 2, "luma differs from swscale by {worst}");
    }

    #[test]
    fn gpu_matches_reference_or_skips() {
        if !cuda_available() {
            eprintln!("SKIP: no CUDA driver library on this machine");
            return;
        }
        let mut conv = match CudaConverter::new(0) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIP: {e}");
                return;
            }
        };
        let f = bgra(
            &[
                [10, 200, 30],
                [250, 5, 77],
                [0, 0, 0],
                [255, 255, 255],
                [1, 2, 3],
            ],
            64,
            36,
        );
        let (mut gpu, mut cpu) = (
            VideoFrame::new(1, 1, PixelFormat::Nv12),
            VideoFrame::new(1, 1, PixelFormat::Nv12),
        );
        conv.convert(&f, &mut gpu).unwrap();
        bgra_to_nv12_reference(&f, &mut cpu);
        assert_eq!(gpu.data, cpu.data);
    }
}
