//! The Jinja stage: minijinja set up to behave like the reference's Jinja2 (`% ` line
//! statements, trailing colons, markupsafe escaping, Python's `str()`, the `box` macro).

use std::borrow::Cow;
use std::sync::OnceLock;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State};

use super::TemplateError;
use crate::state::python::{py_repr_into, py_str, PyNode, PyValue};

/// Upper bound on executed template instructions: a runaway loop fails the render
/// instead of hanging a worker.
const JINJA_FUEL: u64 = 2_000_000;

/// Runs only the Jinja stage: the Markdown source the reference would hand to Python-Markdown.
pub fn render_jinja(source: &str, group: Option<&str>, tick: i64) -> Result<String, TemplateError> {
    let env = jinja_env();
    let source = strip_statement_colons(source);
    let template = env.template_from_str(&source)?;
    let ctx = minijinja::context! { group => group, tick => tick };
    Ok(template.render(ctx)?)
}

/// Keywords after which Python's Jinja accepts (and skips) a trailing colon.
#[rustfmt::skip]
const COLON_STATEMENTS: &[&str] = &[
    "if", "elif", "else", "for", "macro", "call", "filter", "with", "block", "autoescape",
];

/// Jinja2 lets a statement body start with a colon (`% if tick >= 2000:`), minijinja
/// does not; drop that colon from line statements, keeping the line count for errors.
fn strip_statement_colons(source: &str) -> Cow<'_, str> {
    let is_colon_statement = |line: &str| {
        let Some(statement) = line
            .trim_start_matches([' ', '\t', '\u{b}'])
            .strip_prefix("% ")
        else {
            return false;
        };
        let keyword = statement
            .trim_start()
            .split(|c: char| !c.is_alphanumeric())
            .next();
        keyword.is_some_and(|k| COLON_STATEMENTS.contains(&k))
            && statement.trim_end().ends_with(':')
    };
    if !source.lines().any(is_colon_statement) {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        if is_colon_statement(line) {
            let body = line.trim_end();
            out.push_str(&body[..body.len() - 1]);
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    Cow::Owned(out)
}

fn jinja_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // The reference's jinja2.Environment uses `% ` as line statement prefix.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .line_statement_prefix("% ")
            .build()
        {
            env.set_syntax(syntax);
        }
        // Sources are anonymous strings, so escaping cannot be chosen by file extension.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(python_formatter);
        env.add_filter("escape", escape_filter);
        env.add_filter("e", escape_filter);
        env.add_filter("safe", |value: Value| {
            Value::from_safe_string(python_str(&value))
        });
        env.add_filter("string", |value: Value| {
            if value.kind() == ValueKind::String {
                value
            } else {
                Value::from(python_str(&value))
            }
        });
        env.add_function("box", box_macro);
        // Python's str/dict/list methods (`'a,b'.split(',')`, `d.items()`), as in Jinja2.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_fuel(Some(JINJA_FUEL));
        env
    })
}

/// Python's `str()` of a value, which is what Jinja2 prints (`None`, `True`, `1e+16`, ...).
/// An undefined value prints as nothing (inside a list or dict, as `None`).
fn python_str(value: &Value) -> String {
    if value.is_undefined() {
        return String::new();
    }
    py_str(value)
}

/// A template value as Python holds it.
impl PyValue for Value {
    fn node(&self) -> PyNode<'_, Self> {
        match self.kind() {
            ValueKind::None | ValueKind::Undefined => PyNode::None,
            ValueKind::Bool => PyNode::Bool(self.is_true()),
            ValueKind::String => PyNode::Str(self.as_str().unwrap_or_default().into()),
            ValueKind::Number if self.is_integer() => match i128::try_from(self.clone()) {
                Ok(i) => PyNode::Int(i),
                Err(_) => PyNode::Other(self.to_string()),
            },
            ValueKind::Number => match f64::try_from(self.clone()) {
                Ok(f) => PyNode::Float(f),
                Err(_) => PyNode::Other(self.to_string()),
            },
            ValueKind::Seq => PyNode::List(self.try_iter().into_iter().flatten().collect()),
            ValueKind::Map => PyNode::Dict(
                self.try_iter()
                    .into_iter()
                    .flatten()
                    .map(|key| {
                        let mut printed = String::new();
                        py_repr_into(&key, &mut printed, 0);
                        let item = self.get_item(&key).unwrap_or_default();
                        (printed, item)
                    })
                    .collect(),
            ),
            _ => PyNode::Other(self.to_string()),
        }
    }
}

/// Escapes like markupsafe, which differs from minijinja (`&#34;`/`&#39;`, and `/` is kept).
fn escape_markupsafe(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
}

fn python_formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    let text = python_str(value);
    if value.is_safe() || !matches!(state.auto_escape(), AutoEscape::Html) {
        return out.write_str(&text).map_err(Error::from);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    escape_markupsafe(&text, &mut escaped);
    out.write_str(&escaped).map_err(Error::from)
}

fn escape_filter(value: Value) -> Value {
    if value.is_safe() {
        return value;
    }
    let mut escaped = String::new();
    escape_markupsafe(&python_str(&value), &mut escaped);
    Value::from_safe_string(escaped)
}

/// Python's `>=` between two numbers; anything else is a TypeError there, an error here.
fn python_ge(left: &Value, right: &Value) -> Result<bool, Error> {
    if left.kind() == ValueKind::Number && right.kind() == ValueKind::Number {
        if let (Ok(l), Ok(r)) = (i64::try_from(left.clone()), i64::try_from(right.clone())) {
            return Ok(l >= r);
        }
        if let (Ok(l), Ok(r)) = (f64::try_from(left.clone()), f64::try_from(right.clone())) {
            return Ok(l >= r);
        }
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "'>=' not supported between instances of {} and {}",
            left.kind(),
            right.kind()
        ),
    ))
}

/// `{% call box(effective_after) %}…{% endcall %}`: the body in a Markdown-enabled well
/// when `group == 'staff' or tick >= effective_after`, marked `*(>=N)*` when shown early.
fn box_macro(state: &mut State, effective_after: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let caller: Value = kwargs.get("caller")?;
    kwargs.assert_all_used()?;
    let group = state.lookup("group").unwrap_or(Value::UNDEFINED);
    let tick = state.lookup("tick").unwrap_or(Value::UNDEFINED);
    let is_staff = group.as_str() == Some("staff");
    // Short-circuit like Python's `or`: staff never evaluates the comparison.
    let reached = if is_staff {
        python_ge(&tick, &effective_after).unwrap_or(false)
    } else {
        python_ge(&tick, &effective_after)?
    };
    if !is_staff && !reached {
        return Ok(Value::from_safe_string(String::new()));
    }
    let body = python_str(&caller.call(state, &[])?);
    let mut html = String::with_capacity(body.len() + 64);
    html.push_str("<div class=\"well\" markdown>\n");
    if !reached {
        // Staff sees hints before players do; the marker says from when players will.
        html.push_str("*(>=");
        escape_markupsafe(&python_str(&effective_after), &mut html);
        html.push_str(")*\n\n");
    }
    html.push_str(&body);
    html.push_str("\n</div>");
    Ok(Value::from_safe_string(html))
}
