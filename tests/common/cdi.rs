//! A CDI spec file of a test's own in /etc/cdi (`--gpus`, CDI names as
//! `--device`), removed when done, or in a directory of the test's own
//! (`--cdi-spec-dir`).

use serde_json::json;
use std::path::{Path, PathBuf};

/// The spec file; dropping it removes it (and /etc/cdi once empty).
pub struct CdiSpec(pub PathBuf);

impl Drop for CdiSpec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        // Only if no other spec is left in it.
        let _ = std::fs::remove_dir("/etc/cdi");
    }
}

/// The script a container runs to show what [`gpu_spec`] gave it.
pub const CDI_PROBE: &str = "echo $CDI_GPU; test -c /dev/cdi-gpu && echo node; cat /cdi-data/hello";

/// What [`CDI_PROBE`] prints in a container given GPU `name`.
pub fn cdi_probe_output(name: &str) -> String {
    format!("{name}\nnode\nfrom the spec\n")
}

/// GPU `nvidia.com/gpu=NAME`: the environment `CDI_GPU=NAME`, the device
/// node /dev/cdi-gpu (the host's /dev/null) and `data` (where this writes
/// `hello`) at /cdi-data. `name` must be the test's own (tests of both
/// modes run at once).
pub fn gpu_spec(name: &str, data: &Path) -> CdiSpec {
    let file = CdiSpec(PathBuf::from(format!("/etc/cdi/coracle-{name}.json")));
    let bytes = gpu_spec_json(name, data);
    // Another test's drop may take the empty directory away in between.
    let mut tries = 0;
    loop {
        std::fs::create_dir_all("/etc/cdi").unwrap();
        match std::fs::write(&file.0, &bytes) {
            Ok(()) => return file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 20 => tries += 1,
            Err(e) => panic!("writing {}: {e}", file.0.display()),
        }
    }
}

/// [`gpu_spec`]'s file written as `dir/coracle.json` instead (a directory
/// of the test's own, removed with it).
pub fn gpu_spec_in(dir: &Path, name: &str, data: &Path) {
    std::fs::write(dir.join("coracle.json"), gpu_spec_json(name, data)).unwrap();
}

/// The spec of [`gpu_spec`], with `hello` written in `data`.
fn gpu_spec_json(name: &str, data: &Path) -> Vec<u8> {
    std::fs::write(data.join("hello"), "from the spec\n").unwrap();
    let spec = json!({
        "cdiVersion": "0.6.0",
        "kind": "nvidia.com/gpu",
        "devices": [{
            "name": name,
            "containerEdits": {
                "env": [format!("CDI_GPU={name}")],
                "deviceNodes": [{"path": "/dev/cdi-gpu", "hostPath": "/dev/null"}],
                "mounts": [{"hostPath": data, "containerPath": "/cdi-data", "options": ["ro", "bind"]}],
            },
        }],
    });
    serde_json::to_vec(&spec).unwrap()
}
