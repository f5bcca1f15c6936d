//! Python's `str()` and `repr()` (floats and strings included) and `obj[key]`, as the
//! reference prints values in f-strings, exception messages (profile badges) and Jinja2
//! output (templates). One walker serves every value type through [`PyValue`].

use serde_json::Value;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// `obj[key]` in Python: the value, or the `repr()` of the exception it raises.
pub(crate) fn py_index<'v>(obj: &'v Value, key: &str) -> Result<&'v Value, String> {
    match obj {
        Value::Object(map) => map
            .get(key)
            .ok_or_else(|| format!("KeyError({})", py_repr_str(key))),
        Value::String(_) => Err(format!(
            "TypeError({})",
            py_repr_str("string indices must be integers, not 'str'")
        )),
        Value::Array(_) => Err(format!(
            "TypeError({})",
            py_repr_str("list indices must be integers or slices, not str")
        )),
        other => {
            let ty = match other {
                Value::Null => "NoneType",
                Value::Bool(_) => "bool",
                Value::Number(n) if n.is_f64() => "float",
                _ => "int",
            };
            Err(format!(
                "TypeError({})",
                py_repr_str(&format!("'{ty}' object is not subscriptable"))
            ))
        }
    }
}

/// What Python's `repr()` needs to know of one value.
pub(crate) enum PyNode<'a, T> {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer, printed in full.
    Int(i128),
    /// A float (shortest digits, Python's exponent rules).
    Float(f64),
    /// A string.
    Str(std::borrow::Cow<'a, str>),
    /// A list.
    List(Vec<T>),
    /// A dict in order: each key already printed (its `repr()`), and its value.
    Dict(Vec<(String, T)>),
    /// Anything else, printed as given.
    Other(String),
}

/// A value that Python's `str()`/`repr()` can print.
pub(crate) trait PyValue: Sized {
    /// The value's shape.
    fn node(&self) -> PyNode<'_, Self>;
}

/// Deeper containers print as `...`, as Python prints a recursive one.
const MAX_DEPTH: usize = 32;

/// Python `repr()` of a value, appended to `out`.
pub(crate) fn py_repr_into<V: PyValue>(value: &V, out: &mut String, depth: usize) {
    match value.node() {
        PyNode::None => out.push_str("None"),
        PyNode::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        PyNode::Int(i) => out.push_str(&i.to_string()),
        PyNode::Float(f) => out.push_str(&py_float_repr(f)),
        PyNode::Str(s) => out.push_str(&py_repr_str(&s)),
        PyNode::Other(s) => out.push_str(&s),
        PyNode::List(_) | PyNode::Dict(_) if depth >= MAX_DEPTH => out.push_str("..."),
        PyNode::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr_into(item, out, depth + 1);
            }
            out.push(']');
        }
        PyNode::Dict(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push_str(": ");
                py_repr_into(item, out, depth + 1);
            }
            out.push('}');
        }
    }
}

/// Python `str()` of a value: a string as it is, anything else as its `repr()`.
pub(crate) fn py_str<V: PyValue>(value: &V) -> String {
    let mut out = String::new();
    match value.node() {
        PyNode::Str(s) => out.push_str(&s),
        _ => py_repr_into(value, &mut out, 0),
    }
    out
}

/// A JSON value as Python holds it after `json.loads`.
impl PyValue for &Value {
    fn node(&self) -> PyNode<'_, Self> {
        match self {
            Value::Null => PyNode::None,
            Value::Bool(b) => PyNode::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => PyNode::Int(i.into()),
                (_, Some(u), _) => PyNode::Int(u.into()),
                (_, _, Some(f)) => PyNode::Float(f),
                _ => PyNode::Other(n.to_string()),
            },
            Value::String(s) => PyNode::Str(s.as_str().into()),
            Value::Array(items) => PyNode::List(items.iter().collect()),
            Value::Object(map) => PyNode::Dict(
                map.iter()
                    .map(|(key, item)| (py_repr_str(key), item))
                    .collect(),
            ),
        }
    }
}

/// Python `repr()` of a float: shortest digits, exponent form outside 1e-4 ..< 1e16.
pub(crate) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let plain = format!("{f}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// Python `repr()` of a string: quote choice and escapes of non-printable characters
/// (shared with the template engine, which prints Python-style lists and dicts).
pub(crate) fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if py_printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// Python `str.isprintable()` for one character.
fn py_printable(c: char) -> bool {
    use GeneralCategory::*;
    c == ' '
        || !matches!(
            c.general_category(),
            Control
                | Format
                | Surrogate
                | PrivateUse
                | Unassigned
                | LineSeparator
                | ParagraphSeparator
                | SpaceSeparator
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(
            py_repr_str("\u{7f}\u{a0}\u{200b}\t典"),
            "'\\x7f\\xa0\\u200b\\t典'"
        );
        assert_eq!(py_repr_str("\u{e0061}"), "'\\U000e0061'");
        for (f, s) in [
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (1e300, "1e+300"),
            (2.5, "2.5"),
            (123456789.125, "123456789.125"),
        ] {
            assert_eq!(py_float_repr(f), s);
        }
    }

    #[test]
    fn json_values_print_as_python_prints_them() {
        let v = json!([1, "a'b", null, true, {"k": 1.0, "n": [1e16, 2.5e-5]}, u64::MAX]);
        assert_eq!(
            py_str(&&v),
            "[1, \"a'b\", None, True, {'k': 1.0, 'n': [1e+16, 2.5e-05]}, 18446744073709551615]"
        );
        assert_eq!(py_str(&&json!("plain")), "plain");
        assert_eq!(py_str(&&json!(-0.0)), "-0.0");
    }

    #[test]
    fn deep_containers_stop() {
        let mut v = json!(1);
        for _ in 0..40 {
            v = json!([v]);
        }
        let printed = py_str(&&v);
        assert!(printed.starts_with(&"[".repeat(MAX_DEPTH)), "{printed}");
        assert!(printed.contains("..."), "{printed}");
    }
}
