//! `mycel model`: register model versions, follow their lineage, grant access, prove a lineage
//! and check the proof offline, and move versions to and from Hugging Face's folder conventions.

use crate::{
    chain_cmd::TxOpts,
    glue::{client, print_json},
};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mycel_ml::hf::{self, BaseModelRelation, License, ModelCard};
use mycel_node::{
    Home,
    client::Client,
    http::model::ModelView,
    models::{Identified, identify, pinned_decoder_config},
    services::{
        accounts,
        models::{Lineage, LineageProof, render_tree, verify_lineage},
        receipts::validators_of,
    },
    types::{Hash, Message, model},
};
use std::path::{Path, PathBuf};

/// Model registry commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ModelCmd {
    /// Register a model version from its files: one `.gguf`, one mycel adapter `.safetensors`, or
    /// a BERT model's `model.safetensors`, `config.json` and `tokenizer.json`. The ID is computed
    /// from the files as the worker computes it.
    Register {
        #[command(flatten)]
        opts: TxOpts,
        /// The model's files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Display name (`[A-Za-z0-9._/-]`, at most 64).
        #[arg(long)]
        name: String,
        /// SPDX licence identifier or expression, or `LicenseRef-<name>` with --license-file.
        #[arg(long)]
        license: String,
        /// The text of a custom licence.
        #[arg(long)]
        license_file: Option<PathBuf>,
        /// Model card (markdown, at most 64 KiB).
        #[arg(long)]
        card: Option<PathBuf>,
        /// Relation to the parents (default: `adapter` for an adapter file, else `base`).
        #[arg(long)]
        kind: Option<model::ModelKind>,
        /// Parent version IDs (an adapter's base is added from its file).
        #[arg(long = "parent")]
        parents: Vec<String>,
        /// Datasets it was trained on (roots); each must consent to training.
        #[arg(long = "dataset")]
        datasets: Vec<String>,
        /// `public` or `gated` (only the owner's grantees may use it).
        #[arg(long, default_value = "public")]
        access: model::Access,
        /// The ID you expect; registration stops if the files give another.
        #[arg(long)]
        id: Option<String>,
    },
    /// Recently registered versions (or one owner's).
    List {
        /// Only this owner's (address or key name).
        #[arg(long)]
        owner: Option<String>,
        /// Most versions.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// One version: kind, licence, access, parents, datasets, job, children, grantees.
    Show {
        /// Model ID.
        id: String,
    },
    /// The lineage as a tree: ancestors, descendants, datasets, contributors, jobs and audits.
    Tree {
        /// Model ID.
        id: String,
    },
    /// The ancestry, oldest first: who registered each version, when, and how it was made.
    History {
        /// Model ID.
        id: String,
    },
    /// Let an account use your gated model.
    Grant {
        #[command(flatten)]
        opts: TxOpts,
        /// Model ID.
        id: String,
        /// The grantee (address or key name).
        grantee: String,
    },
    /// Take a grant back.
    Revoke {
        #[command(flatten)]
        opts: TxOpts,
        /// Model ID.
        id: String,
        /// The grantee (address or key name).
        grantee: String,
    },
    /// Change your model's access policy.
    Access {
        #[command(flatten)]
        opts: TxOpts,
        /// Model ID.
        id: String,
        /// `public` or `gated`.
        access: model::Access,
    },
    /// Write a portable lineage proof: the version, its ancestors and its datasets proven against
    /// one finalized state root.
    Prove {
        /// Model ID.
        id: String,
        /// Write it here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a lineage proof offline.
    Verify {
        /// The proof (JSON from `mycel model prove`).
        file: PathBuf,
        /// The genesis whose validators the finality check trusts (default: the home's).
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Export a version as a Hugging Face folder: README.md with the model card's YAML
    /// (`base_model`, `base_model_relation`, `datasets`, `license`), and for an adapter PEFT's
    /// `adapter_config.json` and `adapter_model.safetensors`.
    Export {
        /// Model ID.
        id: String,
        /// Output folder.
        dir: PathBuf,
    },
    /// Import a PEFT LoRA adapter folder and register it on its base (the card's `base_model`
    /// must name a registered version: its ID, a `mycel-base:<id>` tag, or its name).
    Import {
        #[command(flatten)]
        opts: TxOpts,
        /// The folder.
        dir: PathBuf,
        /// Display name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// `public` or `gated`.
        #[arg(long, default_value = "public")]
        access: model::Access,
        /// Print the ID the folder gives and register nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn id_of(s: &str) -> Result<Hash> {
    Hash::from_hex(s).with_context(|| format!("model ID {s:?} (64 hex digits)"))
}

async fn view(c: &Client, id: &Hash) -> Result<ModelView> {
    Ok(c.get(&format!("/api/v1/models/{id}")).await?)
}

/// Uploads `bytes` as a blob (a card, a licence text, an adapter file).
async fn upload(c: &Client, bytes: Vec<u8>) -> Result<Hash> {
    Ok(c.put_blob(bytes).await?)
}

pub(crate) async fn run(home: &Home, api: Option<&str>, cmd: ModelCmd, json: bool) -> Result<()> {
    let c = client(home, api)?;
    match cmd {
        ModelCmd::Register {
            opts,
            files,
            name,
            license,
            license_file,
            card,
            kind,
            parents,
            datasets,
            access,
            id,
        } => {
            let found = identify(&files)?;
            if let Some(want) = id
                && id_of(&want)? != found.id()
            {
                bail!(
                    "model ID mismatch: the files give {}, not {want}",
                    found.id()
                );
            }
            let mut parents = parents
                .iter()
                .map(|p| id_of(p))
                .collect::<Result<Vec<_>>>()?;
            let kind = match (&found, kind) {
                (Identified::Adapter { base, .. }, k) => {
                    if !parents.contains(base) {
                        parents.insert(0, *base);
                    }
                    k.unwrap_or(model::ModelKind::Adapter)
                }
                (_, k) => k.unwrap_or(model::ModelKind::Base),
            };
            let datasets = datasets
                .iter()
                .map(|d| Hash::from_hex(d).with_context(|| format!("dataset root {d:?}")))
                .collect::<Result<Vec<_>>>()?;
            let registration = registration(
                &c,
                Draft {
                    found: &found,
                    name,
                    kind,
                    parents,
                    datasets,
                    license,
                    license_text: license_file
                        .map(|p| {
                            std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
                        })
                        .transpose()?,
                    card: card.map(|p| read_card(&p)).transpose()?,
                    access,
                },
            )
            .await?;
            submit(home, &c, &opts, registration, json).await?;
        }
        ModelCmd::List { owner, limit } => {
            let mut path = format!("/api/v1/models?limit={limit}");
            if let Some(o) = owner {
                path.push_str(&format!("&owner={}", accounts::address(home, &o)?));
            }
            let list: Vec<model::Version> = c.get(&path).await?;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                println!("no model versions");
            } else {
                for v in &list {
                    let r = &v.registration;
                    println!(
                        "{} {:<28} {:<9} {:<14} {:<6} height {} owner {}",
                        r.id,
                        r.name,
                        r.kind.as_str(),
                        r.license,
                        access_name(r.access),
                        v.height,
                        v.owner
                    );
                }
            }
        }
        ModelCmd::Show { id } => {
            let v = view(&c, &id_of(&id)?).await?;
            if json {
                print_json(&v);
            } else {
                print_version(&v);
            }
        }
        ModelCmd::Tree { id } => {
            let l: Lineage = c
                .get(&format!("/api/v1/models/{}/lineage", id_of(&id)?))
                .await?;
            if json {
                print_json(&l);
            } else {
                print!("{}", render_tree(&l));
            }
        }
        ModelCmd::History { id } => {
            let id = id_of(&id)?;
            let l: Lineage = c.get(&format!("/api/v1/models/{id}/lineage")).await?;
            // Models are listed ancestors first (oldest first), then the model, then descendants.
            let root = format!("model:{id}");
            let upto = l
                .nodes
                .iter()
                .filter(|n| n.kind == "model")
                .position(|n| n.id == root)
                .unwrap_or(0);
            let ancestry: Vec<_> = l
                .nodes
                .iter()
                .filter(|n| n.kind == "model")
                .take(upto + 1)
                .collect();
            if json {
                print_json(&ancestry);
            } else {
                for n in ancestry {
                    let d = |k: &str| n.detail.get(k).cloned().unwrap_or_default();
                    let job = n
                        .detail
                        .get("job")
                        .map(|j| format!(" from job {j}"))
                        .unwrap_or_default();
                    println!(
                        "height {:>6}  {:<9} {} {}  {} by {}{job}",
                        d("height"),
                        d("kind"),
                        n.id.trim_start_matches("model:"),
                        n.label,
                        if d("written_by") == "network" {
                            "written by the network for"
                        } else {
                            "declared"
                        },
                        d("owner"),
                    );
                }
            }
        }
        ModelCmd::Grant { opts, id, grantee } => {
            let msg = model::Msg::Grant {
                model: id_of(&id)?,
                grantee: accounts::address(home, &grantee)?,
            };
            send(home, &c, &opts, msg, json, "granted").await?;
        }
        ModelCmd::Revoke { opts, id, grantee } => {
            let msg = model::Msg::Revoke {
                model: id_of(&id)?,
                grantee: accounts::address(home, &grantee)?,
            };
            send(home, &c, &opts, msg, json, "revoked").await?;
        }
        ModelCmd::Access { opts, id, access } => {
            let msg = model::Msg::SetAccess {
                model: id_of(&id)?,
                access,
            };
            send(home, &c, &opts, msg, json, "access changed").await?;
        }
        ModelCmd::Prove { id, out } => {
            let p: LineageProof = c
                .get(&format!("/api/v1/models/{}/proof", id_of(&id)?))
                .await?;
            let text = serde_json::to_string_pretty(&p)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{text}"),
            }
        }
        ModelCmd::Verify { file, genesis } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let proof: LineageProof = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a lineage proof", file.display()))?;
            let genesis = genesis.or_else(|| {
                let p = home.genesis_path();
                p.exists().then_some(p)
            });
            let validators = genesis
                .as_ref()
                .map(|p| validators_of(p).with_context(|| format!("reading {}", p.display())))
                .transpose()?;
            let (checks, versions) = verify_lineage(&proof, validators.as_deref());
            let failed = checks.iter().any(|c| c.ok == Some(false));
            if json {
                print_json(
                    &serde_json::json!({"valid": !failed, "checks": checks, "versions": versions}),
                );
            } else {
                for ch in &checks {
                    let mark = match ch.ok {
                        Some(true) => "ok  ",
                        Some(false) => "FAIL",
                        None => "--  ",
                    };
                    println!("{mark} {:<22} {}", ch.check, ch.detail);
                }
            }
            if failed {
                bail!("the lineage proof does not verify");
            }
        }
        ModelCmd::Export { id, dir } => export(&c, &id_of(&id)?, &dir, json).await?,
        ModelCmd::Import {
            opts,
            dir,
            name,
            access,
            dry_run,
        } => import(home, &c, &opts, &dir, name, access, dry_run, json).await?,
    }
    Ok(())
}

fn access_name(a: model::Access) -> &'static str {
    match a {
        model::Access::Public => "public",
        model::Access::Gated => "gated",
    }
}

fn print_version(v: &ModelView) {
    let r = &v.version.registration;
    println!("{} {}", r.id, r.name);
    println!("  kind       {}", r.kind.as_str());
    println!("  owner      {}", v.version.owner);
    println!("  height     {}", v.version.height);
    println!(
        "  written by {}",
        match v.version.job {
            Some(j) => format!("the network, from settled job {j}"),
            None => "its owner (declared)".into(),
        }
    );
    println!("  licence    {}", r.license);
    println!("  access     {}", access_name(r.access));
    println!("  files      {}", r.files);
    if r.card != Hash::ZERO {
        println!("  card       {} ({} bytes)", r.card, r.card_bytes);
    }
    for p in &r.parents {
        println!("  parent     {p}");
    }
    for d in &r.datasets {
        println!("  dataset    {d}");
    }
    for c in &v.children {
        println!("  child      {c}");
    }
    for g in &v.grantees {
        println!("  grantee    {g}");
    }
}

fn read_card(p: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    if bytes.len() > model::MAX_CARD_BYTES as usize {
        bail!(
            "model card {} is {} bytes; the limit is {}",
            p.display(),
            bytes.len(),
            model::MAX_CARD_BYTES
        );
    }
    Ok(bytes)
}

/// What a registration is made from, before its blobs are uploaded.
struct Draft<'a> {
    found: &'a Identified,
    name: String,
    kind: model::ModelKind,
    parents: Vec<Hash>,
    datasets: Vec<Hash>,
    license: String,
    /// A custom licence's text.
    license_text: Option<Vec<u8>>,
    card: Option<Vec<u8>>,
    access: model::Access,
}

/// Uploads the card, a custom licence's text and an adapter file, and builds the registration.
async fn registration(c: &Client, d: Draft<'_>) -> Result<model::Registration> {
    if !model::valid_license(&d.license) {
        bail!(
            "licence {:?} is not an SPDX identifier or expression, nor LicenseRef-<name>",
            d.license
        );
    }
    let license_text = match d.license_text {
        Some(text) => upload(c, text).await?,
        None if d.license.contains("LicenseRef-") => {
            bail!(
                "custom licence {} needs its text (--license-file)",
                d.license
            )
        }
        None => Hash::ZERO,
    };
    let (card, card_bytes) = match d.card {
        Some(bytes) => {
            let n = bytes.len() as u32;
            (upload(c, bytes).await?, n)
        }
        None => (Hash::ZERO, 0),
    };
    if let Identified::Adapter { bytes, .. } = d.found {
        upload(c, bytes.clone()).await?;
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

async fn submit(
    home: &Home,
    c: &Client,
    opts: &TxOpts,
    r: model::Registration,
    json: bool,
) -> Result<()> {
    let key = accounts::key(home, &opts.from)?;
    let id = r.id;
    let kind = r.kind;
    let sent = c
        .send(
            &key,
            Message::Model(model::Msg::Register(Box::new(r))),
            &opts.send_options(),
        )
        .await?;
    if json {
        print_json(
            &serde_json::json!({"model": id, "kind": kind, "tx": sent.hash, "height": sent.height}),
        );
    } else {
        println!(
            "registered {} model {id} at height {}",
            kind.as_str(),
            sent.height
        );
    }
    Ok(())
}

async fn send(
    home: &Home,
    c: &Client,
    opts: &TxOpts,
    msg: model::Msg,
    json: bool,
    what: &str,
) -> Result<()> {
    let key = accounts::key(home, &opts.from)?;
    let sent = c
        .send(&key, Message::Model(msg), &opts.send_options())
        .await?;
    if json {
        print_json(&serde_json::json!({"tx": sent.hash, "height": sent.height}));
    } else {
        println!("{what} at height {}", sent.height);
    }
    Ok(())
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
    match l {
        License::Other { name, .. } => format!("LicenseRef-{name}"),
        License::Id(id) => {
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
            KNOWN
                .iter()
                .find(|k| k.eq_ignore_ascii_case(id))
                .map_or_else(|| id.clone(), |k| k.to_string())
        }
    }
}

async fn export(c: &Client, id: &Hash, dir: &Path, json: bool) -> Result<()> {
    let v = view(c, id).await?;
    let r = &v.version.registration;
    let lineage: Lineage = c.get(&format!("/api/v1/models/{id}/lineage")).await?;
    // The registered card's prose is kept; its front matter is written from the chain.
    let body = if r.card == Hash::ZERO {
        format!("# {}\n\nRegistered on mycel as `{id}`.\n", r.name)
    } else {
        let text = String::from_utf8(c.get_blob(&r.card).await?)
            .context("the registered model card is not UTF-8")?;
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
        tags: std::iter::once("mycel".to_string())
            .chain(std::iter::once(format!("mycel-model:{id}")))
            .chain(parents.iter().map(|(p, _)| format!("mycel-base:{p}")))
            .collect(),
        body,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = vec!["README.md".to_string(), "mycel_lineage.json".to_string()];
    if r.kind == model::ModelKind::Adapter {
        let bytes = c.get_blob(&r.files).await?;
        let adapter = mycel_ml::lora::Adapter::from_bytes(&bytes)?;
        let base = Hash(adapter.base_model_id.0);
        let store = mycel_ml::registry::ModelStore::from_env();
        let (spec, cfg) = pinned_decoder_config(&store, &base)?.with_context(|| {
            format!(
                "the base model {base}'s files are not in {} (mycel models fetch)",
                store.root().display()
            )
        })?;
        let base_name = parents
            .iter()
            .find(|(p, _)| *p == base)
            .map_or(spec.display_name.to_string(), |(_, n)| n.clone());
        hf::export_adapter(&adapter, &cfg, &base_name, Some(&card), dir)?;
        written.extend([
            "adapter_config.json".into(),
            "adapter_model.safetensors".into(),
        ]);
    } else {
        std::fs::write(dir.join("README.md"), card.to_markdown())
            .with_context(|| format!("writing {}", dir.join("README.md").display()))?;
    }
    std::fs::write(
        dir.join("mycel_lineage.json"),
        serde_json::to_string_pretty(&lineage)?,
    )?;
    if json {
        print_json(&serde_json::json!({"model": id, "dir": dir, "files": written}));
    } else {
        println!("exported {id} to {}: {}", dir.display(), written.join(", "));
    }
    Ok(())
}

/// The registered version a card's `base_model` names: a `mycel-base:<id>` tag, an ID, or a
/// unique registered name (a Hub id's last segment also matches).
async fn resolve_base(c: &Client, card: &ModelCard) -> Result<Hash> {
    if let Some(t) = card.tags.iter().find_map(|t| t.strip_prefix("mycel-base:")) {
        return id_of(t);
    }
    let Some(name) = card.base_model.first() else {
        bail!("the model card names no base_model");
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
        [] => bail!("base_model {name:?} is not a registered model version"),
        _ => bail!(
            "base_model {name:?} names several registered versions; tag the card with mycel-base:<id>"
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn import(
    home: &Home,
    c: &Client,
    opts: &TxOpts,
    dir: &Path,
    name: Option<String>,
    access: model::Access,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    let readme = dir.join("README.md");
    let text = std::fs::read_to_string(&readme)
        .with_context(|| format!("reading {}", readme.display()))?;
    let card = ModelCard::parse(&text)?;
    if card.base_model_relation != Some(BaseModelRelation::Adapter) {
        bail!(
            "only PEFT LoRA adapters can be imported (the card's base_model_relation must be adapter)"
        );
    }
    let base = resolve_base(c, &card).await?;
    let base_version = view(c, &base)
        .await
        .with_context(|| format!("base model {base}"))?;
    let store = mycel_ml::registry::ModelStore::from_env();
    let (_, cfg) = pinned_decoder_config(&store, &base)?.with_context(|| {
        format!("the base model {base}'s files are not here (mycel models fetch)")
    })?;
    let adapter = hf::import_adapter(dir, &cfg, mycel_ml::registry::ModelId(base.0))?;
    let found = Identified::adapter(adapter.to_bytes()?)?;
    if dry_run {
        if json {
            print_json(&serde_json::json!({"model": found.id(), "base": base}));
        } else {
            println!("{} (adapter on {base})", found.id());
        }
        return Ok(());
    }
    let license = match &card.license {
        Some(l) => spdx_license(l),
        None => base_version.version.registration.license.clone(),
    };
    // A custom licence's text is where the card links to; the link is what the chain keeps.
    let license_text = match &card.license {
        Some(License::Other { link, .. }) => Some(link.clone().into_bytes()),
        _ => None,
    };
    let datasets = card
        .datasets
        .iter()
        .filter_map(|d| d.strip_prefix("mycel-dataset:"))
        .map(|d| Hash::from_hex(d).with_context(|| format!("dataset {d:?}")))
        .collect::<Result<Vec<_>>>()?;
    let name = name.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "imported-adapter".into())
    });
    let r = registration(
        c,
        Draft {
            found: &found,
            name,
            kind: model::ModelKind::Adapter,
            parents: vec![base],
            datasets,
            license,
            license_text,
            card: Some(read_card(&readme)?),
            access,
        },
    )
    .await?;
    submit(home, c, opts, r, json).await
}
