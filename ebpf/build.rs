//! Compiles `src/bpf/*.bpf.c` into BPF objects with clang (`-O2 -g -target bpf`); the crate
//! embeds them with `aya::include_bytes_aligned!`.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAMS: &[&str] = &["xdp_steer", "tc_pace", "xdp_loss"];

fn main() {
    let src = Path::new("src/bpf");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src/bpf");
    println!("cargo:rerun-if-env-changed=CLANG");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());

    match Command::new(&clang).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "punktfunk-ebpf: `{clang}` not found. The eBPF programs are C compiled with clang \
             -target bpf: install the Debian package `clang` (and `libbpf-dev` for \
             <bpf/bpf_helpers.h>), e.g. `apt-get install clang libbpf-dev`, or run \
             scripts/setup.sh. Set CLANG=/path/to/clang to use another binary."
        ),
    }

    // <linux/*.h> includes <asm/types.h>, which Debian keeps under the multiarch directory;
    // clang -target bpf does not search it by itself.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        other => other,
    };
    let asm_include = format!("/usr/include/{multiarch}");

    for name in PROGRAMS {
        let input = src.join(format!("{name}.bpf.c"));
        let output = out.join(format!("{name}.bpf.o"));
        let result = Command::new(&clang)
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
            .arg(format!("-I{asm_include}"))
            .arg("-Isrc/bpf")
            .arg("-c")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap_or_else(|e| panic!("punktfunk-ebpf: running {clang}: {e}"));
        if !result.status.success() {
            let stderr = String::from_utf8_lossy(&result.stderr);
            let hint = if stderr.contains("bpf/bpf_helpers.h") {
                "\nhint: <bpf/bpf_helpers.h> comes from the Debian package `libbpf-dev`"
            } else if stderr.contains("asm/") {
                "\nhint: <asm/types.h> comes from the Debian package `linux-libc-dev`"
            } else {
                ""
            };
            panic!(
                "punktfunk-ebpf: compiling {} failed:\n{stderr}{hint}",
                input.display()
            );
        }
    }
}
