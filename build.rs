//! Tells the kernels whether this build is unoptimized (`opt-level = 0`, as `cargo build`
//! and `cargo test` are by default), where `cfg(rope_simd_unoptimized)` keeps them from
//! being inlined into one another (see `backend::generic`). No other effect.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(rope_simd_unoptimized)");
    // docs.rs builds with `--cfg docsrs` to show which feature each item needs.
    println!("cargo:rustc-check-cfg=cfg(docsrs)");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("OPT_LEVEL").as_deref() == Ok("0") {
        println!("cargo:rustc-cfg=rope_simd_unoptimized");
    }
}
