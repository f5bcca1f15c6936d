//! Generic forms of the panel: inputs, JSON snippet buttons, the form page, and posted
//! values with typed getters that explain what is wrong.

use serde::Serialize;
use std::collections::HashMap;

/// One input of a generic form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Form name.
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// `text`, `number`, `textarea`, `json`, `checkbox`, `select`, `readonly`.
    pub kind: &'static str,
    /// Current value (`"true"` checks a checkbox).
    pub value: String,
    /// Help under the input.
    pub help: &'static str,
    /// Choices of a `select`.
    pub options: Vec<String>,
}

/// Shorthand for a field.
pub fn field(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    help: &'static str,
) -> Field {
    Field {
        name,
        label,
        kind,
        value: String::new(),
        help,
        options: Vec::new(),
    }
}

/// A snippet button of a JSON field: appends `text` to the array in `field`.
#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    /// The JSON field.
    pub field: &'static str,
    /// Button text.
    pub label: &'static str,
    /// The JSON object appended.
    pub text: String,
}

/// A generic form page.
#[derive(Debug, Default, Serialize)]
pub struct FormPage {
    /// Where it posts.
    pub action: String,
    /// Inputs.
    pub fields: Vec<Field>,
    /// Validation or save error.
    pub error: Option<String>,
    /// Warning shown before saving (scoreboard rebuilds); also asked with confirm().
    pub warning: Option<String>,
    /// Delete action URL, when the row may be deleted.
    pub delete: Option<String>,
    /// Snippets for JSON fields.
    pub snippets: Vec<Snippet>,
    /// Read-only facts shown above the form.
    pub info: Vec<(String, String)>,
    /// Extra links `(label, href)`.
    pub links: Vec<(String, String)>,
}

impl FormPage {
    /// Fills the fields' values from a map (a row or the posted form).
    pub fn fill(mut self, values: &HashMap<String, String>) -> FormPage {
        for f in &mut self.fields {
            if let Some(v) = values.get(f.name) {
                f.value = v.clone();
            } else if f.kind == "checkbox" {
                f.value = String::new();
            }
        }
        self
    }
}

/// Posted form values, with typed getters that explain what is wrong.
#[derive(Debug, Clone, Default)]
pub struct Posted(pub HashMap<String, String>);

impl Posted {
    /// Text (trimmed of nothing: organizers may want spaces).
    pub fn text(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_default()
    }
    /// An integer.
    pub fn int(&self, k: &str) -> Result<i64, String> {
        let v = self.text(k);
        v.trim()
            .parse()
            .map_err(|_| format!("{k}: `{v}` is not an integer"))
    }
    /// An integer, or nothing when empty.
    pub fn opt_int(&self, k: &str) -> Result<Option<i64>, String> {
        if self.text(k).trim().is_empty() {
            Ok(None)
        } else {
            self.int(k).map(Some)
        }
    }
    /// A checkbox.
    pub fn flag(&self, k: &str) -> bool {
        self.0
            .get(k)
            .is_some_and(|v| v == "true" || v == "on" || v == "1")
    }
    /// A JSON value.
    pub fn json(&self, k: &str) -> Result<serde_json::Value, String> {
        let v = self.text(k);
        if v.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&v).map_err(|e| format!("{k}: invalid JSON: {e}"))
    }
}
