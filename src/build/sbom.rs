//! `build --sbom`: a scanner image run over the built image's files and
//! the build contexts, its outputs merged into one SBOM (and a list of the
//! package URLs found in it) that goes into the image and/or local files,
//! as buildah does it.
//!
//! The scanner's commands name what they scan and where they write with
//! `{ROOTFS}` (the image's files, read-only at `/.rootfs`), `{CONTEXT}`
//! (each context directory, read-only at `/.context0`, `/.context1`...)
//! and `{OUTPUT}` (a file under `/.scans`). A command naming `{CONTEXT}`
//! runs once per context directory; one naming neither it nor `{ROOTFS}`
//! is not run.

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Where the scanner container sees what it scans and writes.
pub const ROOTFS_TARGET: &str = "/.rootfs";
pub const SCANS_TARGET: &str = "/.scans";
pub const CONTEXT_TARGET_PREFIX: &str = "/.context";

/// How the outputs of several scanner commands become one SBOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// The files one after the other.
    Cat,
    /// CycloneDX JSON: `components` joined, keyed by name and version.
    CycloneDxByComponentNameAndVersion,
    /// SPDX JSON: `packages` joined, keyed by name and versionInfo (and
    /// `hasExtractedLicensingInfos` by licenseId).
    SpdxByPackageNameAndVersionInfo,
}

impl std::str::FromStr for MergeStrategy {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "cat" => MergeStrategy::Cat,
            "merge-cyclonedx-by-component-name-and-version" => {
                MergeStrategy::CycloneDxByComponentNameAndVersion
            }
            "merge-spdx-by-package-name-and-versioninfo" => {
                MergeStrategy::SpdxByPackageNameAndVersionInfo
            }
            other => bail!(
                "sbom arguments included unrecognized merge strategy {other:?}: use cat, merge-cyclonedx-by-component-name-and-version or merge-spdx-by-package-name-and-versioninfo"
            ),
        })
    }
}

/// What to scan with and where the results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomOptions {
    pub image: String,
    pub commands: Vec<String>,
    pub merge: Option<MergeStrategy>,
    /// `--sbom-output`, `--sbom-purl-output`: files here.
    pub output: Option<PathBuf>,
    pub purl_output: Option<PathBuf>,
    /// `--sbom-image-output`, `--sbom-image-purl-output`: paths in the image.
    pub image_output: Option<String>,
    pub image_purl_output: Option<String>,
}

/// The `--sbom*` flags as given.
#[derive(Debug, Clone, Default)]
pub struct SbomFlags {
    pub preset: Option<String>,
    pub image: Option<String>,
    pub commands: Vec<String>,
    pub merge: Option<String>,
    pub output: Option<PathBuf>,
    pub purl_output: Option<PathBuf>,
    pub image_output: Option<String>,
    pub image_purl_output: Option<String>,
}

impl SbomFlags {
    fn any(&self) -> bool {
        self.preset.is_some()
            || self.image.is_some()
            || !self.commands.is_empty()
            || self.merge.is_some()
            || self.output.is_some()
            || self.purl_output.is_some()
            || self.image_output.is_some()
            || self.image_purl_output.is_some()
    }

    /// The scan to do, if any flag asks for one: a preset (syft when none
    /// is named) unless a scanner image, command or strategy is given,
    /// which then replace it whole, as buildah.
    pub fn options(&self) -> Result<Option<SbomOptions>> {
        if !self.any() {
            return Ok(None);
        }
        let name = self.preset.as_deref().unwrap_or("");
        let Some((image, commands, merge)) = preset(name) else {
            bail!("parsing --sbom flag: unrecognized preset name {name:?}: use syft, syft-cyclonedx, syft-spdx, trivy, trivy-cyclonedx or trivy-spdx");
        };
        let (image, commands, merge) =
            if self.image.is_some() || !self.commands.is_empty() || self.merge.is_some() {
                (
                    self.image.clone().unwrap_or_default(),
                    self.commands.clone(),
                    self.merge.as_deref().map(str::parse).transpose()?,
                )
            } else {
                (
                    image.to_string(),
                    commands.iter().map(|c| c.to_string()).collect(),
                    Some(merge),
                )
            };
        if image.is_empty() || commands.is_empty() {
            bail!("sbom configuration missing one or more of (\"--sbom-scanner-image\" or \"--sbom-scanner-command\")");
        }
        if self.output.is_none()
            && self.purl_output.is_none()
            && self.image_output.is_none()
            && self.image_purl_output.is_none()
        {
            bail!("sbom configuration missing one or more of (\"--sbom-output\", \"--sbom-image-output\", \"--sbom-purl-output\" or \"--sbom-image-purl-output\")");
        }
        if commands.len() > 1 && merge.is_none() {
            bail!("sbom configuration included multiple \"--sbom-scanner-command\" values but no \"--sbom-merge-strategy\" value");
        }
        for p in [&self.image_output, &self.image_purl_output]
            .into_iter()
            .flatten()
        {
            if !p.starts_with('/') || p.split('/').any(|c| c == "..") || p.ends_with('/') {
                bail!("invalid SBOM path in the image {p:?}: use an absolute file path");
            }
        }
        Ok(Some(SbomOptions {
            image,
            commands,
            merge,
            output: self.output.clone(),
            purl_output: self.purl_output.clone(),
            image_output: self.image_output.clone(),
            image_purl_output: self.image_purl_output.clone(),
        }))
    }
}

/// buildah's presets: scanner image, commands, merge strategy.
pub fn preset(name: &str) -> Option<(&'static str, [&'static str; 2], MergeStrategy)> {
    use MergeStrategy::*;
    Some(match name {
        "" | "syft" | "syft-cyclonedx" => (
            "ghcr.io/anchore/syft",
            [
                "/syft scan -q dir:{ROOTFS} --output cyclonedx-json={OUTPUT}",
                "/syft scan -q dir:{CONTEXT} --output cyclonedx-json={OUTPUT}",
            ],
            CycloneDxByComponentNameAndVersion,
        ),
        "syft-spdx" => (
            "ghcr.io/anchore/syft",
            [
                "/syft scan -q dir:{ROOTFS} --output spdx-json={OUTPUT}",
                "/syft scan -q dir:{CONTEXT} --output spdx-json={OUTPUT}",
            ],
            SpdxByPackageNameAndVersionInfo,
        ),
        "trivy" | "trivy-cyclonedx" => (
            "ghcr.io/aquasecurity/trivy",
            [
                "trivy filesystem -q {ROOTFS} --format cyclonedx --output {OUTPUT}",
                "trivy filesystem -q {CONTEXT} --format cyclonedx --output {OUTPUT}",
            ],
            CycloneDxByComponentNameAndVersion,
        ),
        "trivy-spdx" => (
            "ghcr.io/aquasecurity/trivy",
            [
                "trivy filesystem -q {ROOTFS} --format spdx-json --output {OUTPUT}",
                "trivy filesystem -q {CONTEXT} --format spdx-json --output {OUTPUT}",
            ],
            SpdxByPackageNameAndVersionInfo,
        ),
        _ => return None,
    })
}

/// One command to run in the scanner and the file (under the scans
/// directory) it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCommand {
    pub argv: Vec<String>,
    pub output: String,
}

/// The scanner commands with their placeholders filled in, in order. A
/// command with a shell redirection or pipe (or one that does not split
/// as shell words) runs under `shell`; others run directly, as a scanner
/// image may have no shell.
pub fn scan_commands(commands: &[String], contexts: usize, shell: &[String]) -> Vec<ScanCommand> {
    let mut out: Vec<ScanCommand> = Vec::new();
    for spec in commands {
        let parsed = if spec.contains(['<', '>', '|']) {
            None
        } else {
            crate::format::shell_words::split(spec).ok()
        };
        let argv = parsed.unwrap_or_else(|| {
            let mut a = shell.to_vec();
            a.push(spec.clone());
            a
        });
        let mut scanned_context = false;
        for i in 0..contexts {
            let name = format!("scan{}.json", out.len());
            let fill = |w: &String| {
                w.replace("{CONTEXT}", &format!("{CONTEXT_TARGET_PREFIX}{i}"))
                    .replace("{OUTPUT}", &format!("{SCANS_TARGET}/{name}"))
            };
            if !argv.iter().any(|w| w.contains("{CONTEXT}")) {
                break;
            }
            scanned_context = true;
            out.push(ScanCommand {
                argv: argv.iter().map(fill).collect(),
                output: name,
            });
        }
        if !scanned_context && argv.iter().any(|w| w.contains("{ROOTFS}")) {
            let name = format!("scan{}.json", out.len());
            out.push(ScanCommand {
                argv: (argv.iter())
                    .map(|w| {
                        w.replace("{ROOTFS}", ROOTFS_TARGET)
                            .replace("{OUTPUT}", &format!("{SCANS_TARGET}/{name}"))
                    })
                    .collect(),
                output: name,
            });
        }
    }
    out
}

/// The SBOM and the package URL list (JSON) made of the scanners'
/// outputs, in the order they ran. One output is the SBOM as written;
/// later ones are merged into it by the strategy.
pub fn combine(strategy: Option<MergeStrategy>, outputs: &[Vec<u8>]) -> Result<(Vec<u8>, Vec<u8>)> {
    let first = outputs.first().context(
        "no SBOM scanner command ran: a command must name {ROOTFS} or {CONTEXT} (and write {OUTPUT})",
    )?;
    let strategy = strategy.unwrap_or(MergeStrategy::Cat);
    let mut sbom = first.clone();
    // The first against itself: nothing changes but its URLs are found.
    let mut purls = merge(strategy, &mut first.clone(), first)?;
    for (i, next) in outputs.iter().enumerate().skip(1) {
        purls = merge(strategy, &mut sbom, next)
            .with_context(|| format!("merging the output of scanner command {}", i + 1))?;
    }
    let mut doc = Map::new();
    if !purls.is_empty() {
        doc.insert("dependencies".into(), Value::from(purls));
    }
    let purl_doc = serde_json::json!({ "image_contents": doc });
    let mut purl_bytes = serde_json::to_vec(&purl_doc)?;
    purl_bytes.push(b'\n');
    Ok((sbom, purl_bytes))
}

/// `add` merged into `base`; returns the package URLs of both, sorted.
fn merge(strategy: MergeStrategy, base: &mut Vec<u8>, add: &[u8]) -> Result<Vec<String>> {
    let mut purls = BTreeSet::new();
    match strategy {
        MergeStrategy::Cat => {
            base.extend_from_slice(add);
        }
        MergeStrategy::CycloneDxByComponentNameAndVersion => {
            let (mut b, a) = (decode(base, "first")?, decode(add, "second")?);
            merge_lists(&mut b, &a, "components", &mut |c| {
                let (key, purl) = keyed(c, "component", "version")?;
                purls.extend(purl);
                Ok(key)
            })
            .context("merging the \"components\" field of CycloneDX SBOMs")?;
            *base = encode(&b)?;
        }
        MergeStrategy::SpdxByPackageNameAndVersionInfo => {
            let (mut b, a) = (decode(base, "first")?, decode(add, "second")?);
            merge_lists(&mut b, &a, "packages", &mut |p| {
                let (key, _) = keyed(p, "package", "versionInfo")?;
                purls.extend(spdx_purl(p)?);
                Ok(key)
            })
            .context("merging the \"packages\" field of SPDX SBOMs")?;
            merge_lists(&mut b, &a, "hasExtractedLicensingInfos", &mut |l| {
                Ok(l.get("licenseId")
                    .and_then(Value::as_str)
                    .context("a license with no licenseId")?
                    .to_string())
            })
            .context("merging the \"hasExtractedLicensingInfos\" field of SPDX SBOMs")?;
            *base = encode(&b)?;
        }
    }
    Ok(purls.into_iter().collect())
}

fn decode(bytes: &[u8], which: &str) -> Result<Map<String, Value>> {
    serde_json::from_slice(bytes)
        .with_context(|| format!("reading the {which} SBOM to be merged as a JSON object"))
}

fn encode(doc: &Map<String, Value>) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec(doc)?;
    out.push(b'\n');
    Ok(out)
}

/// A record's key, `name` or `name@version`, and its `purl` if any.
fn keyed(record: &Value, what: &str, version: &str) -> Result<(String, Option<String>)> {
    let obj = record
        .as_object()
        .with_context(|| format!("{what} {record} is not an object"))?;
    let name = match obj.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(other) => bail!("name {other} is not a string"),
        None => bail!("no name in {what} {record}"),
    };
    let key = match obj.get(version) {
        None => name,
        Some(Value::String(v)) if v.is_empty() => name,
        Some(Value::String(v)) => format!("{name}@{v}"),
        Some(other) => bail!("{version} {other} is not a string"),
    };
    let purl = match obj.get("purl") {
        None => None,
        Some(Value::String(p)) => Some(p.clone()).filter(|p| !p.is_empty()),
        Some(other) => bail!("purl {other} is not a string"),
    };
    Ok((key, purl))
}

/// An SPDX package's package URL: its `PACKAGE-MANAGER` `purl` external
/// reference.
fn spdx_purl(pkg: &Value) -> Result<Option<String>> {
    let mut found = None;
    for r in pkg
        .get("externalRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("referenceCategory").and_then(Value::as_str) != Some("PACKAGE-MANAGER")
            || r.get("referenceType").and_then(Value::as_str) != Some("purl")
        {
            continue;
        }
        match r.get("referenceLocator") {
            Some(Value::String(p)) if !p.is_empty() => found = Some(p.clone()),
            Some(Value::String(_)) | None => {}
            Some(other) => bail!("purl {other} is not a string"),
        }
    }
    Ok(found)
}

/// `base[field]` extended with the records of `add[field]` whose key no
/// record already there has.
fn merge_lists(
    base: &mut Map<String, Value>,
    add: &Map<String, Value>,
    field: &str,
    key: &mut dyn FnMut(&Value) -> Result<String>,
) -> Result<()> {
    let mut list = base
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut seen = BTreeSet::new();
    for r in &list {
        seen.insert(key(r)?);
    }
    for r in add
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if seen.insert(key(r)?) {
            list.push(r.clone());
        }
    }
    if !list.is_empty() {
        base.insert(field.to_string(), Value::Array(list));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn commands_fill_placeholders_per_context() {
        let sh = s(&["/bin/sh", "-c"]);
        let cmds = scan_commands(
            &s(&[
                "/syft dir:{ROOTFS} -o x={OUTPUT}",
                "scan '{CONTEXT}' > {OUTPUT}",
                "echo nothing",
            ]),
            2,
            &sh,
        );
        assert_eq!(
            cmds,
            vec![
                ScanCommand {
                    argv: s(&["/syft", "dir:/.rootfs", "-o", "x=/.scans/scan0.json"]),
                    output: "scan0.json".into()
                },
                ScanCommand {
                    argv: s(&["/bin/sh", "-c", "scan '/.context0' > /.scans/scan1.json"]),
                    output: "scan1.json".into()
                },
                ScanCommand {
                    argv: s(&["/bin/sh", "-c", "scan '/.context1' > /.scans/scan2.json"]),
                    output: "scan2.json".into()
                },
            ]
        );
    }

    #[test]
    fn flags_pick_a_preset_or_replace_it() {
        let mut f = SbomFlags {
            output: Some("/tmp/x".into()),
            ..Default::default()
        };
        let o = f.options().unwrap().unwrap();
        assert_eq!(o.image, "ghcr.io/anchore/syft");
        assert_eq!(o.commands.len(), 2);
        f.preset = Some("trivy-spdx".into());
        let o = f.options().unwrap().unwrap();
        assert_eq!(o.image, "ghcr.io/aquasecurity/trivy");
        assert_eq!(
            o.merge,
            Some(MergeStrategy::SpdxByPackageNameAndVersionInfo)
        );
        f.preset = Some("nope".into());
        assert!(f.options().is_err());
        f.preset = None;
        f.commands = s(&["a {ROOTFS}", "b {ROOTFS}"]);
        assert!(f.options().is_err(), "no image");
        f.image = Some("scanner".into());
        assert!(f.options().is_err(), "two commands, no strategy");
        f.merge = Some("cat".into());
        assert_eq!(
            f.options().unwrap().unwrap().merge,
            Some(MergeStrategy::Cat)
        );
        f.output = None;
        assert!(f.options().is_err(), "no output");
        assert!(SbomFlags::default().options().unwrap().is_none());
    }

    #[test]
    fn cyclonedx_and_spdx_merge_by_key() {
        let a = br#"{"bomFormat":"CycloneDX","components":[{"name":"a","version":"1","purl":"pkg:x/a@1"},{"name":"b"}]}"#;
        let b = br#"{"components":[{"name":"a","version":"1","purl":"pkg:x/a@1"},{"name":"a","version":"2","purl":"pkg:x/a@2"},{"name":"b"}]}"#;
        let (sbom, purls) = combine(
            Some(MergeStrategy::CycloneDxByComponentNameAndVersion),
            &[a.to_vec(), b.to_vec()],
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&sbom).unwrap();
        let names: Vec<String> = v["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{}@{}", c["name"], c["version"]))
            .collect();
        assert_eq!(names, ["\"a\"@\"1\"", "\"b\"@null", "\"a\"@\"2\""]);
        assert_eq!(v["bomFormat"], "CycloneDX");
        assert_eq!(
            String::from_utf8(purls).unwrap(),
            "{\"image_contents\":{\"dependencies\":[\"pkg:x/a@1\",\"pkg:x/a@2\"]}}\n"
        );
        // One output is kept as written.
        let (sbom, _) = combine(
            Some(MergeStrategy::CycloneDxByComponentNameAndVersion),
            &[a.to_vec()],
        )
        .unwrap();
        assert_eq!(sbom, a.to_vec());

        let p = |n: &str, v: &str| {
            format!(
                r#"{{"name":"{n}","versionInfo":"{v}","externalRefs":[{{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:y/{n}@{v}"}}]}}"#
            )
        };
        let a = format!(
            r#"{{"packages":[{}],"hasExtractedLicensingInfos":[{{"licenseId":"L1"}}]}}"#,
            p("x", "1")
        );
        let b = format!(
            r#"{{"packages":[{},{}],"hasExtractedLicensingInfos":[{{"licenseId":"L1"}},{{"licenseId":"L2"}}]}}"#,
            p("x", "1"),
            p("y", "1")
        );
        let (sbom, purls) = combine(
            Some(MergeStrategy::SpdxByPackageNameAndVersionInfo),
            &[a.into_bytes(), b.into_bytes()],
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&sbom).unwrap();
        assert_eq!(v["packages"].as_array().unwrap().len(), 2);
        assert_eq!(v["hasExtractedLicensingInfos"].as_array().unwrap().len(), 2);
        assert!(String::from_utf8(purls)
            .unwrap()
            .contains("[\"pkg:y/x@1\",\"pkg:y/y@1\"]"));

        let (sbom, purls) = combine(
            Some(MergeStrategy::Cat),
            &[b"one\n".to_vec(), b"two\n".to_vec()],
        )
        .unwrap();
        assert_eq!(sbom, b"one\ntwo\n");
        assert_eq!(purls, b"{\"image_contents\":{}}\n");
        assert!(combine(None, &[]).is_err());
    }
}
