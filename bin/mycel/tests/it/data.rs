//! Datasets over the CLI: `mycel data add`, near-duplicates, proofs and novelty challenges.

use crate::common::{Devnet, assert_supply_consistent, balance, mycel_at, write_jsonl};
use mycel_primitives::Hash;
use std::process::Command;

/// `n` pseudo-random words from a small vocabulary.
fn words(seed: u64, n: usize) -> Vec<String> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            format!("w{}", s % 5000)
        })
        .collect()
}

/// `mycel data add --from` ingests, signs the manifest and registers the dataset on chain; a
/// later version made of near-duplicates claims (and is credited) only its new record; proofs
/// verify offline; bad input is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_add_registers_and_near_duplicates_earn_no_credit() {
    let net = Devnet::init();
    let (node, c) = net.start_and_wait().await;
    let dir = tempfile::tempdir().unwrap();
    let originals: Vec<Vec<String>> = (1..=5).map(|i| words(i, 300)).collect();
    let v1 = dir.path().join("v1.jsonl");
    write_jsonl(
        &v1,
        &originals
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("a{i}"), w.join(" ")))
            .collect::<Vec<_>>(),
    );
    let first = net.cli_json(&[
        "data",
        "add",
        v1.to_str().unwrap(),
        "--from",
        "dev0",
        "--license",
        "CC-BY-4.0",
        "--consent",
        "train,commercial",
    ]);
    let root1 = first["registered"]["root"].as_str().unwrap().to_string();
    assert_eq!(first["ingest"]["registration"]["novel_records"], 5);
    let ds: serde_json::Value = c.get(&format!("/api/v1/datasets/{root1}")).await.unwrap();
    let dev0 = net.address("dev0").to_string();
    assert_eq!(ds["contributor"], dev0.as_str(), "{ds}");
    assert_eq!(ds["registration"]["records"], 5);
    assert_eq!(ds["registration"]["consent"], 3);
    assert_eq!(ds["registration"]["license"], "CC-BY-4.0");
    assert_eq!(
        ds["registration"]["novel_bytes"],
        first["ingest"]["registration"]["novel_bytes"]
    );
    assert_eq!(
        ds["registration"]["novel_root"],
        first["ingest"]["registration"]["novel_root"]
    );

    // Version 2: every record lightly edited (new IDs, J ≈ 0.97) plus one new record.
    let mut docs: Vec<(String, String)> = originals
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut w = w.clone();
            w[100] = format!("edit{i}");
            (format!("b{i}"), w.join(" "))
        })
        .collect();
    let fresh = words(77, 300).join(" ");
    docs.push(("new".into(), fresh.clone()));
    let v2 = dir.path().join("v2.jsonl");
    write_jsonl(&v2, &docs);
    let second = net.cli_json(&[
        "data",
        "add",
        v2.to_str().unwrap(),
        "--from",
        "dev0",
        "--license",
        "CC-BY-4.0",
        "--parent",
        &root1,
    ]);
    let root2 = second["registered"]["root"].as_str().unwrap().to_string();
    let ds2: serde_json::Value = c.get(&format!("/api/v1/datasets/{root2}")).await.unwrap();
    assert_eq!(ds2["registration"]["records"], 6);
    assert_eq!(ds2["registration"]["novel_records"], 1);
    assert_eq!(ds2["registration"]["novel_bytes"], fresh.len() as u64);
    assert_eq!(ds2["registration"]["parents"][0], root1.as_str());
    // The list endpoint (and the dashboard) shows both, newest first.
    let listed: Vec<serde_json::Value> = c.get("/api/v1/datasets?limit=5").await.unwrap();
    let roots: Vec<&str> = listed
        .iter()
        .map(|d| d["registration"]["root"].as_str().unwrap())
        .collect();
    assert_eq!(roots, vec![root2.as_str(), root1.as_str()]);

    // Offline checks: the manifest (signature, roots, counts, chunks) and a proof.
    assert!(net.cli(&["data", "verify", &root2]).starts_with("ok:"));
    let manifest = net.cli_json(&["data", "show", &root2]);
    let id = manifest["entries"][0]["id"].as_str().unwrap().to_string();
    // The chunks are in the node's blob store, served by hash to anyone (a worker, a verifier).
    let chunk0 = &manifest["entries"][0]["chunks"][0];
    let chunk = Hash::from_hex(chunk0["hash"].as_str().unwrap()).unwrap();
    let bytes = c.get_blob(&chunk).await.unwrap();
    assert_eq!(bytes.len() as u64, chunk0["len"].as_u64().unwrap());
    let proof = dir.path().join("proof.json");
    std::fs::write(&proof, net.cli(&["data", "prove", &root2, &id])).unwrap();
    let proof = proof.to_str().unwrap();
    let ok = net.cli(&["data", "verify", &root2, "--proof", proof]);
    assert!(ok.contains("is in dataset"), "{ok}");
    // The same proof against another root.
    net.cli_fails(&["data", "verify", &root1, "--proof", proof]);

    // A contributor whose node never saw version 1 (another home, same chain) re-registers one
    // of its records as novel; anyone holding version 1 defeats the claim with two proofs.
    // A home of its own, with the devnet's keys only.
    let fresh_home = || {
        let h = tempfile::tempdir_in(dir.path()).unwrap().keep();
        let copied = Command::new("cp")
            .args([
                "-r",
                net.home.join("keys").to_str().unwrap(),
                h.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(copied.success());
        h
    };
    let other = fresh_home();
    let v3 = dir.path().join("v3.jsonl");
    write_jsonl(
        &v3,
        &[
            ("x".into(), originals[2].join(" ")),
            ("y".into(), words(99, 300).join(" ")),
        ],
    );
    // `--no-network-check`: the claim rests on this (empty) home alone.
    let out = mycel_at(&other, &net.api)
        .args(["--json", "data", "add", v3.to_str().unwrap()])
        .args(["--from", "dev1", "--license", "MIT", "--no-network-check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let third: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(third["ingest"]["registration"]["novel_records"], 2);
    let root3 = third["registered"]["root"].as_str().unwrap().to_string();
    let manifest3 = other.join("datasets").join(format!("{root3}.json"));
    // The signed manifest is published on the node under the address the registration records,
    // so the challenger below (whose home lacks it) fetches it from there.
    let ds3: serde_json::Value = c.get(&format!("/api/v1/datasets/{root3}")).await.unwrap();
    let published = c
        .get_blob(&Hash::from_hex(ds3["registration"]["manifest"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(published, std::fs::read(&manifest3).unwrap());
    let dev2 = net.address("dev2");
    let before = balance(&c.account(&dev2).await.unwrap());
    let won = net.cli_json(&[
        "data",
        "challenge",
        &root3,
        "--earlier",
        &root1,
        "--from",
        "dev2",
    ]);
    // Half of the 10 MYC bond goes to the challenger, the rest is burned.
    assert_eq!(won["reward"], "5000000000");
    let ds3: serde_json::Value = c.get(&format!("/api/v1/datasets/{root3}")).await.unwrap();
    assert_eq!(ds3["challenged"], true);
    let tx: serde_json::Value = c
        .get(&format!("/api/v1/txs/{}", won["tx"].as_str().unwrap()))
        .await
        .unwrap();
    let fee: u128 = tx["receipt"]["fee"].as_str().unwrap().parse().unwrap();
    let after = balance(&c.account(&dev2).await.unwrap());
    assert_eq!(after + fee - before, 5_000_000_000);
    // The same claim cannot be defeated twice, and a dataset with no such record is refused.
    let challenge = |claim: &str| {
        net.cli_fails(&[
            "data",
            "challenge",
            claim,
            "--earlier",
            &root1,
            "--from",
            "dev2",
        ])
    };
    let err = challenge(manifest3.to_str().unwrap());
    assert!(err.contains("already defeated"), "{err}");
    let err = challenge(&root2);
    assert!(err.contains("no record claimed novel"), "{err}");

    // A re-encoded copy of version 1 (case, fullwidth letters, punctuation, non-breaking spaces,
    // records in another order): no record is byte-identical, so only the network's published
    // signatures can tell. A fresh home that checks them (the default) claims nothing of it.
    let reencode = |punct: &str| -> Vec<(String, String)> {
        originals
            .iter()
            .rev()
            .enumerate()
            .map(|(i, w)| {
                let t = w.join(&format!("{punct}\u{a0}")).to_uppercase();
                (format!("r{i}"), t.replace("W1", "\u{ff37}1") + "!")
            })
            .collect()
    };
    let add_from = |home: &std::path::Path, path: &std::path::Path, extra: &[&str]| {
        let out = mycel_at(home, &net.api)
            .args(["--json", "data", "add", path.to_str().unwrap()])
            .args(["--from", "dev3", "--license", "MIT"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        (v, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let v4 = dir.path().join("v4.jsonl");
    write_jsonl(&v4, &reencode(","));
    let (honest, log) = add_from(&fresh_home(), &v4, &[]);
    assert_eq!(
        honest["ingest"]["registration"]["novel_records"], 0,
        "{log}"
    );
    // The same copy claimed as novel (another re-encoding, so another root) from a home that
    // skips the check: anyone can now defeat the claim without a byte-identical record and
    // without naming the earlier dataset; the ledger recomputes the similarity itself.
    let v5 = dir.path().join("v5.jsonl");
    write_jsonl(&v5, &reencode(";"));
    let (cheat, _) = add_from(&fresh_home(), &v5, &["--no-network-check"]);
    assert_eq!(cheat["ingest"]["registration"]["novel_records"], 5);
    let root5 = cheat["registered"]["root"].as_str().unwrap().to_string();
    // Any node can audit every open claim from what is published (no --from: nothing sent).
    let audit = net.cli_json(&["data", "audit"]);
    let verdict = |root: &str| {
        audit
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["dataset"] == root)
            .map(|v| v["verdict"].as_str().unwrap().to_string())
    };
    assert_eq!(verdict(&root1).as_deref(), Some("holds"), "{audit}");
    assert_eq!(verdict(&root2).as_deref(), Some("holds"), "{audit}");
    assert_eq!(verdict(&root3), None, "already defeated: {audit}");
    assert_eq!(verdict(&root5).as_deref(), Some("false"), "{audit}");
    // The honest copy claimed nothing, so there is nothing to challenge.
    let root4 = honest["registered"]["root"].as_str().unwrap().to_string();
    let err = net.cli_fails(&["data", "challenge", &root4, "--from", "dev2"]);
    assert!(err.contains("no record claimed novel"), "{err}");
    let won = net.cli_json(&["data", "challenge", &root5, "--from", "dev2"]);
    assert_eq!(won["reward"], "5000000000");
    let ds5: serde_json::Value = c.get(&format!("/api/v1/datasets/{root5}")).await.unwrap();
    assert_eq!(ds5["challenged"], true);
    let tx: serde_json::Value = c
        .get(&format!("/api/v1/txs/{}", won["tx"].as_str().unwrap()))
        .await
        .unwrap();
    // Found by searching every earlier dataset in registration order: version 1 comes first.
    let earlier = &tx["receipt"]["events"][0]["attrs"][1];
    assert_eq!(earlier[0], "earlier", "{tx}");
    assert_eq!(earlier[1], root1.as_str(), "{tx}");
    // Registration order is public: a node can page through everything registered.
    let all: Vec<serde_json::Value> = c.get("/api/v1/datasets?from=0&limit=200").await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["registration"]["root"], root1.as_str());
    assert_eq!(all[4]["seq"], 4);

    // Bad input: refused before any write.
    let datasets = || {
        std::fs::read_dir(net.home.join("datasets"))
            .unwrap()
            .count()
    };
    let before = datasets();
    let v2 = v2.to_str().unwrap();
    let err = net.cli_fails(&["data", "add", v2, "--consent", "everything"]);
    assert!(err.contains("unknown consent flag"), "{err}");
    let err = net.cli_fails(&["data", "add", v2, "--from", "nobody", "--license", "MIT"]);
    assert!(err.contains("nobody"), "{err}");
    let err = net.cli_fails(&["data", "add", v2, "--from", "dev0"]);
    assert!(err.contains("--license"), "{err}");
    assert_eq!(datasets(), before);
    // The same dataset cannot be registered twice.
    let err = net.cli_fails(&["data", "register", &root2, "--from", "dev0"]);
    assert!(err.contains("already"), "{err}");

    assert_supply_consistent(&c).await;
    node.kill();
}
