//! `mycel model`: register model versions, follow their lineage, grant access, prove a lineage
//! and check the proof offline, and move versions to and from Hugging Face's folder conventions.

use crate::{
    chain_cmd::TxOpts,
    glue::{client, print_json},
};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mycel_ml::registry::ModelStore;
use mycel_node::{
    Home,
    client::Client,
    http::model::ModelView,
    models::{Identified, identify, pinned_files},
    services::{
        accounts,
        hub::{self, Draft, read_card, registration},
        models::{Lineage, LineageProof, render_tree, verify_lineage},
        receipts::validators_of,
    },
    types::{Hash, Message, model},
};
use std::path::PathBuf;

/// Model registry commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ModelCmd {
    /// Register a model version from its files: one `.gguf`, one mycel adapter `.safetensors`, or
    /// a BERT model's `model.safetensors`, `config.json` and `tokenizer.json` (or a pinned model's
    /// name, `smollm2` or `minilm`, for its files in the local store). The ID is computed from the
    /// files as the worker computes it.
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
            // A pinned model's name stands for its files in the local store.
            let files = match files.as_slice() {
                [one] if !one.exists() => one
                    .to_str()
                    .map(|n| pinned_files(&ModelStore::from_env(), n))
                    .transpose()?
                    .flatten()
                    .unwrap_or(files),
                _ => files,
            };
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
            let draft = Draft {
                found,
                name,
                kind,
                parents,
                datasets,
                license,
                license_text: license_file
                    .map(|p| std::fs::read(&p).with_context(|| format!("reading {}", p.display())))
                    .transpose()?,
                card: card.map(|p| read_card(&p)).transpose()?,
                access,
            };
            submit(home, &c, &opts, draft, json).await?;
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
        ModelCmd::Export { id, dir } => {
            let id = id_of(&id)?;
            let written = hub::export(&c, &id, &dir, &ModelStore::from_env()).await?;
            if json {
                print_json(&serde_json::json!({"model": id, "dir": dir, "files": written}));
            } else {
                println!("exported {id} to {}: {}", dir.display(), written.join(", "));
            }
        }
        ModelCmd::Import {
            opts,
            dir,
            name,
            access,
            dry_run,
        } => {
            let draft = hub::import(&c, &dir, name, access, &ModelStore::from_env()).await?;
            if dry_run {
                let (id, base) = (draft.found.id(), draft.parents[0]);
                if json {
                    print_json(&serde_json::json!({"model": id, "base": base}));
                } else {
                    println!("{id} (adapter on {base})");
                }
            } else {
                submit(home, &c, &opts, draft, json).await?;
            }
        }
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

async fn submit(home: &Home, c: &Client, opts: &TxOpts, draft: Draft, json: bool) -> Result<()> {
    let key = accounts::key(home, &opts.from)?;
    let r = registration(c, &key, draft).await?;
    let (id, kind) = (r.id, r.kind);
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
