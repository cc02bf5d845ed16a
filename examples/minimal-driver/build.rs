//! Build script: wdk-build configures the WDM driver's link, exactly as in Microsoft's samples.
//!
//! On a Windows host that is the whole story (`cargo make`). The Linux cross-build (`cargo
//! xtask`) runs the same call through a copy of wdk-build made Linux-capable (feature
//! `cross-build`). For the host tests (target Linux) there is nothing to configure.

#[cfg(any(windows, feature = "cross-build"))]
fn main() -> Result<(), wdk_build::ConfigError> {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        wdk_build::configure_wdk_binary_build()
    } else {
        Ok(())
    }
}

#[cfg(not(any(windows, feature = "cross-build")))]
fn main() {}
