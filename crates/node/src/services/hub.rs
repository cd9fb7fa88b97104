//! Model versions and Hugging Face's conventions: building a registration from files (uploading
//! its card, a custom licence's text and an adapter file), exporting a registered version as a
//! Hub folder (README.md with the card's YAML; PEFT's adapter files for an adapter), and importing
//! a PEFT adapter folder back into a registration on its registered base.

use crate::{
    Error, Result,
    client::Client,
    error::io,
    http::model::ModelView,
    models::{Identified, pinned_decoder_config},
    services::models::Lineage,
};
use mycel_ledger::modules::model;
use mycel_ml::{
    hf::{self, BaseModelRelation, License, ModelCard},
    registry::{ModelId, ModelStore},
};
use mycel_primitives::{Hash, PrivateKey};
use std::path::Path;

fn invalid(what: impl Into<String>, why: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: what.into(),
        why: why.to_string(),
    }
}

/// What a registration is made from, before its blobs are uploaded.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The files, identified.
    pub found: Identified,
    /// Display name.
    pub name: String,
    /// Relation to the parents.
    pub kind: model::ModelKind,
    /// Parent versions.
    pub parents: Vec<Hash>,
    /// Datasets it was trained on.
    pub datasets: Vec<Hash>,
    /// SPDX licence or `LicenseRef-…`.
    pub license: String,
    /// A custom licence's text.
    pub license_text: Option<Vec<u8>>,
    /// The model card's bytes.
    pub card: Option<Vec<u8>>,
    /// Access policy.
    pub access: model::Access,
}

/// A model card file, refused over the ledger's limit before anything is uploaded.
pub fn read_card(p: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(p).map_err(io(p))?;
    if bytes.len() > model::MAX_CARD_BYTES as usize {
        return Err(invalid(
            format!("model card {}", p.display()),
            format!(
                "{} bytes; the limit is {}",
                bytes.len(),
                model::MAX_CARD_BYTES
            ),
        ));
    }
    Ok(bytes)
}

/// Uploads the card, a custom licence's text and an adapter file (signed by `uploader`), and
/// builds the registration.
pub async fn registration(
    c: &Client,
    uploader: &PrivateKey,
    d: Draft,
) -> Result<model::Registration> {
    if !model::valid_license(&d.license) {
        return Err(invalid(
            format!("licence {:?}", d.license),
            "not an SPDX identifier or expression, nor LicenseRef-<name>",
        ));
    }
    let license_text = match d.license_text {
        Some(text) => c.put_blob(uploader, text).await?,
        None if d.license.contains("LicenseRef-") => {
            return Err(invalid(
                format!("licence {}", d.license),
                "a custom licence needs its text (--license-file)",
            ));
        }
        None => Hash::ZERO,
    };
    let (card, card_bytes) = match d.card {
        Some(bytes) => {
            let n = bytes.len() as u32;
            (c.put_blob(uploader, bytes).await?, n)
        }
        None => (Hash::ZERO, 0),
    };
    if let Identified::Adapter { bytes, .. } = &d.found {
        c.put_blob(uploader, bytes.clone()).await?;
    }
    Ok(model::Registration {
        id: d.found.id(),
        name: d.name,
        kind: d.kind,
        parents: d.parents,
        datasets: d.datasets,
        files: d.found.file(),
        license: d.license,
        license_text,
        access: d.access,
        card,
        card_bytes,
    })
}

/// The Hub's licence id for an SPDX identifier (the Hub lists them in lower case), or a custom
/// licence for a `LicenseRef-`.
fn hub_license(spdx: &str, text: &Hash) -> License {
    match spdx.strip_prefix("LicenseRef-") {
        Some(name) => License::Other {
            name: name.to_string(),
            link: format!("mycel-blob:{text}"),
        },
        None => License::Id(spdx.to_ascii_lowercase()),
    }
}

/// The SPDX identifier for a Hub licence id (the common ones; others are kept as given).
fn spdx_license(l: &License) -> String {
    const KNOWN: [&str; 12] = [
        "Apache-2.0",
        "MIT",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "CC0-1.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-ND-4.0",
        "GPL-3.0",
        "LGPL-3.0",
    ];
    match l {
        License::Other { name, .. } => format!("LicenseRef-{name}"),
        License::Id(id) => KNOWN
            .iter()
            .find(|k| k.eq_ignore_ascii_case(id))
            .map_or_else(|| id.clone(), |k| k.to_string()),
    }
}

async fn view(c: &Client, id: &Hash) -> Result<ModelView> {
    c.get(&format!("/api/v1/models/{id}")).await
}

/// Writes version `id` into `dir` as a Hub folder: README.md (the registered card's prose under
/// front matter written from the chain: `license`, `base_model`, `base_model_relation`,
/// `datasets`, `tags`), `mycel_lineage.json`, and for an adapter PEFT's `adapter_config.json` and
/// `adapter_model.safetensors` (its base's decoder configuration read from `store`). Returns the
/// files written.
pub async fn export(c: &Client, id: &Hash, dir: &Path, store: &ModelStore) -> Result<Vec<String>> {
    let v = view(c, id).await?;
    let r = &v.version.registration;
    let lineage: Lineage = c.get(&format!("/api/v1/models/{id}/lineage")).await?;
    let body = if r.card == Hash::ZERO {
        format!("# {}\n\nRegistered on mycel as `{id}`.\n", r.name)
    } else {
        let text = String::from_utf8(c.get_blob(&r.card).await?)
            .map_err(|e| invalid(format!("the model card of {id}"), e))?;
        ModelCard::parse(&text).map_or(text, |card| card.body)
    };
    let mut parents = Vec::new();
    for p in &r.parents {
        parents.push((*p, view(c, p).await?.version.registration.name));
    }
    let card = ModelCard {
        license: Some(hub_license(&r.license, &r.license_text)),
        base_model: parents.iter().map(|(_, name)| name.clone()).collect(),
        base_model_relation: match r.kind {
            model::ModelKind::Base => None,
            model::ModelKind::Adapter => Some(BaseModelRelation::Adapter),
            model::ModelKind::Finetune => Some(BaseModelRelation::Finetune),
            model::ModelKind::Merge => Some(BaseModelRelation::Merge),
            model::ModelKind::Quantized => Some(BaseModelRelation::Quantized),
        },
        datasets: r
            .datasets
            .iter()
            .map(|d| format!("mycel-dataset:{d}"))
            .collect(),
        library_name: (r.kind == model::ModelKind::Adapter).then(|| "peft".to_string()),
        tags: ["mycel".to_string(), format!("mycel-model:{id}")]
            .into_iter()
            .chain(parents.iter().map(|(p, _)| format!("mycel-base:{p}")))
            .collect(),
        body,
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = vec!["README.md".to_string(), "mycel_lineage.json".to_string()];
    if r.kind == model::ModelKind::Adapter {
        let bytes = c.get_blob(&r.files).await?;
        let adapter = mycel_ml::lora::Adapter::from_bytes(&bytes)
            .map_err(|e| invalid(format!("the adapter file of {id}"), e))?;
        let base = Hash(adapter.base_model_id.0);
        let (spec, cfg) = pinned_decoder_config(store, &base)?.ok_or_else(|| {
            invalid(
                format!("base model {base}"),
                format!(
                    "its files are not in {} (mycel models fetch)",
                    store.root().display()
                ),
            )
        })?;
        let base_name = parents
            .iter()
            .find(|(p, _)| *p == base)
            .map_or(spec.display_name.to_string(), |(_, n)| n.clone());
        hf::export_adapter(&adapter, &cfg, &base_name, Some(&card), dir)
            .map_err(|e| invalid(format!("exporting {id}"), e))?;
        written.extend([
            "adapter_config.json".into(),
            "adapter_model.safetensors".into(),
        ]);
    } else {
        let readme = dir.join("README.md");
        std::fs::write(&readme, card.to_markdown()).map_err(io(&readme))?;
    }
    let path = dir.join("mycel_lineage.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&lineage).expect("a lineage serializes"),
    )
    .map_err(io(&path))?;
    Ok(written)
}

/// The registered version a card's `base_model` names: a `mycel-base:<id>` tag, an ID, or a
/// unique registered name (a Hub id's last segment also matches).
async fn resolve_base(c: &Client, card: &ModelCard) -> Result<Hash> {
    let bad = |why: String| invalid("the model card's base_model", why);
    if let Some(t) = card.tags.iter().find_map(|t| t.strip_prefix("mycel-base:")) {
        return Hash::from_hex(t).map_err(|e| bad(format!("tag mycel-base:{t}: {e}")));
    }
    let Some(name) = card.base_model.first() else {
        return Err(bad("the card names none".into()));
    };
    if let Ok(id) = Hash::from_hex(name.trim_start_matches("mycel:")) {
        return Ok(id);
    }
    let short = name.rsplit('/').next().unwrap_or(name);
    let found: Vec<model::Version> = c
        .get(&format!("/api/v1/models?name={short}&limit=2"))
        .await?;
    match found.as_slice() {
        [v] => Ok(v.registration.id),
        [] => Err(bad(format!("{name:?} is not a registered model version"))),
        _ => Err(bad(format!(
            "{name:?} names several registered versions; tag the card with mycel-base:<id>"
        ))),
    }
}

/// Reads a PEFT LoRA adapter folder (README.md card, `adapter_config.json`,
/// `adapter_model.safetensors`) into a registration draft on its base, which must be a
/// registered version whose decoder files are in `store`. The draft's ID is the one mycel gives
/// the same adapter (an exported adapter imports back to its own ID).
pub async fn import(
    c: &Client,
    dir: &Path,
    name: Option<String>,
    access: model::Access,
    store: &ModelStore,
) -> Result<Draft> {
    let readme = dir.join("README.md");
    let card_bytes = read_card(&readme)?;
    let text = String::from_utf8(card_bytes.clone())
        .map_err(|e| invalid(readme.display().to_string(), e))?;
    let card = ModelCard::parse(&text).map_err(|e| invalid(readme.display().to_string(), e))?;
    if card.base_model_relation != Some(BaseModelRelation::Adapter) {
        return Err(invalid(
            dir.display().to_string(),
            "only PEFT LoRA adapters can be imported (the card's base_model_relation must be adapter)",
        ));
    }
    let base = resolve_base(c, &card).await?;
    let base_version = view(c, &base).await?;
    let (_, cfg) = pinned_decoder_config(store, &base)?.ok_or_else(|| {
        invalid(
            format!("base model {base}"),
            "its files are not here (mycel models fetch)",
        )
    })?;
    let adapter = hf::import_adapter(dir, &cfg, ModelId(base.0))
        .map_err(|e| invalid(dir.display().to_string(), e))?;
    let bytes = adapter
        .to_bytes()
        .map_err(|e| invalid(dir.display().to_string(), e))?;
    let found = Identified::adapter(bytes).map_err(|e| invalid(dir.display().to_string(), e))?;
    let datasets = card
        .datasets
        .iter()
        .filter_map(|d| d.strip_prefix("mycel-dataset:"))
        .map(|d| Hash::from_hex(d).map_err(|e| invalid(format!("dataset {d:?}"), e)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Draft {
        found,
        name: name.unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "imported-adapter".into())
        }),
        kind: model::ModelKind::Adapter,
        parents: vec![base],
        datasets,
        license: match &card.license {
            Some(l) => spdx_license(l),
            None => base_version.version.registration.license,
        },
        // A custom licence's text is where the card links to; the link is what the chain keeps.
        license_text: match &card.license {
            Some(License::Other { link, .. }) => Some(link.clone().into_bytes()),
            _ => None,
        },
        card: Some(card_bytes),
        access,
    })
}
