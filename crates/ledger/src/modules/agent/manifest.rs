//! What the chain checks of a manifest: canonical JSON, an MCP tool definition or an A2A Agent
//! Card with legal names and bounded sizes, and JSON Schemas that are well formed.
//!
//! Canonical JSON is what `serde_json` writes for the parsed value: object keys sorted, no
//! whitespace, numbers as it prints them. A manifest must *be* its canonical form, so one
//! definition has one hash (whitespace or key order cannot make a "new" version of the same
//! text, and two texts cannot share a hash). The node canonicalises before it signs.
//!
//! The schema check is structural (every keyword the validator reads has the type JSON Schema
//! gives it, recursively, within depth and size bounds); the node additionally compiles each
//! schema with a full JSON Schema validator before it registers or calls a tool.

use super::{AgentError, Kind};
use serde_json::Value;

/// Most bytes of a manifest.
pub const MAX_MANIFEST_BYTES: usize = 32 * 1024;
/// Most bytes of a tool's or skill's description.
pub const MAX_DESCRIPTION_BYTES: usize = 4 * 1024;
/// Most skills an agent card declares.
pub const MAX_SKILLS: usize = 32;
/// Most tags per skill.
pub const MAX_TAGS: usize = 16;
/// Deepest nesting of a JSON Schema.
pub const MAX_SCHEMA_DEPTH: usize = 16;
/// Most subschemas in one manifest.
pub const MAX_SCHEMA_NODES: usize = 512;

/// What the chain keeps of a valid manifest besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The tool's or agent's name.
    pub name: String,
    /// An agent's skill IDs and tags (ASCII lower-cased), sorted and deduplicated; empty for tools.
    pub skills: Vec<String>,
}

/// The canonical bytes of `v` (sorted keys, compact).
pub fn canonical(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serializes")
}

/// True for an MCP tool name: 1..=128 of `[A-Za-z0-9_.-]` (the MCP specification's rule).
pub fn valid_tool_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// True for an agent name: 1..=64 of `[A-Za-z0-9 _.-]`, not starting or ending with a space.
pub fn valid_agent_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-' | b'.'))
}

fn bad(why: impl Into<String>) -> AgentError {
    AgentError::BadManifest { why: why.into() }
}

fn string<'a>(
    o: &'a serde_json::Map<String, Value>,
    k: &str,
    max: usize,
) -> Result<&'a str, AgentError> {
    let s = o
        .get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("`{k}` must be a string")))?;
    if s.len() > max {
        return Err(AgentError::TooLong {
            field: k.to_string(),
            bytes: s.len(),
            max,
        });
    }
    Ok(s)
}

fn opt_string(o: &serde_json::Map<String, Value>, k: &str, max: usize) -> Result<(), AgentError> {
    if o.contains_key(k) {
        string(o, k, max)?;
    }
    Ok(())
}

/// Checks `bytes` as a manifest of `kind`.
pub fn check(kind: Kind, bytes: &[u8]) -> Result<Checked, AgentError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(AgentError::TooLong {
            field: "manifest".into(),
            bytes: bytes.len(),
            max: MAX_MANIFEST_BYTES,
        });
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if canonical(&v) != bytes {
        return Err(AgentError::NotCanonical);
    }
    let o = v
        .as_object()
        .ok_or_else(|| bad("a manifest is a JSON object"))?;
    match kind {
        Kind::Tool => check_tool(o),
        Kind::Agent => check_card(o),
    }
}

/// The fields a tool definition may have: the ones an MCP client reads.
pub const TOOL_KEYS: [&str; 6] = [
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// The boolean hints a tool's `annotations` may carry (besides a `title` string).
pub const ANNOTATION_HINTS: [&str; 4] = [
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

fn check_tool(o: &serde_json::Map<String, Value>) -> Result<Checked, AgentError> {
    // Only the fields an MCP client reads: nothing rides along unseen.
    if let Some(k) = o.keys().find(|k| !TOOL_KEYS.contains(&k.as_str())) {
        return Err(bad(format!("unknown tool field `{k}`")));
    }
    let name = string(o, "name", 128)?;
    if !valid_tool_name(name) {
        return Err(AgentError::BadName {
            name: name.to_string(),
        });
    }
    opt_string(o, "title", 128)?;
    string(o, "description", MAX_DESCRIPTION_BYTES)?;
    let mut nodes = 0;
    for (k, required) in [("inputSchema", true), ("outputSchema", false)] {
        match o.get(k) {
            None if !required => {}
            None => return Err(bad(format!("`{k}` is required"))),
            Some(s) => {
                if s.get("type").and_then(Value::as_str) != Some("object") {
                    return Err(AgentError::BadSchema {
                        field: k.to_string(),
                        why: "the root must have \"type\": \"object\"".into(),
                    });
                }
                schema(s, 0, &mut nodes).map_err(|why| AgentError::BadSchema {
                    field: k.to_string(),
                    why,
                })?;
            }
        }
    }
    if let Some(a) = o.get("annotations") {
        let a = a
            .as_object()
            .ok_or_else(|| bad("`annotations` must be an object"))?;
        for (k, v) in a {
            let ok = match k.as_str() {
                "title" => v.as_str().is_some_and(|s| s.len() <= 128),
                h if ANNOTATION_HINTS.contains(&h) => v.is_boolean(),
                _ => false,
            };
            if !ok {
                return Err(bad(format!("annotation `{k}` is unknown or mistyped")));
            }
        }
    }
    Ok(Checked {
        name: name.to_string(),
        skills: Vec::new(),
    })
}

fn check_card(o: &serde_json::Map<String, Value>) -> Result<Checked, AgentError> {
    if o.contains_key("signatures") {
        // The chain binds the card to its owner; signatures are added when it is served.
        return Err(bad("register the card without `signatures`"));
    }
    let name = string(o, "name", 64)?;
    if !valid_agent_name(name) {
        return Err(AgentError::BadName {
            name: name.to_string(),
        });
    }
    string(o, "description", MAX_DESCRIPTION_BYTES)?;
    string(o, "version", 64)?;
    opt_string(o, "url", 256)?;
    opt_string(o, "protocolVersion", 32)?;
    for k in ["defaultInputModes", "defaultOutputModes"] {
        if let Some(m) = o.get(k) {
            let ok = m.as_array().is_some_and(|a| {
                a.len() <= 16 && a.iter().all(|x| x.as_str().is_some_and(|s| s.len() <= 128))
            });
            if !ok {
                return Err(bad(format!(
                    "`{k}` must be a list of at most 16 media types"
                )));
            }
        }
    }
    if let Some(c) = o.get("capabilities")
        && !c.is_object()
    {
        return Err(bad("`capabilities` must be an object"));
    }
    let skills = o
        .get("skills")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty() && s.len() <= MAX_SKILLS)
        .ok_or_else(|| bad(format!("`skills` must list 1..={MAX_SKILLS} skills")))?;
    let mut index = Vec::new();
    let mut ids = Vec::new();
    for s in skills {
        let s = s.as_object().ok_or_else(|| bad("a skill is an object"))?;
        let id = string(s, "id", 64)?;
        if !valid_tool_name(id) || id.len() > 64 {
            return Err(bad(format!(
                "skill id {id:?} must be 1..=64 of [A-Za-z0-9_.-]"
            )));
        }
        if ids.contains(&id) {
            return Err(bad(format!("skill id {id:?} appears twice")));
        }
        ids.push(id);
        string(s, "name", 128)?;
        string(s, "description", MAX_DESCRIPTION_BYTES)?;
        let tags = s
            .get("tags")
            .and_then(Value::as_array)
            .filter(|t| t.len() <= MAX_TAGS)
            .ok_or_else(|| {
                bad(format!(
                    "skill {id:?}: `tags` must list at most {MAX_TAGS} tags"
                ))
            })?;
        index.push(id.to_ascii_lowercase());
        for t in tags {
            let t = t
                .as_str()
                .filter(|t| !t.is_empty() && t.len() <= 64 && !t.contains('\0'))
                .ok_or_else(|| bad(format!("skill {id:?}: a tag is a string of 1..=64 bytes")))?;
            index.push(t.to_ascii_lowercase());
        }
    }
    index.sort();
    index.dedup();
    Ok(Checked {
        name: name.to_string(),
        skills: index,
    })
}

const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];

/// Checks one (sub)schema: a boolean, or an object whose known keywords are well typed.
fn schema(v: &Value, depth: usize, nodes: &mut usize) -> Result<(), String> {
    *nodes += 1;
    if *nodes > MAX_SCHEMA_NODES {
        return Err(format!("more than {MAX_SCHEMA_NODES} subschemas"));
    }
    if depth > MAX_SCHEMA_DEPTH {
        return Err(format!("nested deeper than {MAX_SCHEMA_DEPTH}"));
    }
    let o = match v {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => return Err("a schema is an object or a boolean".into()),
    };
    let sub = |v: &Value, nodes: &mut usize| schema(v, depth + 1, nodes);
    for (k, v) in o {
        let at = |why: &str| format!("`{k}` {why}");
        let check = |ok: bool, why: &str| if ok { Ok(()) } else { Err(at(why)) };
        match k.as_str() {
            "type" => {
                let ok = match v {
                    Value::String(t) => TYPES.contains(&t.as_str()),
                    Value::Array(a) => {
                        !a.is_empty()
                            && a.iter()
                                .all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t)))
                            && a.iter().enumerate().all(|(i, t)| !a[..i].contains(t))
                    }
                    _ => false,
                };
                if !ok {
                    return Err(at("must name JSON Schema types"));
                }
            }
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                let m = v
                    .as_object()
                    .ok_or_else(|| at("must be an object of schemas"))?;
                for s in m.values() {
                    sub(s, nodes)?;
                }
            }
            "items"
            | "additionalProperties"
            | "additionalItems"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedProperties"
            | "unevaluatedItems" => match v {
                // Draft 4–7 tuple form of `items`.
                Value::Array(a) if k == "items" => {
                    for s in a {
                        sub(s, nodes)?;
                    }
                }
                _ => sub(v, nodes)?,
            },
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                let a = v
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| at("must be a non-empty array of schemas"))?;
                for s in a {
                    sub(s, nodes)?;
                }
            }
            "required" => {
                let a = v
                    .as_array()
                    .ok_or_else(|| at("must be an array of strings"))?;
                if !a.iter().all(Value::is_string)
                    || a.iter().enumerate().any(|(i, x)| a[..i].contains(x))
                {
                    return Err(at("must be an array of distinct strings"));
                }
            }
            "enum" => check(v.is_array(), "must be an array")?,
            // Draft 4 writes the exclusive bounds as booleans.
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => check(
                v.is_number() || (k.starts_with("exclusive") && v.is_boolean()),
                "must be a number",
            )?,
            "multipleOf" => {
                // Positive, read from the number's text: the chain compares no floats.
                let text = v.to_string();
                let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
                let positive = v.is_number()
                    && !text.starts_with('-')
                    && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
                check(positive, "must be a number above zero")?
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
            | "maxProperties" | "minContains" | "maxContains" => {
                check(v.as_u64().is_some(), "must be a non-negative integer")?
            }
            "uniqueItems" | "readOnly" | "writeOnly" | "deprecated" => {
                check(v.is_boolean(), "must be a boolean")?
            }
            "pattern" | "format" | "$ref" | "$schema" | "$id" | "$anchor" | "$comment"
            | "title" | "description" | "contentMediaType" | "contentEncoding" => {
                check(v.is_string(), "must be a string")?
            }
            // `default`, `examples`, `const` and unknown keywords take any value.
            _ => {}
        }
    }
    Ok(())
}
