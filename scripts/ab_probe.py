#!/usr/bin/env python3
"""A/B of an older commit's kernels and the working tree's, both linked into one program
(`scripts/ab_probe.rs`) and timed in turn on the same buffers: the speed rule of the
kernel-layer issue (no decode or prefill case more than 10% slower than the older build).
Two builds' bench binaries, run in turn, place their buffers where their own heaps put
them: a decode row measured up to 24% apart that way, and the same within 2% here.

    python3 scripts/ab_probe.py REV [--rounds R] [FILTER...]     e.g. ... ac18cb9 decode f32

The older crate (`Cargo.toml`, `build.rs`, `src/` of REV) is unpacked into
`target/ab-probe/old` under another version number, so that Cargo takes both.
"""
import pathlib, re, subprocess, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIR = ROOT / "target" / "ab-probe"


def unpack_old(rev):
    old = DIR / "old"
    subprocess.run(["rm", "-rf", str(old)], check=True)
    old.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "Cargo.toml", "build.rs", "src"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    # Keep the package's own tables; a workspace, profiles and dev-dependencies belong to
    # the repository, not to a dependency.
    text = (old / "Cargo.toml").read_text()
    keep = []
    for table in re.split(r"(?m)^(?=\[)", text):
        head = table.split("\n", 1)[0].strip()
        if head.startswith(("[workspace", "[profile", "[dev-dependencies", "[package.metadata")):
            continue
        if head == "[package]":
            table = re.sub(r'(?m)^version = ".*"$', 'version = "0.0.0-old"', table)
        keep.append(table)
    (old / "Cargo.toml").write_text("".join(keep))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rev, rest = sys.argv[1], sys.argv[2:]
    unpack_old(rev)
    (DIR / "src").mkdir(exist_ok=True)
    (DIR / "src" / "main.rs").write_text((ROOT / "scripts" / "ab_probe.rs").read_text())
    (DIR / "Cargo.toml").write_text(f"""[package]
name = "ab-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
old = {{ package = "rope-simd", path = "old" }}
new = {{ package = "rope-simd", path = "{ROOT}" }}
half = {{ version = "2.4", default-features = false }}

[features]
# The older build has `Backend::Avx512Bf16` (its bf16 cases then run it on both sides).
old-bf16 = []

[profile.release]
debug = 1

# Its own workspace, not the repository's.
[workspace]
""")
    features = []
    if "Avx512Bf16" in (DIR / "old" / "src" / "backend" / "mod.rs").read_text():
        features = ["--features", "old-bf16"]
    subprocess.run(["cargo", "build", "-q", "--release", *features], cwd=DIR, check=True)
    subprocess.run([str(DIR / "target" / "release" / "ab-probe"), *rest], check=True)


if __name__ == "__main__":
    main()
