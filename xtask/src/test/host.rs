//! The host's checks: formatting, lints, the host and doc tests on the simulated kernel, Miri,
//! the library's docs and package, and a checkout as Git for Windows makes it.

use std::process::Command;

use anyhow::{Context as _, Result, bail};

use super::{Check, Needs, cargo, cargo_shown};
use crate::{miri, process, workspace};

pub fn checks() -> Vec<Check> {
    let mut checks = vec![
        Check::new("host: cargo fmt --check", Needs::Host, |context| {
            process::run(
                "cargo fmt --all --check",
                cargo().args(["fmt", "--all", "--check"]),
                context.options.verbose,
            )
            .map(drop)
        }),
        Check::new(
            "host: cargo clippy, warnings as errors",
            Needs::Host,
            |_| {
                cargo_shown(
                    "cargo clippy --workspace --all-targets -- -D warnings",
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--quiet",
                        "--",
                        "-D",
                        "warnings",
                    ],
                )
            },
        ),
        Check::new(
            "host: unit and doc tests of every crate (simulated kernel)",
            Needs::Host,
            |_| {
                cargo_shown(
                    "cargo test --workspace (host unit and doc tests, simulated kernel)",
                    &["test", "--workspace"],
                )
            },
        ),
        Check::new(
            "wdm-lookaside: cargo doc, warnings as errors",
            Needs::Host,
            |_| {
                process::run(
                    "cargo doc -p wdm-lookaside --no-deps (RUSTDOCFLAGS=-D warnings)",
                    cargo()
                        .args(["doc", "-p", "wdm-lookaside", "--no-deps", "--quiet"])
                        .env("RUSTDOCFLAGS", "-D warnings"),
                    false,
                )
                .map(drop)
            },
        ),
        Check::new(
            "wdm-lookaside: cargo package --list holds its sources, build script, README and manifest only",
            Needs::Host,
            |_| package_list(),
        ),
        Check::new(
            "wdm-lookaside: its README's example, as a crate of its own outside the workspace, passes cargo test",
            Needs::Host,
            |_| readme_example(),
        ),
        Check::new(
            "wdm-lookaside: cargo publish --dry-run",
            Needs::Host,
            |_| {
                process::run(
                    "cargo publish --dry-run -p wdm-lookaside",
                    cargo().args([
                        "publish",
                        "--dry-run",
                        "--allow-dirty",
                        "--quiet",
                        "-p",
                        "wdm-lookaside",
                    ]),
                    false,
                )
                .map(drop)
            },
        ),
        Check::new(
            "host: docs held to the code (generated blocks, links and anchors, the layout, the README's size)",
            Needs::Host,
            |_| crate::docs::check(&super::check_names()),
        ),
        Check::new(
            "host: a Git-for-Windows checkout (core.autocrlf=true) passes the host tests",
            Needs::Host,
            |_| crlf_checkout(),
        ),
    ];
    for model in miri::Model::ALL {
        checks.push(Check::new(
            format!("host: unit tests under Miri ({})", model.name()),
            Needs::Miri,
            move |_| miri::run(model),
        ));
    }
    checks
}

/// The crate README's `Cargo.toml`, `build.rs` and `src/lib.rs`, written out as they are (the
/// dependency pointed at this checkout by path, as the README says to), then `cargo test`: what
/// a driver author who follows the README gets.
fn readme_example() -> Result<()> {
    let library = workspace::root().join("crates/wdm-lookaside");
    let readme = std::fs::read_to_string(library.join("README.md"))?;
    let mut blocks = readme
        .split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|block| block.split_once('\n'));
    let mut next = |language: &str| {
        blocks
            .find(|(info, _)| *info == language)
            .map(|(_, code)| code.to_owned())
            .with_context(|| format!("the README has no more ```{language} blocks"))
    };
    let (manifest, build_script, lib) = (next("toml")?, next("rust")?, next("rust")?);
    let path = format!("{{ path = {:?}", library.display().to_string());
    let mut replaced = 0;
    let manifest: String = manifest
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("wdm-lookaside = ") else {
                return format!("{line}\n");
            };
            replaced += 1;
            if rest.contains("features") {
                format!("wdm-lookaside = {path}, features = [\"sim\"] }}\n")
            } else {
                format!("wdm-lookaside = {path} }}\n")
            }
        })
        .collect();
    if replaced != 2 {
        bail!(
            "the README's Cargo.toml names wdm-lookaside {replaced} times, not twice (dependency, dev-dependency)"
        );
    }
    let dir = workspace::root().join("target/readme-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src"))?;
    // A workspace of its own: the crate is outside this one, as a driver author's is.
    std::fs::write(dir.join("Cargo.toml"), manifest + "\n[workspace]\n")?;
    std::fs::write(dir.join("build.rs"), build_script)?;
    std::fs::write(dir.join("src/lib.rs"), lib)?;
    let outcome = process::run(
        "cargo test, in the README example's own crate",
        cargo().current_dir(&dir).args(["test", "--quiet"]).env(
            "CARGO_TARGET_DIR",
            workspace::root().join("target/readme-example-target"),
        ),
        false,
    )
    .map(drop);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn package_list() -> Result<()> {
    let output = process::run(
        "cargo package --list -p wdm-lookaside",
        cargo().args(["package", "--list", "--allow-dirty", "-p", "wdm-lookaside"]),
        false,
    )?;
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    let stray: Vec<&str> = listed
        .lines()
        .filter(|file| {
            !(file.starts_with("src/")
                && std::path::Path::new(file)
                    .extension()
                    .is_some_and(|extension| extension == "rs")
                || [
                    "build.rs",
                    "README.md",
                    "Cargo.toml",
                    "Cargo.toml.orig",
                    "Cargo.lock",
                    ".cargo_vcs_info.json",
                ]
                .contains(file))
        })
        .collect();
    if !stray.is_empty() {
        bail!("the package would also hold {stray:?}");
    }
    for needed in ["src/lib.rs", "src/sim/mod.rs", "README.md", "build.rs"] {
        if !listed.lines().any(|file| file == needed) {
            bail!("the package lacks {needed}");
        }
    }
    Ok(())
}

/// Git for Windows checks text out with CRLF (`core.autocrlf=true`, its installer's default):
/// a clone made that way, of what is committed, must pass the host tests as well.
fn crlf_checkout() -> Result<()> {
    let clone = workspace::root().join("target/crlf-checkout");
    let _ = std::fs::remove_dir_all(&clone);
    process::run(
        "git -c core.autocrlf=true clone (as Git for Windows checks out)",
        Command::new("git")
            .args(["-c", "core.autocrlf=true", "clone", "--quiet", "--no-local"])
            .arg(workspace::root())
            .arg(&clone),
        false,
    )?;
    let outcome = process::run(
        "cargo test --workspace in the CRLF checkout",
        cargo()
            .current_dir(&clone)
            .args(["test", "--workspace", "--quiet"])
            // Its own target folder would build everything again; the shared one rebuilds
            // only what its sources change.
            .env("CARGO_TARGET_DIR", workspace::root().join("target")),
        false,
    )
    .map(drop);
    let _ = std::fs::remove_dir_all(&clone);
    outcome
}
