//! Model lineage: the graph around one version (ancestors, descendants, the datasets they
//! learned from, their contributors, the jobs that produced them), and portable lineage proofs
//! that `mycel model verify` checks offline against a finalized state root.

use mycel_ledger::modules::{data, market, model};
use mycel_primitives::{Address, Hash, PublicKey, codec::decode};
use mycel_store::StateRead;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Most model versions a lineage graph walks on each side of its root.
pub const MAX_LINEAGE: usize = 512;

/// A node of a lineage graph.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LineageNode {
    /// `model:<hex>`, `dataset:<hex>`, `account:<address>` or `job:<id>`.
    pub id: String,
    /// `model`, `dataset`, `contributor` or `job`.
    pub kind: String,
    /// What to print.
    pub label: String,
    /// Kind-specific details (a model's kind, licence, access, owner; a job's status…).
    pub detail: BTreeMap<String, String>,
}

/// An edge of a lineage graph, from the older thing to what was made of it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LineageEdge {
    /// Source node ID.
    pub from: String,
    /// Target node ID.
    pub to: String,
    /// `adapter`, `finetune`, `merge`, `quantized` (parent → child), `trained_on` (dataset →
    /// model), `contributed` (contributor → dataset), `produced` (job → model).
    pub relation: String,
}

/// The lineage of one model version as a graph.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The node the graph was drawn around (`model:<hex>`).
    pub root: String,
    /// Nodes, models first (ancestors, the root, descendants), each once.
    pub nodes: Vec<LineageNode>,
    /// Edges.
    pub edges: Vec<LineageEdge>,
    /// True when a side had more than [`MAX_LINEAGE`] versions and was cut.
    pub truncated: bool,
}

fn model_node(id: &Hash) -> String {
    format!("model:{id}")
}

/// The lineage graph of `id`, or `None` if it is not registered. `describe_job` words a job's
/// status (the API passes the verification state).
pub fn lineage(
    state: &(impl StateRead + ?Sized),
    id: &Hash,
    describe_job: &dyn Fn(&market::Job) -> String,
) -> mycel_ledger::Result<Option<Lineage>> {
    let Some(root) = model::version(state, id)? else {
        return Ok(None);
    };
    let mut versions: BTreeMap<Hash, model::Version> = BTreeMap::new();
    let mut order: Vec<Hash> = Vec::new();
    // Ancestors come nearest first; reversed, the oldest prints first.
    let (ancestors, mut truncated) = model::ancestors(state, &root, MAX_LINEAGE)?;
    for v in ancestors.into_iter().rev() {
        order.push(v.registration.id);
        versions.insert(v.registration.id, v);
    }
    let mut seen: BTreeSet<Hash> = versions.keys().copied().collect();
    seen.insert(*id);
    order.push(*id);
    versions.insert(*id, root);
    let mut queue: VecDeque<Hash> = model::children(state, id)?.into();
    let mut descendants = 0;
    while let Some(c) = queue.pop_front() {
        if !seen.insert(c) {
            continue;
        }
        if descendants == MAX_LINEAGE {
            truncated = true;
            break;
        }
        if let Some(v) = model::version(state, &c)? {
            queue.extend(model::children(state, &c)?);
            order.push(c);
            versions.insert(c, v);
            descendants += 1;
        }
    }

    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut datasets: BTreeSet<Hash> = BTreeSet::new();
    for m in &order {
        let v = &versions[m];
        let r = &v.registration;
        let mut detail = BTreeMap::from([
            ("kind".to_string(), r.kind.as_str().to_string()),
            ("license".to_string(), r.license.clone()),
            (
                "access".to_string(),
                format!("{:?}", r.access).to_lowercase(),
            ),
            ("owner".to_string(), v.owner.to_string()),
            ("height".to_string(), v.height.to_string()),
            (
                "written_by".to_string(),
                if v.attested { "network" } else { "owner" }.to_string(),
            ),
        ]);
        if let Some(j) = v.job {
            detail.insert("job".into(), j.to_string());
        }
        nodes.push(LineageNode {
            id: model_node(m),
            kind: "model".into(),
            label: r.name.clone(),
            detail,
        });
        for p in &r.parents {
            if versions.contains_key(p) {
                edges.push(LineageEdge {
                    from: model_node(p),
                    to: model_node(m),
                    relation: r.kind.as_str().into(),
                });
            }
        }
        for d in &r.datasets {
            datasets.insert(*d);
            edges.push(LineageEdge {
                from: format!("dataset:{d}"),
                to: model_node(m),
                relation: "trained_on".into(),
            });
        }
        if let Some(j) = v.job {
            let label = match market::job(state, j)? {
                Some(job) => format!("job {j}: {}", describe_job(&job)),
                None => format!("job {j}"),
            };
            nodes.push(LineageNode {
                id: format!("job:{j}"),
                kind: "job".into(),
                label,
                detail: BTreeMap::new(),
            });
            edges.push(LineageEdge {
                from: format!("job:{j}"),
                to: model_node(m),
                relation: "produced".into(),
            });
        }
    }
    let mut contributors: BTreeSet<Address> = BTreeSet::new();
    for d in &datasets {
        let (label, detail, contributor) = match data::dataset(state, d)? {
            Some(ds) => (
                format!("dataset {}", &d.to_hex()[..12]),
                BTreeMap::from([
                    ("license".to_string(), ds.registration.license.clone()),
                    ("records".to_string(), ds.registration.records.to_string()),
                    (
                        "train_consent".to_string(),
                        (ds.registration.consent & data::CONSENT_TRAIN != 0).to_string(),
                    ),
                ]),
                Some(ds.contributor),
            ),
            None => (
                format!("dataset {}", &d.to_hex()[..12]),
                BTreeMap::new(),
                None,
            ),
        };
        nodes.push(LineageNode {
            id: format!("dataset:{d}"),
            kind: "dataset".into(),
            label,
            detail,
        });
        if let Some(c) = contributor {
            edges.push(LineageEdge {
                from: format!("account:{c}"),
                to: format!("dataset:{d}"),
                relation: "contributed".into(),
            });
            contributors.insert(c);
        }
    }
    for c in contributors {
        nodes.push(LineageNode {
            id: format!("account:{c}"),
            kind: "contributor".into(),
            label: c.to_string(),
            detail: BTreeMap::new(),
        });
    }
    Ok(Some(Lineage {
        root: model_node(id),
        nodes,
        edges,
        truncated,
    }))
}

/// The lineage as an ASCII tree: ancestors down to the model (marked ◀), its descendants below
/// it, and under each model the job that produced it and the datasets (with their contributors)
/// it learned from.
pub fn render_tree(l: &Lineage) -> String {
    let mut t = Tree::new(l);
    let tops: Vec<&str> = l
        .nodes
        .iter()
        .filter(|n| n.kind == "model" && t.sources(&n.id, is_model_edge).is_empty())
        .map(|n| n.id.as_str())
        .collect();
    for top in tops {
        t.model(top, None);
    }
    if l.truncated {
        t.out
            .push_str(&format!("… cut at {MAX_LINEAGE} versions on a side\n"));
    }
    t.out
}

fn is_model_edge(relation: &str) -> bool {
    !matches!(relation, "trained_on" | "contributed" | "produced")
}

/// The state of [`render_tree`]'s walk.
struct Tree<'l> {
    l: &'l Lineage,
    out: String,
    printed: BTreeSet<&'l str>,
    /// Nodes by ID, and edges by each end, so the walk is linear in the graph.
    nodes: BTreeMap<&'l str, &'l LineageNode>,
    into: BTreeMap<&'l str, Vec<&'l LineageEdge>>,
    out_of: BTreeMap<&'l str, Vec<&'l LineageEdge>>,
}

impl<'l> Tree<'l> {
    fn new(l: &'l Lineage) -> Self {
        let mut into: BTreeMap<&str, Vec<&LineageEdge>> = BTreeMap::new();
        let mut out_of: BTreeMap<&str, Vec<&LineageEdge>> = BTreeMap::new();
        for e in &l.edges {
            into.entry(e.to.as_str()).or_default().push(e);
            out_of.entry(e.from.as_str()).or_default().push(e);
        }
        Tree {
            l,
            out: String::new(),
            printed: BTreeSet::new(),
            nodes: l.nodes.iter().map(|n| (n.id.as_str(), n)).collect(),
            into,
            out_of,
        }
    }

    fn node(&self, id: &str) -> Option<&'l LineageNode> {
        self.nodes.get(id).copied()
    }

    fn sources(&self, to: &str, relation: fn(&str) -> bool) -> Vec<&'l str> {
        self.into.get(to).map_or_else(Vec::new, |es| {
            es.iter()
                .filter(|e| relation(&e.relation))
                .map(|e| e.from.as_str())
                .collect()
        })
    }

    fn targets(&self, from: &str, relation: fn(&str) -> bool) -> Vec<&'l str> {
        self.out_of.get(from).map_or_else(Vec::new, |es| {
            es.iter()
                .filter(|e| relation(&e.relation))
                .map(|e| e.to.as_str())
                .collect()
        })
    }

    /// Writes one line: at the top level bare, else under `prefix` with a branch.
    fn line(&mut self, at: Option<(&str, bool)>, text: &str) {
        if let Some((prefix, last)) = at {
            self.out.push_str(prefix);
            self.out.push_str(if last { "└── " } else { "├── " });
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn model(&mut self, id: &'l str, at: Option<(&str, bool)>) {
        let text = match self.node(id) {
            Some(n) => {
                let d = |k: &str| n.detail.get(k).map_or("", String::as_str);
                format!(
                    "{} [{}] {} ({}, {}, {})",
                    n.label,
                    d("kind"),
                    id.trim_start_matches("model:"),
                    d("license"),
                    d("access"),
                    if d("written_by") == "network" {
                        "written by the network"
                    } else {
                        "declared by its owner"
                    }
                )
            }
            None => id.to_string(),
        };
        if !self.printed.insert(id) {
            self.line(at, &format!("{text} (see above)"));
            return;
        }
        let marker = if self.l.root == id { "  ◀" } else { "" };
        self.line(at, &format!("{text}{marker}"));
        let inner = match at {
            None => String::new(),
            Some((prefix, last)) => format!("{prefix}{}", if last { "    " } else { "│   " }),
        };
        let jobs = self.sources(id, |r| r == "produced");
        let datasets = self.sources(id, |r| r == "trained_on");
        let children = self.targets(id, is_model_edge);
        let total = jobs.len() + datasets.len() + children.len();
        let mut i = 0;
        for j in jobs {
            i += 1;
            let label = self.node(j).map_or(j, |n| n.label.as_str());
            self.line(Some((&inner, i == total)), &format!("made by {label}"));
        }
        for d in datasets {
            i += 1;
            let licence = self
                .node(d)
                .and_then(|n| n.detail.get("license"))
                .map_or("?", String::as_str);
            self.line(
                Some((&inner, i == total)),
                &format!(
                    "trained on {} ({licence})",
                    d.trim_start_matches("dataset:")
                ),
            );
            let under = format!("{inner}{}", if i == total { "    " } else { "│   " });
            let contributors = self.sources(d, |r| r == "contributed");
            let n = contributors.len();
            for (k, c) in contributors.into_iter().enumerate() {
                self.line(
                    Some((&under, k + 1 == n)),
                    &format!("contributed by {}", c.trim_start_matches("account:")),
                );
            }
        }
        for c in children {
            i += 1;
            self.model(c, Some((&inner, i == total)));
        }
    }
}

/// A lineage proof: a model version, every ancestor and every dataset it learned from, each with
/// its state proof against one finalized root, and the proof that the root was finalized.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LineageProof {
    /// The model proven.
    pub model: Hash,
    /// The height whose post-state it is.
    pub height: u64,
    /// Its state root.
    pub state_root: Hash,
    /// Entries: state key, value and JMT proof, hex.
    pub entries: Vec<ProvenEntry>,
    /// Headers up to a finalization certificate.
    pub finality: mycel_consensus::light::FinalityProof,
}

/// One proven state entry.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ProvenEntry {
    /// The state key, hex.
    pub key: String,
    /// The value, hex.
    pub value: String,
    /// The JMT inclusion proof, hex.
    pub proof: String,
}

/// The state keys a lineage proof of `id` needs: the version, its ancestors, and the datasets in
/// its attribution (which already spans the ancestors').
pub fn proof_keys(
    state: &(impl StateRead + ?Sized),
    id: &Hash,
) -> mycel_ledger::Result<Option<Vec<Vec<u8>>>> {
    let Some(v) = model::version(state, id)? else {
        return Ok(None);
    };
    let mut keys = vec![model::version_key(id)];
    let (ancestors, _) = model::ancestors(state, &v, MAX_LINEAGE)?;
    keys.extend(
        ancestors
            .iter()
            .map(|a| model::version_key(&a.registration.id)),
    );
    keys.extend(v.attribution.iter().map(data::dataset_key));
    Ok(Some(keys))
}

/// One check of [`verify_lineage`].
#[derive(Serialize, Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub check: String,
    /// Passed, failed, or could not be checked (`None`).
    pub ok: Option<bool>,
    /// Why.
    pub detail: String,
}

/// Checks a lineage proof offline: every entry against the root, the model and each ancestor's
/// parents present, every attributed dataset present, and (with `validators`) the root's
/// finality. Returns the checks and the proven versions, the model first.
pub fn verify_lineage(
    p: &LineageProof,
    validators: Option<&[PublicKey]>,
) -> (Vec<Check>, Vec<model::Version>) {
    let mut out = Vec::new();
    let mut push = |check: &str, ok: Option<bool>, detail: String| {
        out.push(Check {
            check: check.into(),
            ok,
            detail,
        })
    };
    let mut versions: BTreeMap<Hash, model::Version> = BTreeMap::new();
    let mut datasets: BTreeMap<Hash, data::Dataset> = BTreeMap::new();
    let mut bad = Vec::new();
    for e in &p.entries {
        let parsed = (|| -> Result<(), String> {
            let key = hex::decode(&e.key).map_err(|e| e.to_string())?;
            let value = hex::decode(&e.value).map_err(|e| e.to_string())?;
            let proof = hex::decode(&e.proof).map_err(|e| e.to_string())?;
            mycel_store::verify_state_proof(&p.state_root, &key, &value, &proof)
                .map_err(|e| e.to_string())?;
            if let Ok(v) = decode::<model::Version>(&value)
                && key == model::version_key(&v.registration.id)
            {
                versions.insert(v.registration.id, v);
                return Ok(());
            }
            if let Ok(d) = decode::<data::Dataset>(&value)
                && key == data::dataset_key(&d.registration.root)
            {
                datasets.insert(d.registration.root, d);
                return Ok(());
            }
            Err("neither a model version nor a dataset under its own key".into())
        })();
        if let Err(why) = parsed {
            bad.push(format!("{}…: {why}", &e.key[..e.key.len().min(24)]));
        }
    }
    push(
        "entries in state",
        Some(bad.is_empty()),
        if bad.is_empty() {
            format!(
                "{} entries proven against state root {} at height {}",
                p.entries.len(),
                p.state_root,
                p.height
            )
        } else {
            bad.join("; ")
        },
    );
    let Some(root) = versions.get(&p.model).cloned() else {
        push(
            "model",
            Some(false),
            format!("no proven version of {}", p.model),
        );
        return (out, Vec::new());
    };
    push(
        "model",
        Some(true),
        format!(
            "{} ({}, {}), owned by {}",
            root.registration.name,
            root.registration.kind.as_str(),
            root.registration.license,
            root.owner
        ),
    );
    let missing_parents: Vec<String> = versions
        .values()
        .flat_map(|v| v.registration.parents.iter())
        .filter(|p| !versions.contains_key(p))
        .map(Hash::to_hex)
        .collect();
    push(
        "ancestors",
        Some(missing_parents.is_empty()),
        if missing_parents.is_empty() {
            format!("{} versions, every parent proven", versions.len())
        } else {
            format!("parents without proof: {}", missing_parents.join(", "))
        },
    );
    let missing_data: Vec<String> = root
        .attribution
        .iter()
        .filter(|d| !datasets.contains_key(d))
        .map(Hash::to_hex)
        .collect();
    push(
        "datasets",
        Some(missing_data.is_empty()),
        if missing_data.is_empty() {
            let contributors: BTreeSet<String> = datasets
                .values()
                .map(|d| d.contributor.to_string())
                .collect();
            format!(
                "{} datasets from {} contributors",
                datasets.len(),
                contributors.len()
            )
        } else {
            format!("datasets without proof: {}", missing_data.join(", "))
        },
    );
    match validators {
        Some(v) => {
            let f = mycel_consensus::light::verify_finality(v, &p.finality);
            let ok = matches!(&f, Ok((h, r)) if *h == p.height && *r == p.state_root);
            push(
                "state root finalized",
                Some(ok),
                match f {
                    Ok((h, _)) => format!(
                        "{} headers and a certificate signed by a quorum of its epoch's validators, reached from the {} genesis validators through {} set changes (height {h})",
                        p.finality.headers.len(),
                        v.len(),
                        p.finality.handoffs.len()
                    ),
                    Err(e) => e,
                },
            );
        }
        None => push(
            "state root finalized",
            None,
            "no validator keys: pass the genesis you trust (--genesis)".into(),
        ),
    }
    let mut list = vec![root];
    list.extend(
        versions
            .into_values()
            .filter(|v| v.registration.id != p.model),
    );
    (out, list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, kind: &str, label: &str, detail: &[(&str, &str)]) -> LineageNode {
        LineageNode {
            id: id.into(),
            kind: kind.into(),
            label: label.into(),
            detail: detail
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn edge(from: &str, to: &str, relation: &str) -> LineageEdge {
        LineageEdge {
            from: from.into(),
            to: to.into(),
            relation: relation.into(),
        }
    }

    #[test]
    fn the_tree_puts_jobs_data_and_children_under_each_model_and_marks_the_root() {
        fn m(k: &'static str, w: &'static str) -> [(&'static str, &'static str); 4] {
            [
                ("kind", k),
                ("license", "MIT"),
                ("access", "public"),
                ("written_by", w),
            ]
        }
        let l = Lineage {
            root: "model:b".into(),
            nodes: vec![
                node("model:a", "model", "Base", &m("base", "owner")),
                node("model:b", "model", "Tuned", &m("adapter", "network")),
                node("model:c", "model", "Merged", &m("merge", "owner")),
                node("job:3", "job", "job 3: settled, verified by audit", &[]),
                node(
                    "dataset:d",
                    "dataset",
                    "dataset d",
                    &[("license", "CC0-1.0")],
                ),
                node("account:x", "contributor", "x", &[]),
            ],
            edges: vec![
                edge("model:a", "model:b", "adapter"),
                edge("model:b", "model:c", "merge"),
                edge("model:a", "model:c", "merge"),
                edge("job:3", "model:b", "produced"),
                edge("dataset:d", "model:b", "trained_on"),
                edge("account:x", "dataset:d", "contributed"),
            ],
            truncated: false,
        };
        let text = render_tree(&l);
        let want = "\
Base [base] a (MIT, public, declared by its owner)
├── Tuned [adapter] b (MIT, public, written by the network)  ◀
│   ├── made by job 3: settled, verified by audit
│   ├── trained on d (CC0-1.0)
│   │   └── contributed by x
│   └── Merged [merge] c (MIT, public, declared by its owner)
└── Merged [merge] c (MIT, public, declared by its owner) (see above)
";
        assert_eq!(text, want, "\n{text}");
    }
}
