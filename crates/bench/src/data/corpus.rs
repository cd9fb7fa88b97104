//! The corpora of `mycel bench data`: the labelled synthetic one, and corpora we did not make.
//!
//! - A folder of text files (e.g. the crate sources under `~/.cargo/registry/src/<index>/`, where
//!   crates come in several versions: real near-duplicate files): each UTF-8 file of at most
//!   [`MAX_FILE`] bytes under it is a record. Its top-level entries are grouped into *families*
//!   (the name before a `-<digit>` version suffix, so `syn-1.0.109` and `syn-2.0.87` are one), and
//!   whole families are taken in an order fixed by a hash of their name until the byte cap is
//!   reached, so every version of a chosen crate comes in; records are in path order.
//! - `apt`: the package descriptions of `apt-cache dumpavail` (templated, often near-identical:
//!   `-dev`, `-doc`, `-dbg` siblings, library sonames), one record per package stanza, in order,
//!   up to the cap.

use mycel_data::{Error, Result, error::io, minhash::splitmix64};
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Largest file taken from a folder corpus (bigger ones are mostly generated tables).
pub const MAX_FILE: u64 = 256 << 10;

/// A corpus: record IDs and texts, in record order.
pub struct Records {
    /// What it is, for the report.
    pub name: String,
    /// Record IDs.
    pub ids: Vec<String>,
    /// Texts.
    pub texts: Vec<String>,
}

impl Records {
    /// Bytes of text.
    pub fn text_bytes(&self) -> u64 {
        self.texts.iter().map(|t| t.len() as u64).sum()
    }

    /// Writes the records as JSONL (`{"id": <record index>, "text": …}`) to `path`, and, when
    /// `halves` is given, the first and second half of them to those two files too. Returns the
    /// bytes of `path`.
    pub fn write_jsonl(&self, path: &Path, halves: Option<(&Path, &Path)>) -> Result<u64> {
        let mut all = std::io::BufWriter::new(std::fs::File::create(path).map_err(io(path))?);
        let mut parts = match halves {
            Some((a, b)) => Some((
                (
                    std::io::BufWriter::new(std::fs::File::create(a).map_err(io(a))?),
                    a,
                ),
                (
                    std::io::BufWriter::new(std::fs::File::create(b).map_err(io(b))?),
                    b,
                ),
            )),
            None => None,
        };
        let half = self.texts.len().div_ceil(2);
        let mut bytes = 0u64;
        let mut line = String::new();
        for (i, t) in self.texts.iter().enumerate() {
            line.clear();
            line.push_str(&serde_json::json!({ "id": i, "text": t }).to_string());
            line.push('\n');
            all.write_all(line.as_bytes()).map_err(io(path))?;
            bytes += line.len() as u64;
            if let Some(((wa, pa), (wb, pb))) = parts.as_mut() {
                if i < half {
                    wa.write_all(line.as_bytes()).map_err(io(pa))?;
                } else {
                    wb.write_all(line.as_bytes()).map_err(io(pb))?;
                }
            }
        }
        all.flush().map_err(io(path))?;
        if let Some(((mut wa, pa), (mut wb, pb))) = parts {
            wa.flush().map_err(io(pa))?;
            wb.flush().map_err(io(pb))?;
        }
        Ok(bytes)
    }
}

/// The real corpus named by `spec` (`apt`, or a folder), at most `cap` bytes of text.
pub fn real(spec: &str, cap: u64) -> Result<Records> {
    if spec == "apt" {
        apt(cap)
    } else {
        folder(Path::new(spec), cap)
    }
}

/// The family of a top-level entry: its name before the first `-` that precedes a digit.
fn family(name: &str) -> &str {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(1))
        .find(|&i| b[i] == b'-' && b[i + 1].is_ascii_digit())
        .map_or(name, |i| &name[..i])
}

fn name_hash(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &c in s.as_bytes() {
        h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
    }
    splitmix64(&mut h)
}

/// Every regular file under `dir` (not following symlinks, skipping hidden entries), sorted.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(std::result::Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&e.path(), out)?;
        } else if ft.is_file() {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            if (1..=MAX_FILE).contains(&len) {
                out.push((e.path(), len));
            }
        }
    }
    Ok(())
}

fn folder(dir: &Path, cap: u64) -> Result<Records> {
    let mut tops: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    tops.sort();
    let mut families: Vec<(u64, String, Vec<String>)> = Vec::new();
    for t in tops {
        let f = family(&t).to_string();
        match families.iter_mut().find(|x| x.1 == f) {
            Some(x) => x.2.push(t),
            None => families.push((name_hash(&f), f, vec![t])),
        }
    }
    families.sort();
    let mut chosen: Vec<(PathBuf, u64)> = Vec::new();
    let mut bytes = 0u64;
    let mut n_families = 0;
    for (_, _, members) in &families {
        if bytes >= cap {
            break;
        }
        n_families += 1;
        for m in members {
            let p = dir.join(m);
            if p.is_dir() {
                walk(&p, &mut chosen)?;
            } else if let Ok(md) = p.metadata()
                && (1..=MAX_FILE).contains(&md.len())
            {
                chosen.push((p, md.len()));
            }
        }
        bytes = chosen.iter().map(|c| c.1).sum();
    }
    chosen.sort();
    let (mut ids, mut texts) = (Vec::new(), Vec::new());
    let mut total = 0u64;
    for (p, _) in chosen {
        let Ok(t) = std::fs::read_to_string(&p) else {
            continue;
        };
        if t.trim().is_empty() {
            continue;
        }
        total += t.len() as u64;
        ids.push(
            p.strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned(),
        );
        texts.push(t);
    }
    if texts.is_empty() {
        return Err(Error::BadInput {
            path: dir.to_path_buf(),
            why: "no text files".into(),
        });
    }
    Ok(Records {
        name: format!(
            "{}: {} UTF-8 files of {} crate families (all their versions), {:.1} MB",
            dir.display(),
            texts.len(),
            n_families,
            total as f64 / 1e6
        ),
        ids,
        texts,
    })
}

fn apt(cap: u64) -> Result<Records> {
    let cmd = Path::new("apt-cache");
    let out = std::process::Command::new(cmd)
        .arg("dumpavail")
        .output()
        .map_err(io(cmd))?;
    if !out.status.success() {
        return Err(Error::BadInput {
            path: cmd.into(),
            why: format!("dumpavail exited with {}", out.status),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut ids, mut texts) = (Vec::new(), Vec::new());
    let mut total = 0u64;
    for stanza in text.split("\n\n") {
        let (mut pkg, mut ver, mut desc) = (None, None, None::<String>);
        let mut in_desc = false;
        for line in stanza.lines() {
            if let Some(rest) = line.strip_prefix(' ') {
                if in_desc && let Some(d) = desc.as_mut() {
                    d.push('\n');
                    d.push_str(if rest == "." { "" } else { rest });
                }
                continue;
            }
            in_desc = false;
            if let Some(v) = line.strip_prefix("Package: ") {
                pkg = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                ver = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("Description: ") {
                desc = Some(v.to_string());
                in_desc = true;
            }
        }
        if let (Some(p), Some(d)) = (pkg, desc) {
            if total >= cap {
                break;
            }
            total += d.len() as u64;
            ids.push(format!("{p}={}", ver.unwrap_or_default()));
            texts.push(d);
        }
    }
    Ok(Records {
        name: format!(
            "apt-cache dumpavail: {} package descriptions, {:.1} MB",
            texts.len(),
            total as f64 / 1e6
        ),
        ids,
        texts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_strip_versions() {
        assert_eq!(family("windows-sys-0.52.0"), "windows-sys");
        assert_eq!(family("sha2-0.10.8"), "sha2");
        assert_eq!(family("x25519-dalek-2.0.1"), "x25519-dalek");
        assert_eq!(family("plain"), "plain");
    }

    #[test]
    fn folder_takes_whole_families_in_path_order() {
        let d = crate::tempdir().unwrap();
        for v in ["a-1.0.0", "a-2.0.0", "b-1.0.0"] {
            std::fs::create_dir_all(d.join(v).join("src")).unwrap();
            std::fs::write(d.join(v).join("src/lib.rs"), format!("fn {v}() {{}}")).unwrap();
        }
        std::fs::write(d.join("a-1.0.0/.hidden"), "x").unwrap();
        std::fs::write(d.join("a-1.0.0/empty"), "  \n").unwrap();
        let r = folder(&d, u64::MAX).unwrap();
        assert_eq!(
            r.ids,
            [
                "a-1.0.0/src/lib.rs",
                "a-2.0.0/src/lib.rs",
                "b-1.0.0/src/lib.rs"
            ]
        );
        let one = folder(&d, 1).unwrap();
        // One family only, with all its versions.
        assert!(one.ids.len() == 2 || one.ids.len() == 1);
        let fam: Vec<&str> = one.ids.iter().map(|i| family(i)).collect();
        assert!(fam.iter().all(|f| *f == fam[0]));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
