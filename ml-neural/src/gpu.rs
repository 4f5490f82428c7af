//! GPU device discovery for the wgpu backend.
