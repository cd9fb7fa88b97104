//! The tool and agent registry's read side on a real in-process node: tools and agents
//! registered by real transactions are listed, paged, filtered by owner and skill, looked up by
//! ID or name with every version; an agent's card is served with its owner's signature, which
//! verifies offline and stops verifying once the card is changed; unknown names are 404s.

use crate::common::{send_tx, start_node};
use mycel_ledger::{
    Message,
    modules::agent::{self, Entry, Kind, Registration, Status},
};
use mycel_node::{
    client::Client,
    http::agent::{ToolView, VersionView},
    services::{accounts, agents::verify_card},
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey, codec::Encode, keys};
use serde_json::{Value, json};

fn tool_json(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        "annotations": {"readOnlyHint": true},
    })
}

fn card_json() -> Value {
    json!({
        "name": "Dedup Planner",
        "description": "Plans dedup runs.",
        "version": "1.0.0",
        "url": "http://127.0.0.1:9200/a2a",
        "capabilities": {"streaming": false},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["application/json"],
        "skills": [{
            "id": "plan-dedup",
            "name": "Plan a dedup",
            "description": "Chooses thresholds.",
            "tags": ["Data", "dedup"],
        }],
    })
}

/// Registers (or publishes a new version of) `manifest` as `kind`, signed by `owner`; its hash.
async fn register(c: &Client, owner: &PrivateKey, kind: Kind, manifest: &Value) -> Hash {
    let bytes = agent::manifest::canonical(manifest);
    let h = agent::manifest_hash(&bytes);
    let sig = keys::sign(
        owner,
        agent::MANIFEST_NAMESPACE,
        &agent::manifest_signing_bytes(kind, &h),
    );
    let r = Registration {
        kind,
        manifest: bytes,
        endpoint: "http://127.0.0.1:9100".into(),
        price: Amount(1_000),
        bond: Amount::from_myc(1),
        owner_key: keys::public_key(owner).as_ref().to_vec(),
        signature: sig.encode().to_vec(),
    };
    let r = send_tx(c, owner, Message::Agent(agent::Msg::Register(Box::new(r)))).await;
    assert!(r.success, "{}", r.error);
    h
}

fn address(k: &PrivateKey) -> Address {
    Address::from_public_key(&keys::public_key(k))
}

async fn list(c: &Client, path: &str) -> Vec<Entry> {
    c.get(path).await.unwrap()
}

/// Asserts that `path` answers `status` in the shared error shape with `code`.
async fn fails(c: &Client, path: &str, status: u16, code: &str) {
    let r = reqwest::get(format!("{}{path}", c.base())).await.unwrap();
    assert_eq!(r.status().as_u16(), status, "{path}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{path}: {v}");
    assert!(v["error"]["message"].is_string(), "{path}: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed_paged_looked_up_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let (home, c) = start_node(dir.path()).await;
    let (owner, other) = (
        accounts::key(&home, "dev0").unwrap(),
        accounts::key(&home, "dev1").unwrap(),
    );
    let v1 = tool_json("word_count", "Counts the words of a text.");
    let h1 = register(&c, &owner, Kind::Tool, &v1).await;
    register(&c, &owner, Kind::Tool, &tool_json("echo", "Echoes.")).await;
    register(&c, &other, Kind::Agent, &card_json()).await;
    let wc = agent::entry_id(Kind::Tool, "word_count");
    let echo = agent::entry_id(Kind::Tool, "echo");

    // Lists hold tools only, in ID order, paged by `after`.
    let mut ids = vec![wc, echo];
    ids.sort();
    let all = list(&c, "/api/v1/tools").await;
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert!(all.iter().all(|e| e.kind == Kind::Tool));
    let first = list(&c, "/api/v1/tools?limit=1").await;
    assert_eq!(first.len(), 1);
    let rest = list(&c, &format!("/api/v1/tools?after={}", first[0].id)).await;
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), ids[1..]);
    assert!(list(&c, "/api/v1/tools?limit=0").await.is_empty());
    let mine = format!("/api/v1/tools?owner={}", address(&owner));
    assert_eq!(list(&c, &mine).await.len(), 2);
    let page = list(&c, &format!("{mine}&limit=1&after={}", ids[0])).await;
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), ids[1..]);
    let theirs = format!("/api/v1/tools?owner={}", address(&other));
    assert!(
        list(&c, &theirs).await.is_empty(),
        "dev1 owns an agent only"
    );

    // One tool by name or ID: the entry, its manifest as registered, the owner's signature.
    let by_name: ToolView = c.get("/api/v1/tools/word_count").await.unwrap();
    let by_id: ToolView = c.get(&format!("/api/v1/tools/{wc}")).await.unwrap();
    assert_eq!(by_name.entry, by_id.entry);
    let e = &by_name.entry;
    assert_eq!(
        (e.id, e.kind, e.version, e.manifest, e.owner, e.status),
        (wc, Kind::Tool, 1, h1, address(&owner), Status::Active)
    );
    assert_eq!(by_name.manifest, v1);
    let sig = mycel_primitives::codec::decode(&hex::decode(&by_name.signature).unwrap()).unwrap();
    let pk = keys::public_key_from_bytes(&e.owner_key).unwrap();
    assert!(keys::verify(
        &pk,
        agent::MANIFEST_NAMESPACE,
        &agent::manifest_signing_bytes(Kind::Tool, &h1),
        &sig
    ));

    // A new version: the entry moves to it, and both versions stay listed, oldest first.
    let v2 = tool_json(
        "word_count",
        "Counts the words of a text, hyphenated ones once.",
    );
    let h2 = register(&c, &owner, Kind::Tool, &v2).await;
    let now: ToolView = c.get("/api/v1/tools/word_count").await.unwrap();
    assert_eq!((now.entry.version, now.entry.manifest), (2, h2));
    assert_eq!(now.manifest, v2);
    let versions: Vec<VersionView> = c
        .get(&format!("/api/v1/tools/{wc}/versions"))
        .await
        .unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.manifest_hash))
            .collect::<Vec<_>>(),
        vec![(1, h1), (2, h2)]
    );
    assert_eq!((&versions[0].manifest, &versions[1].manifest), (&v1, &v2));
    assert!(versions[0].height < versions[1].height);
    let by_name: Vec<VersionView> = c.get("/api/v1/tools/word_count/versions").await.unwrap();
    assert_eq!(by_name, versions);

    // Unknown or malformed lookups get the one error shape.
    let zero = "00".repeat(32);
    let agent_id = agent::entry_id(Kind::Agent, "Dedup Planner");
    for (path, status, code) in [
        (format!("/api/v1/tools/{zero}"), 404, "not_found"),
        ("/api/v1/tools/no_such_tool".into(), 404, "not_found"),
        (format!("/api/v1/tools/{zero}/versions"), 404, "not_found"),
        // An agent's ID is no tool's.
        (format!("/api/v1/tools/{agent_id}"), 404, "not_found"),
        ("/api/v1/agents/word_count".into(), 404, "not_found"),
        ("/api/v1/agents/word_count/card".into(), 404, "not_found"),
        ("/api/v1/tools?owner=nobody".into(), 400, "bad_request"),
        ("/api/v1/tools?after=zz".into(), 400, "bad_request"),
        ("/api/v1/tools?skill=data".into(), 400, "bad_request"),
        ("/api/v1/tools?limit=many".into(), 400, "bad_request"),
    ] {
        fails(&c, &path, status, code).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_is_found_by_skill_and_its_card_verifies_until_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (home, c) = start_node(dir.path()).await;
    let (owner, other) = (
        accounts::key(&home, "dev0").unwrap(),
        accounts::key(&home, "dev1").unwrap(),
    );
    let h = register(&c, &owner, Kind::Agent, &card_json()).await;
    register(&c, &other, Kind::Tool, &tool_json("echo", "Echoes.")).await;
    let id = agent::entry_id(Kind::Agent, "Dedup Planner");

    let agents = list(&c, "/api/v1/agents").await;
    assert_eq!(agents.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
    // A skill matches by ID or tag, in any case; the owner filter combines with it.
    for skill in ["plan-dedup", "DATA", "dedup"] {
        let found = list(&c, &format!("/api/v1/agents?skill={skill}")).await;
        assert_eq!(
            found.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![id],
            "{skill}"
        );
    }
    assert!(list(&c, "/api/v1/agents?skill=inference").await.is_empty());
    let mine = format!("/api/v1/agents?skill=data&owner={}", address(&owner));
    assert_eq!(list(&c, &mine).await.len(), 1);
    let theirs = format!("/api/v1/agents?skill=data&owner={}", address(&other));
    assert!(list(&c, &theirs).await.is_empty());

    let view: ToolView = c.get("/api/v1/agents/Dedup%20Planner").await.unwrap();
    assert_eq!((view.entry.id, view.entry.manifest), (id, h));
    assert_eq!(view.manifest, card_json());
    let versions: Vec<VersionView> = c
        .get(&format!("/api/v1/agents/{id}/versions"))
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);

    // The card as registered, plus the owner's signature, which checks out offline.
    let card: Value = c.get("/api/v1/agents/Dedup%20Planner/card").await.unwrap();
    let by_id: Value = c.get(&format!("/api/v1/agents/{id}/card")).await.unwrap();
    assert_eq!(card, by_id);
    let mut unsigned = card.clone();
    unsigned.as_object_mut().unwrap().remove("signatures");
    assert_eq!(unsigned, card_json());
    assert_eq!(card["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(verify_card(&card, &view.entry.owner_key), Ok(h));
    // Another key, or a changed description, does not verify.
    let someone = keys::public_key(&other);
    assert!(verify_card(&card, someone.as_ref()).is_err());
    let mut tampered = card.clone();
    tampered["description"] = "Plans dedup runs, and sends your data elsewhere.".into();
    let e = verify_card(&tampered, &view.entry.owner_key).unwrap_err();
    assert!(e.contains(&h.to_hex()), "{e}");

    for path in [
        format!("/api/v1/agents/{}", "00".repeat(32)),
        format!("/api/v1/agents/{}/card", "00".repeat(32)),
        "/api/v1/agents/Nobody/card".to_string(),
        "/api/v1/agents/Nobody/versions".to_string(),
        "/api/v1/agents/echo".to_string(),
    ] {
        fails(&c, &path, 404, "not_found").await;
    }
    fails(&c, "/api/v1/agents?owner=myc1nope", 400, "bad_request").await;

    dashboard_shows_the_agent(&c, dir.path(), &id).await;
}

/// With `MYCEL_CHROMIUM` set (as in CI), the dashboard as headless Chromium renders it: the
/// registry table lists both entries, and the agent's page shows its manifest, its versions and
/// a link to its card. A screenshot is kept in the temporary folder for a person to look at.
async fn dashboard_shows_the_agent(c: &Client, dir: &std::path::Path, id: &Hash) {
    let Some(chromium) = std::env::var("MYCEL_CHROMIUM")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("SKIP dashboard check: MYCEL_CHROMIUM not set");
        return;
    };
    let page = format!("{}/#/tool/{id}", c.base());
    let run = |arg: String| {
        let (chromium, page, profile) = (chromium.clone(), page.clone(), dir.join("chromium"));
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                ])
                .args(["--virtual-time-budget=8000", "--window-size=1400,1800"])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(arg)
                .arg(page)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    let dom = run("--dump-dom".into()).await.unwrap();
    for want in [
        "Agent Dedup Planner",
        "Tools &amp; agents",
        "\"plan-dedup\"",
        &format!("href=\"#/tool/{id}\""),
        &format!("href=\"/api/v1/agents/{id}/card\""),
        ">echo</a>",
    ] {
        assert!(dom.contains(want), "{want} missing:\n{dom:.6000}");
    }
    let shot = std::env::temp_dir().join("mycel-dashboard-agent.png");
    run(format!("--screenshot={}", shot.display()))
        .await
        .unwrap();
    eprintln!("screenshot of {page}: {}", shot.display());
}
