//! Chooses the kernel the crate runs on: `wdk-sys` and `wdk` on a Windows target, the
//! simulation (`cfg(simulated_kernel)`) on any other target or when the `sim` feature is on.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(simulated_kernel)");
    let windows = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows");
    if !windows || std::env::var_os("CARGO_FEATURE_SIM").is_some() {
        println!("cargo::rustc-cfg=simulated_kernel");
    }
}
