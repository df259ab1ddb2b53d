//! Builds the RTL of `hw/` into Rust-callable models.
//!
//! For each model: Verilator 5 (`--cc`) writes C++ into OUT_DIR, this script
//! compiles it as one unity translation unit together with a generated
//! `extern "C"` shim (one setter or getter per top-level port, found in the
//! generated header), and writes the matching Rust bindings. The Verilator
//! runtime is compiled once per OUT_DIR and reused. C++ is always optimised
//! (-O2): an unoptimised model runs about 15x slower.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One Verilator model: Rust/C name, top module, parameter overrides.
struct ModelSpec {
    name: &'static str,
    top: &'static str,
    params: &'static [&'static str],
}

const MODELS: &[ModelSpec] = &[
    // The device at its default geometry (netmap's 1024 x 1 table).
    ModelSpec {
        name: "nic",
        top: "nic_top",
        params: &[],
    },
    // A small set-associative table, to force evictions in lockstep tests.
    ModelSpec {
        name: "nic_ways",
        top: "nic_top",
        params: &["ROWS=64", "WAYS=4", "QUEUE_DEPTH=4"],
    },
    // Per-module testbench tops.
    ModelSpec {
        name: "hash",
        top: "mac_hash",
        params: &[],
    },
    ModelSpec {
        name: "queue",
        top: "learn_queue",
        params: &["ROW_W=4", "WAY_W=1", "ENTRY_W=16", "DEPTH=4"],
    },
    // The data path's stages (sim/tests/dp_*.rs): 4 ports, 2 rings each,
    // 64 KiB of BAR2.
    ModelSpec {
        name: "sched",
        top: "dp_sched",
        params: &["NUM_PORTS=4", "RINGS=2"],
    },
    ModelSpec {
        name: "rx_rings",
        top: "dp_rx_rings",
        params: &["NUM_PORTS=4", "RINGS=2", "QW=3"],
    },
    ModelSpec {
        name: "tx_fetch",
        top: "dp_tx_fetch",
        params: &["NUM_PORTS=4", "RINGS=2", "BAR2_BYTES=65536"],
    },
    // The read-ahead stage with an eight-entry window, six tags and a
    // 64-beat packet buffer, so the window, the tag limit, entry reuse
    // and the buffer's wrap are reached by short rings.
    ModelSpec {
        name: "pay_fetch",
        top: "dp_pay_fetch",
        params: &[
            "NUM_PORTS=4",
            "RINGS=2",
            "BAR2_BYTES=65536",
            "NE=8",
            "NT=6",
            "NB=64",
        ],
    },
    ModelSpec {
        name: "vale_fwd",
        top: "dp_vale_fwd",
        params: &["NUM_PORTS=4", "RINGS=2"],
    },
    ModelSpec {
        name: "deliver",
        top: "dp_deliver",
        params: &["NUM_PORTS=4", "RINGS=2", "BAR2_BYTES=65536"],
    },
    ModelSpec {
        name: "pipe",
        top: "dp_pipe",
        params: &["NUM_PORTS=4", "RINGS=2", "BAR2_BYTES=65536"],
    },
    ModelSpec {
        name: "status",
        top: "dp_status",
        params: &["NUM_PORTS=4", "RINGS=2"],
    },
    // The Ethernet ports (sim/tests/eth_*.rs): small FIFOs so a few
    // frames fill them, three TX sources for the arbiter; the loopback
    // top of the simulated wire at its default geometry.
    ModelSpec {
        name: "eth_rx",
        top: "eth_rx_port",
        params: &["DEPTH=32"],
    },
    ModelSpec {
        name: "eth_tx",
        top: "eth_tx_port",
        params: &["NSRC=3", "DEPTH=64"],
    },
    ModelSpec {
        name: "eth_loop",
        top: "eth_loop_top",
        params: &[],
    },
];

struct Port {
    name: String,
    input: bool,
    /// 32-bit words of a port wider than 64 bits (Verilator's VlWide), else 0.
    words: usize,
}

fn verilator() -> String {
    std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".to_owned())
}

fn verilator_root() -> PathBuf {
    if let Ok(root) = std::env::var("VERILATOR_ROOT") {
        return PathBuf::from(root);
    }
    let output = Command::new(verilator())
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .expect("sim: verilator not found (scripts/setup installs it)");
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

fn rtl_sources(hw: &Path) -> Vec<PathBuf> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(hw)
        .expect("read hw/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sv"))
        .collect();
    sources.sort();
    sources
}

/// The includes of `hw/` (`*.svh`: generated contract, shared helpers).
fn rtl_includes(hw: &Path) -> Vec<PathBuf> {
    let mut includes: Vec<PathBuf> = std::fs::read_dir(hw)
        .expect("read hw/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "svh"))
        .collect();
    includes.sort();
    includes
}

/// FNV-1a over the names and bytes of every RTL source and include: tells
/// a binary built from other RTL (a stale `nmsim-server`) from this build.
fn rtl_fingerprint(hw: &Path) -> u64 {
    let mut files = rtl_sources(hw);
    files.extend(rtl_includes(hw));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file.file_name().map(|n| n.as_encoded_bytes().to_vec());
        let bytes = std::fs::read(&file).expect("read an RTL source");
        for byte in name.unwrap_or_default().iter().chain(&bytes) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn verilate(spec: &ModelSpec, hw: &Path, out: &Path) -> PathBuf {
    let mdir = out.join(format!("verilated_{}", spec.name));
    let _ = std::fs::remove_dir_all(&mdir);
    let mut command = Command::new(verilator());
    command
        .args([
            "--cc",
            "-O3",
            "--x-assign",
            "fast",
            "--x-initial",
            "fast",
            "--trace",
        ])
        .args(["-Wno-fatal", "--top-module", spec.top])
        .arg("--prefix")
        .arg(format!("V{}", spec.name))
        .arg("-Mdir")
        .arg(&mdir)
        .arg(format!("-I{}", hw.display()));
    for param in spec.params {
        command.arg(format!("-G{param}"));
    }
    command.args(rtl_sources(hw));
    let status = command.status().expect("sim: run verilator");
    assert!(
        status.success(),
        "sim: verilator failed on model {}",
        spec.name
    );
    mdir
}

/// Top-level ports, from the `VL_IN8(&name,msb,lsb);` lines of the header.
fn ports(header: &str) -> Vec<Port> {
    let mut ports = Vec::new();
    for line in header.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("VL_") else {
            continue;
        };
        let input = rest.starts_with("IN");
        if !input && !rest.starts_with("OUT") {
            continue;
        }
        let wide = rest.starts_with("INW") || rest.starts_with("OUTW");
        let Some(start) = line.find("(&") else {
            continue;
        };
        let fields: Vec<&str> = line[start + 2..]
            .trim_end_matches(");")
            .split(',')
            .collect();
        let name = fields[0].to_owned();
        // VL_INW(&name,msb,lsb,words): the last field counts 32-bit words.
        let words = if wide {
            fields[3]
                .trim()
                .parse()
                .expect("sim: word count of a wide port")
        } else {
            0
        };
        ports.push(Port { name, input, words });
    }
    ports
}

fn shim(spec: &ModelSpec, ports: &[Port]) -> String {
    let n = spec.name;
    let mut c = format!(
        "#include \"verilated.h\"\n#include \"verilated_vcd_c.h\"\n#include \"V{n}.h\"\n\
         #include <cstdint>\n\
         struct {n}_handle {{ VerilatedContext* ctx; V{n}* top; VerilatedVcdC* vcd; }};\n\
         extern \"C\" {{\n\
         void* sim_{n}_new(const char* vcd_path) {{\n\
           auto* h = new {n}_handle{{new VerilatedContext, nullptr, nullptr}};\n\
           h->ctx->traceEverOn(vcd_path != nullptr);\n\
           h->top = new V{n}{{h->ctx, \"top\"}};\n\
           if (vcd_path) {{ h->vcd = new VerilatedVcdC; h->top->trace(h->vcd, 99); h->vcd->open(vcd_path); }}\n\
           return h;\n\
         }}\n\
         void sim_{n}_free(void* p) {{\n\
           auto* h = static_cast<{n}_handle*>(p);\n\
           if (h->vcd) {{ h->vcd->close(); delete h->vcd; }}\n\
           h->top->final(); delete h->top; delete h->ctx; delete h;\n\
         }}\n\
         void sim_{n}_eval(void* p) {{ static_cast<{n}_handle*>(p)->top->eval(); }}\n\
         void sim_{n}_dump(void* p, uint64_t time) {{\n\
           auto* h = static_cast<{n}_handle*>(p); if (h->vcd) h->vcd->dump(time);\n\
         }}\n"
    );
    for port in ports {
        let name = &port.name;
        let w = port.words;
        if w > 0 {
            // Wide ports move as arrays of 32-bit words, least significant first.
            if port.input {
                writeln!(c, "void sim_{n}_set_{name}(void* p, const uint32_t* v) {{ auto& d = static_cast<{n}_handle*>(p)->top->{name}; for (int i = 0; i < {w}; i++) d[i] = v[i]; }}").unwrap();
            }
            writeln!(c, "void sim_{n}_get_{name}(void* p, uint32_t* v) {{ auto& d = static_cast<{n}_handle*>(p)->top->{name}; for (int i = 0; i < {w}; i++) v[i] = d[i]; }}").unwrap();
            continue;
        }
        if port.input {
            writeln!(c, "void sim_{n}_set_{name}(void* p, uint64_t v) {{ static_cast<{n}_handle*>(p)->top->{name} = v; }}").unwrap();
        }
        writeln!(c, "uint64_t sim_{n}_get_{name}(void* p) {{ return static_cast<{n}_handle*>(p)->top->{name}; }}").unwrap();
    }
    c.push_str("}\n");
    c
}

fn bindings(spec: &ModelSpec, ports: &[Port]) -> String {
    let n = spec.name;
    let ty = format!("{}Ports", camel(n));
    let mut r = String::new();
    writeln!(r, "mod ffi_{n} {{").unwrap();
    writeln!(r, "    use std::os::raw::{{c_char, c_void}};").unwrap();
    writeln!(r, "    extern \"C\" {{").unwrap();
    writeln!(
        r,
        "        pub fn sim_{n}_new(vcd_path: *const c_char) -> *mut c_void;"
    )
    .unwrap();
    writeln!(r, "        pub fn sim_{n}_free(handle: *mut c_void);").unwrap();
    writeln!(r, "        pub fn sim_{n}_eval(handle: *mut c_void);").unwrap();
    writeln!(
        r,
        "        pub fn sim_{n}_dump(handle: *mut c_void, time: u64);"
    )
    .unwrap();
    for port in ports {
        let name = &port.name;
        if port.words > 0 {
            if port.input {
                writeln!(
                    r,
                    "        pub fn sim_{n}_set_{name}(handle: *mut c_void, words: *const u32);"
                )
                .unwrap();
            }
            writeln!(
                r,
                "        pub fn sim_{n}_get_{name}(handle: *mut c_void, words: *mut u32);"
            )
            .unwrap();
            continue;
        }
        if port.input {
            writeln!(
                r,
                "        pub fn sim_{n}_set_{name}(handle: *mut c_void, value: u64);"
            )
            .unwrap();
        }
        writeln!(
            r,
            "        pub fn sim_{n}_get_{name}(handle: *mut c_void) -> u64;"
        )
        .unwrap();
    }
    writeln!(r, "    }}\n}}\n").unwrap();
    writeln!(
        r,
        "/// Port-level access to the `{}` model (generated).",
        spec.top
    )
    .unwrap();
    writeln!(r, "pub struct {ty} {{ handle: crate::model::Handle }}\n").unwrap();
    writeln!(r, "impl {ty} {{").unwrap();
    writeln!(
        r,
        "    /// A fresh model in its own Verilator context; VCD to `vcd` if given."
    )
    .unwrap();
    writeln!(
        r,
        "    pub fn new(vcd: Option<&std::path::Path>) -> Self {{"
    )
    .unwrap();
    writeln!(r, "        let handle = crate::model::Handle::new(vcd, ffi_{n}::sim_{n}_new, ffi_{n}::sim_{n}_free);").unwrap();
    writeln!(r, "        {ty} {{ handle }}\n    }}").unwrap();
    writeln!(r, "    /// Evaluates the model after inputs changed.").unwrap();
    writeln!(r, "    pub fn eval(&mut self) {{").unwrap();
    writeln!(
        r,
        "        // SAFETY: the handle is live (owned by self) and this model's type."
    )
    .unwrap();
    writeln!(
        r,
        "        unsafe {{ ffi_{n}::sim_{n}_eval(self.handle.as_ptr()) }}\n    }}"
    )
    .unwrap();
    writeln!(
        r,
        "    /// Writes the current signal values to the VCD, if tracing."
    )
    .unwrap();
    writeln!(r, "    pub fn dump(&mut self, time: u64) {{").unwrap();
    writeln!(
        r,
        "        // SAFETY: the handle is live (owned by self) and this model's type."
    )
    .unwrap();
    writeln!(
        r,
        "        unsafe {{ ffi_{n}::sim_{n}_dump(self.handle.as_ptr(), time) }}\n    }}"
    )
    .unwrap();
    for port in ports {
        let name = &port.name;
        let w = port.words;
        if w > 0 {
            if port.input {
                writeln!(
                    r,
                    "    /// Drives wide input `{name}`, 32-bit words least significant first."
                )
                .unwrap();
                writeln!(r, "    pub fn set_{name}(&mut self, words: &[u32; {w}]) {{").unwrap();
                writeln!(r, "        // SAFETY: the handle is live and this model's type; the shim reads exactly {w} words from `words`.").unwrap();
                writeln!(r, "        unsafe {{ ffi_{n}::sim_{n}_set_{name}(self.handle.as_ptr(), words.as_ptr()) }}\n    }}").unwrap();
            }
            writeln!(
                r,
                "    /// Reads wide port `{name}`, 32-bit words least significant first."
            )
            .unwrap();
            writeln!(r, "    pub fn {name}(&self) -> [u32; {w}] {{").unwrap();
            writeln!(r, "        let mut words = [0u32; {w}];").unwrap();
            writeln!(r, "        // SAFETY: the handle is live and this model's type; the shim writes exactly {w} words into `words`.").unwrap();
            writeln!(r, "        unsafe {{ ffi_{n}::sim_{n}_get_{name}(self.handle.as_ptr(), words.as_mut_ptr()) }};").unwrap();
            writeln!(r, "        words\n    }}").unwrap();
            continue;
        }
        if port.input {
            writeln!(
                r,
                "    /// Drives input `{name}` (bits above its width are dropped)."
            )
            .unwrap();
            writeln!(r, "    pub fn set_{name}(&mut self, value: u64) {{").unwrap();
            writeln!(
                r,
                "        // SAFETY: the handle is live (owned by self) and this model's type."
            )
            .unwrap();
            writeln!(r, "        unsafe {{ ffi_{n}::sim_{n}_set_{name}(self.handle.as_ptr(), value) }}\n    }}").unwrap();
        }
        writeln!(r, "    /// Reads port `{name}`.").unwrap();
        writeln!(r, "    pub fn {name}(&self) -> u64 {{").unwrap();
        writeln!(
            r,
            "        // SAFETY: the handle is live (owned by self) and this model's type."
        )
        .unwrap();
        writeln!(
            r,
            "        unsafe {{ ffi_{n}::sim_{n}_get_{name}(self.handle.as_ptr()) }}\n    }}"
        )
        .unwrap();
    }
    writeln!(r, "}}").unwrap();
    r
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect::<String>()
        })
        .collect()
}

fn cxx(root: &Path) -> cc::Build {
    let include = root.join("include");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .opt_level(2)
        .debug(false)
        .warnings(false)
        .flag_if_supported("-std=c++17")
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .flag_if_supported("-Wno-shadow")
        .define("VM_TRACE", "1")
        .define("VM_TRACE_VCD", "1")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .include(&include)
        .include(include.join("vltstd"));
    build
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let hw = manifest.join("../hw");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", hw.display());
    for source in rtl_sources(&hw) {
        println!("cargo:rerun-if-changed={}", source.display());
    }
    for include in rtl_includes(&hw) {
        println!("cargo:rerun-if-changed={}", include.display());
    }
    println!(
        "cargo:rustc-env=NETMAP_RTL_HASH={:016x}",
        rtl_fingerprint(&hw)
    );
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=VERILATOR_ROOT");
    let root = verilator_root();

    let mut rust = String::new();
    let mut jobs = Vec::new();
    for spec in MODELS {
        let mdir = verilate(spec, &hw, &out);
        let header = std::fs::read_to_string(mdir.join(format!("V{}.h", spec.name))).unwrap();
        let ports = ports(&header);
        let mut generated: Vec<String> = std::fs::read_dir(&mdir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|file| file.ends_with(".cpp"))
            .collect();
        generated.sort();
        let mut unity = String::new();
        for file in &generated {
            writeln!(unity, "#include \"{file}\"").unwrap();
        }
        unity.push_str(&shim(spec, &ports));
        let unity_path = mdir.join(format!("{}_unity.cpp", spec.name));
        std::fs::write(&unity_path, unity).unwrap();
        rust.push_str(&bindings(spec, &ports));
        jobs.push((spec.name, mdir, unity_path));
    }

    // The runtime does not depend on hw/: build it once per OUT_DIR.
    let runtime_lib = out.join("libverilated_runtime.a");
    let stamp = out.join("verilated_runtime.root");
    let root_text = root.display().to_string();
    let runtime_ready =
        runtime_lib.exists() && std::fs::read_to_string(&stamp).is_ok_and(|text| text == root_text);

    std::thread::scope(|scope| {
        if !runtime_ready {
            let root = &root;
            scope.spawn(move || {
                let include = root.join("include");
                cxx(root)
                    .file(include.join("verilated.cpp"))
                    .file(include.join("verilated_vcd_c.cpp"))
                    .file(include.join("verilated_threads.cpp"))
                    .cargo_metadata(false)
                    .compile("verilated_runtime");
            });
        }
        for (name, mdir, unity_path) in &jobs {
            let root = &root;
            scope.spawn(move || {
                cxx(root)
                    .include(mdir)
                    .file(unity_path)
                    .compile(&format!("sim_model_{name}"));
            });
        }
    });
    std::fs::write(&stamp, root_text).unwrap();
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=verilated_runtime");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
    std::fs::write(out.join("models.rs"), rust).unwrap();
}
