//! A tool's JSON Schemas, compiled once per manifest with a full JSON Schema validator (the
//! chain checks their shape; this checks everything, formats and patterns included), shared by
//! the provider (before it runs a call, and before it bills one) and the gateway (before it
//! pays for one).

use serde_json::Value;

/// The compiled schemas of one manifest.
pub struct Schemas {
    input: jsonschema::Validator,
    output: Option<jsonschema::Validator>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("output", &self.output.is_some())
            .finish()
    }
}

fn compile(manifest: &Value, field: &str) -> Result<Option<jsonschema::Validator>, String> {
    let Some(schema) = manifest.get(field) else {
        return Ok(None);
    };
    jsonschema::meta::validate(schema)
        .map_err(|e| format!("`{field}` is not a valid JSON Schema: {e}"))?;
    jsonschema::validator_for(schema)
        .map(Some)
        .map_err(|e| format!("`{field}` cannot be compiled: {e}"))
}

/// Up to three validation errors, with where they are.
fn errors(v: &jsonschema::Validator, instance: &Value) -> Option<String> {
    let errs: Vec<String> = v
        .iter_errors(instance)
        .take(3)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    (!errs.is_empty()).then(|| errs.join("; "))
}

impl Schemas {
    /// Compiles a tool manifest's `inputSchema` and `outputSchema`.
    pub fn compile(manifest: &Value) -> Result<Schemas, String> {
        Ok(Schemas {
            input: compile(manifest, "inputSchema")?
                .ok_or_else(|| "the tool has no `inputSchema`".to_string())?,
            output: compile(manifest, "outputSchema")?,
        })
    }

    /// Why `arguments` fail the input schema, if they do.
    pub fn check_input(&self, arguments: &Value) -> Result<(), String> {
        errors(&self.input, arguments).map_or(Ok(()), Err)
    }

    /// Why a result's structured content fails the output schema (or is missing while the
    /// tool declares one), if it does.
    pub fn check_output(&self, structured: Option<&Value>) -> Result<(), String> {
        let Some(v) = &self.output else {
            return Ok(());
        };
        let s =
            structured.ok_or("the tool declares an output schema but returned no JSON object")?;
        errors(v, s).map_or(Ok(()), Err)
    }

    /// True when the tool declares an output schema.
    pub fn has_output(&self) -> bool {
        self.output.is_some()
    }
}
