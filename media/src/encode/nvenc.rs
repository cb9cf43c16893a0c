//! NVENC input path: RGB→NV12 conversion on the GPU (CUDA kernel compiled with NVRTC).
