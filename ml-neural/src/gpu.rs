//! GPU devices for the wgpu backend.
//!
//! burn creates a wgpu device lazily and panics in a worker thread when no
//! adapter exists; the adapters are listed first here, so a machine without
//! a GPU or a Vulkan driver gets an error instead.

use burn::tensor::{Device, DeviceType};
use ml_core::{Error, Result};

/// The first wgpu adapter's device.
///
/// # Errors
/// [`Error::Unsupported`] when wgpu finds no adapter (no GPU, and no
/// software driver such as Mesa's lavapipe: `apt-get install
/// mesa-vulkan-drivers`).
pub(crate) fn device() -> Result<Device> {
    // Listing adapters can itself fail inside wgpu on a machine without
    // drivers; treat a panic there as "no adapter".
    let found = std::panic::catch_unwind(|| Device::enumerate(DeviceType::Wgpu).into_iter().next());
    match found {
        Ok(Some(device)) => Ok(device),
        _ => Err(Error::Unsupported(
            "the wgpu backend: no GPU adapter found (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers, or use backend=cpu)"
                .into(),
        )),
    }
}
