//! Generates the detector module list, so that dropping `alarms/<name>.rs`
//! into this folder and rebuilding is all it takes to add a detector.

use std::{env, fs, path::Path};

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    println!("cargo:rerun-if-changed={}", dir.display());

    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("alarms/ is readable")
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let path = entry.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            let is_rust = path.extension().is_some_and(|ext| ext == "rs");
            (is_rust && stem != "lib" && stem != "build").then_some(stem)
        })
        .collect();
    names.sort();

    let mut out = String::new();
    for name in &names {
        let path = dir.join(format!("{name}.rs"));
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "#[path = {:?}]\npub mod {name};\n",
            path.display().to_string()
        ));
    }
    out.push_str(&format!(
        "/// The detector files this crate was built from, for the registry self-check.\n\
         #[cfg(test)]\npub(crate) const DETECTOR_FILES: &[&str] = &{names:?};\n"
    ));

    let target = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("detectors.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}
