//! Renders challenge descriptions, announcements and site pages as the reference does:
//! Jinja (`% ` line statements, autoescape, `box`), then Markdown in Python-Markdown's dialect.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State};
use pulldown_cmark::{Alignment, CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// HTML the reference shows in place of a template that failed to render.
pub const FAILURE_HTML: &str = "<i>（模板渲染失败）</i>";

/// Why a template could not be rendered (the Jinja stage is the only one that can fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    message: String,
}

impl TemplateError {
    /// The human-readable reason, with the template line where the engine knows it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template render failed: {}", self.message)
    }
}

impl std::error::Error for TemplateError {}

impl From<Error> for TemplateError {
    fn from(err: Error) -> Self {
        // The Display of a minijinja error already carries kind, detail and location;
        // the source chain adds the error raised inside `box` or a filter, if any.
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        TemplateError { message }
    }
}

/// Renders a Jinja+Markdown template for a viewer's group at a tick.
pub fn render(source: &str, group: Option<&str>, tick: i64) -> Result<String, TemplateError> {
    let markdown = render_jinja(source, group, tick)?;
    Ok(markdown_to_html(&markdown))
}

/// Same, but a failure becomes the reference's failure HTML plus the error text.
pub fn render_or_placeholder(
    source: &str,
    group: Option<&str>,
    tick: i64,
) -> (String, Option<String>) {
    match render(source, group, tick) {
        Ok(html) => (html, None),
        Err(err) => (FAILURE_HTML.to_owned(), Some(err.to_string())),
    }
}

// ---------------------------------------------------------------------------
// Jinja stage
// ---------------------------------------------------------------------------

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

/// Python's `str()` of a value, which is what Jinja2 prints (`None`, `True`, ...).
fn python_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        ValueKind::Undefined => String::new(),
        _ => {
            let mut out = String::new();
            python_repr(value, &mut out, 0);
            out
        }
    }
}

/// Python's `repr()`, for values inside printed lists and dicts.
fn python_repr(value: &Value, out: &mut String, depth: usize) {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::String => {
            out.push_str(&super::profile::py_repr_str(
                value.as_str().unwrap_or_default(),
            ));
        }
        ValueKind::Seq if depth < 32 => {
            out.push('[');
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&item, out, depth + 1);
            }
            out.push(']');
        }
        ValueKind::Map if depth < 32 => {
            out.push('{');
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&key, out, depth + 1);
                out.push_str(": ");
                python_repr(&value.get_item(&key).unwrap_or_default(), out, depth + 1);
            }
            out.push('}');
        }
        _ => out.push_str(&value.to_string()),
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

// ---------------------------------------------------------------------------
// Markdown stage
// ---------------------------------------------------------------------------

/// Converts Markdown to HTML the way the reference's Python-Markdown setup does.
///
/// CommonMark (pulldown-cmark) parses the blocks; Python-Markdown's preprocessors are
/// emulated around it: fenced code and raw HTML blocks are cut out first (raw HTML runs
/// until its closing tag, not until a blank line), `markdown`-attributed blocks are
/// rendered recursively, and the HTML is written with Python-Markdown's line breaks.
pub fn markdown_to_html(source: &str) -> String {
    let text = normalize_whitespace(source);
    if text.trim().is_empty() {
        return String::new();
    }
    let mut stash = Vec::new();
    let text = stash_fenced_code(&text, &mut stash);
    let html = render_blocks(&text, &mut stash, 0);
    html.trim().to_owned()
}

/// Nesting limit for `markdown` blocks inside `markdown` blocks; deeper ones stay raw.
const MAX_MD_DEPTH: usize = 16;
/// The HTML-comment placeholder that stands for a stashed fragment. Like Python-Markdown's
/// it holds STX/ETX, which are stripped from the input, so a template cannot forge one.
const STASH_PREFIX: &str = "<!--\u{2}gs-md-stash-";
const STASH_SUFFIX: &str = "\u{3}-->";
/// An empty inline tag put before a line so CommonMark reads it as paragraph text, as
/// Python-Markdown does, instead of an HTML block; the writer drops it.
const PARA_MARK: &str = "<gs-md-para/>";

fn placeholder(index: usize) -> String {
    format!("{STASH_PREFIX}{index}{STASH_SUFFIX}")
}

fn placeholder_index(html: &str) -> Option<usize> {
    html.trim()
        .strip_prefix(STASH_PREFIX)?
        .strip_suffix(STASH_SUFFIX)?
        .parse()
        .ok()
}

/// Python-Markdown's NormalizeWhitespace: unify newlines, expand tabs to 4 columns,
/// empty the lines that hold only spaces.
fn normalize_whitespace(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 2);
    let source = source.replace("\r\n", "\n").replace('\r', "\n");
    for (i, line) in source.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let start = out.len();
        let mut col = 0usize;
        for ch in line.chars() {
            match ch {
                '\u{2}' | '\u{3}' => {}
                '\t' => {
                    let n = 4 - col % 4;
                    out.extend(std::iter::repeat_n(' ', n));
                    col += n;
                }
                _ => {
                    out.push(ch);
                    col += 1;
                }
            }
        }
        if out[start..].bytes().all(|b| b == b' ') {
            out.truncate(start);
        }
    }
    out.push_str("\n\n");
    out
}

// --- fenced code -----------------------------------------------------------

struct FenceOpen<'a> {
    fence: &'a str,
    lang: Option<String>,
}

fn is_lang_char(ch: char) -> bool {
    ch.is_alphanumeric() || matches!(ch, '_' | '#' | '.' | '+' | '-')
}

/// Matches the opening line of Python-Markdown's FENCED_BLOCK_RE (fence at column 0).
fn parse_fence_open(line: &str) -> Option<FenceOpen<'_>> {
    let first = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = line.bytes().take_while(|b| char::from(*b) == first).count();
    if n < 3 {
        return None;
    }
    let (fence, rest) = line.split_at(n);
    let rest = rest.trim_start_matches(' ');
    if let Some(attrs) = rest.strip_prefix('{') {
        // `{.lang .class #id key=value}`: the first class names the language.
        let attrs = attrs.strip_suffix('}')?;
        if attrs.contains('}') {
            return None;
        }
        let lang = attrs
            .split_whitespace()
            .find_map(|a| a.strip_prefix('.'))
            .map(str::to_owned);
        return Some(FenceOpen { fence, lang });
    }
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let lang_len: usize = rest
        .chars()
        .take_while(|c| is_lang_char(*c))
        .map(char::len_utf8)
        .sum();
    let (lang, rest) = rest.split_at(lang_len);
    let mut rest = rest.trim_start_matches(' ');
    if let Some(hl) = rest.strip_prefix("hl_lines=") {
        let quote = hl.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let body = &hl[1..];
        let close = body.find(quote)?;
        rest = body[close + 1..].trim_start_matches(' ');
    }
    if !rest.is_empty() {
        return None;
    }
    let lang = (!lang.is_empty()).then(|| lang.to_owned());
    Some(FenceOpen { fence, lang })
}

/// The fence a line could close: its run of backticks or tildes, when only spaces follow.
fn closing_fence(line: &str) -> Option<&str> {
    let first = line.bytes().next().filter(|b| *b == b'`' || *b == b'~')?;
    let n = line.bytes().take_while(|b| *b == first).count();
    (n >= 3 && line.as_bytes()[n..].iter().all(|b| *b == b' ')).then(|| &line[..n])
}

/// Replaces every complete fenced block with a stashed, highlighted `codehilite` block.
fn stash_fenced_code(text: &str, stash: &mut Vec<String>) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    // Lines that can close each fence, so unclosed openers cost a lookup, not a rescan.
    let mut closers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, line) in lines.iter().enumerate() {
        if let Some(fence) = closing_fence(line) {
            closers.entry(fence).or_default().push(index);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        if let Some(open) = parse_fence_open(lines[i]) {
            let close = closers.get(open.fence).and_then(|found| {
                let next = found.partition_point(|&j| j <= i);
                found.get(next).copied()
            });
            if let Some(j) = close {
                let mut code = String::new();
                for line in &lines[i + 1..j] {
                    code.push_str(line);
                    code.push('\n');
                }
                let html = highlight_block(&code, open.lang.as_deref(), false);
                out.push('\n');
                out.push_str(&placeholder(stash.len()));
                out.push_str("\n\n");
                stash.push(html);
                i = j + 1;
                continue;
            }
        }
        out.push_str(lines[i]);
        if i + 1 < lines.len() {
            out.push('\n');
        }
        i += 1;
    }
    out
}

// --- raw HTML and `markdown` blocks ----------------------------------------

/// Python-Markdown's block-level elements: at a line start they open a raw HTML block
/// (or, with a `markdown` attribute, a Markdown one).
#[rustfmt::skip]
const BLOCK_LEVEL_TAGS: &[&str] = &[
    "address", "article", "aside", "blockquote", "body", "canvas", "center", "colgroup", "dd",
    "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "group",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "iframe", "legend",
    "li", "main", "map", "math", "menu", "nav", "noscript", "object", "ol", "option", "output",
    "p", "pre", "progress", "script", "section", "style", "summary", "table", "tbody", "td",
    "textarea", "tfoot", "th", "thead", "tr", "ul", "video",
];

/// md_in_html: tags whose content gets only inline Markdown.
#[rustfmt::skip]
const SPAN_TAGS: &[&str] = &[
    "address", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "legend", "li", "p", "summary",
    "td", "th",
];

/// md_in_html: block-level tags whose content is never parsed.
#[rustfmt::skip]
const MD_RAW_TAGS: &[&str] = &["canvas", "math", "option", "pre", "script", "style", "textarea"];

/// Tags that open a CommonMark type-6 HTML block (the ones Python-Markdown may not).
#[rustfmt::skip]
const COMMONMARK_BLOCK_TAGS: &[&str] = &[
    "address", "article", "aside", "base", "basefont", "blockquote", "body", "caption", "center",
    "col", "colgroup", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5",
    "h6", "head", "header", "hr", "html", "iframe", "legend", "li", "link", "main", "menu",
    "menuitem", "nav", "noframes", "ol", "optgroup", "option", "p", "param", "pre", "script",
    "search", "section", "style", "summary", "table", "tbody", "td", "textarea", "tfoot", "th",
    "thead", "title", "tr", "track", "ul",
];

fn is_block_level(tag: &str) -> bool {
    BLOCK_LEVEL_TAGS.contains(&tag)
}

/// A parsed start tag.
struct StartTag {
    name: String,
    attrs: Vec<(String, Option<String>)>,
    /// Byte offset just past the closing `>`.
    end: usize,
    self_closing: bool,
}

fn is_tag_name_char(b: u8) -> bool {
    !matches!(
        b,
        b'\t' | b'\n' | b'\r' | b'\x0c' | b' ' | b'/' | b'>' | b'\0'
    )
}

/// Parses `<name attr=value ...>` at `pos` leniently, like Python's html.parser.
fn parse_start_tag(text: &str, pos: usize) -> Option<StartTag> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'<') || !bytes.get(pos + 1)?.is_ascii_alphabetic() {
        return None;
    }
    let mut i = pos + 1;
    while i < bytes.len() && is_tag_name_char(bytes[i]) {
        i += 1;
    }
    let name = text.get(pos + 1..i)?.to_ascii_lowercase();
    let mut attrs = Vec::new();
    loop {
        while i < bytes.len()
            && (bytes[i].is_ascii_whitespace()
                || (bytes[i] == b'/' && bytes.get(i + 1) != Some(&b'>')))
        {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => {
                return Some(StartTag {
                    name,
                    attrs,
                    end: i + 1,
                    self_closing: false,
                });
            }
            b'/' => {
                return Some(StartTag {
                    name,
                    attrs,
                    end: i + 2,
                    self_closing: true,
                });
            }
            _ => {}
        }
        let name_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'/' | b'=' | b'>')
        {
            i += 1;
        }
        if i == name_start {
            // A stray `=`: html.parser skips it as junk.
            i += 1;
            continue;
        }
        let attr_name = text.get(name_start..i)?.to_ascii_lowercase();
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            attrs.push((attr_name, None));
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let value = match bytes.get(j)? {
            quote @ (b'"' | b'\'') => {
                let close = text.get(j + 1..)?.find(char::from(*quote))? + j + 1;
                let value = text.get(j + 1..close)?.to_owned();
                j = close + 1;
                value
            }
            _ => {
                let start = j;
                while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b'>' {
                    j += 1;
                }
                text.get(start..j)?.to_owned()
            }
        };
        attrs.push((attr_name, Some(value)));
        i = j;
    }
}

/// Parses `</name ...>` at `pos`: the lowercased name and the offset past `>`.
fn parse_end_tag(text: &str, pos: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    if !text.get(pos..)?.starts_with("</") || !bytes.get(pos + 2)?.is_ascii_alphabetic() {
        return None;
    }
    let mut i = pos + 2;
    while i < bytes.len() && is_tag_name_char(bytes[i]) {
        i += 1;
    }
    let name = text.get(pos + 2..i)?.to_ascii_lowercase();
    let close = text.get(i..)?.find('>')? + i;
    Some((name, close + 1))
}

/// The offset past a comment, declaration or processing instruction starting at `pos`.
fn skip_markup_decl(text: &str, pos: usize) -> Option<usize> {
    let rest = text.get(pos..)?;
    let (close, skip) = if rest.starts_with("<!--") {
        ("-->", 4)
    } else if rest.starts_with("<![") {
        ("]>", 3)
    } else if rest.starts_with("<!") {
        (">", 2)
    } else if rest.starts_with("<?") {
        ("?>", 2)
    } else {
        return None;
    };
    Some(pos + skip + rest.get(skip..)?.find(close)? + close.len())
}

/// Skips the content of `<script>`/`<style>`, which html.parser reads as plain text.
fn skip_cdata(text: &str, from: usize, tag: &str) -> usize {
    let bytes = text.as_bytes();
    let mut pos = from;
    while let Some(offset) = text.get(pos..).and_then(|rest| rest.find("</")) {
        let at = pos + offset;
        let name = bytes.get(at + 2..at + 2 + tag.len());
        if name.is_some_and(|n| n.eq_ignore_ascii_case(tag.as_bytes())) {
            return at;
        }
        pos = at + 2;
    }
    text.len()
}

/// Where an element ends: `(start of its end tag, offset past it)`; `None` if unclosed.
///
/// `only_block` follows md_in_html, whose stack holds only block-level tags; the raw
/// extractor stacks every tag. Both close by popping up to the matching open tag.
fn find_element_end(
    text: &str,
    from: usize,
    open: &str,
    only_block: bool,
) -> Option<(usize, usize)> {
    let mut stack = TagStack::default();
    stack.push(open);
    let mut pos = from;
    while let Some(offset) = text.get(pos..).and_then(|rest| rest.find('<')) {
        let at = pos + offset;
        if let Some(end) = skip_markup_decl(text, at) {
            pos = end;
        } else if let Some((name, end)) = parse_end_tag(text, at) {
            if stack.pop_to(&name) && stack.is_empty() {
                return Some((at, end));
            }
            pos = end;
        } else if let Some(tag) = parse_start_tag(text, at) {
            pos = tag.end;
            let stacked = !only_block || is_block_level(&tag.name);
            // html.parser closes an open <p> when another block starts.
            if only_block && stacked && stack.pop_to("p") && stack.is_empty() {
                return Some((at, at));
            }
            if stacked && !tag.self_closing && tag.name != "hr" {
                stack.push(&tag.name);
            }
            if tag.name == "script" || tag.name == "style" {
                pos = skip_cdata(text, pos, &tag.name);
            }
        } else {
            pos = at + 1;
        }
    }
    None
}

/// Open tags, with a count per name so a stray end tag is rejected without a scan
/// (thousands of unclosed tags must not make the extraction quadratic).
#[derive(Default)]
struct TagStack {
    tags: Vec<String>,
    counts: HashMap<String, usize>,
}

impl TagStack {
    fn push(&mut self, name: &str) {
        self.tags.push(name.to_owned());
        *self.counts.entry(name.to_owned()).or_default() += 1;
    }

    /// Pops up to and including the innermost `name`; false if it is not open.
    fn pop_to(&mut self, name: &str) -> bool {
        if self.counts.get(name).copied().unwrap_or(0) == 0 {
            return false;
        }
        while let Some(top) = self.tags.pop() {
            if let Some(count) = self.counts.get_mut(&top) {
                *count = count.saturating_sub(1);
            }
            if top == name {
                return true;
            }
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

/// How md_in_html treats an element's content, from its tag and `markdown` attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MdState {
    Block,
    Span,
    Off,
}

fn md_state(tag: &StartTag) -> Option<MdState> {
    let attr = tag.attrs.iter().find(|(name, _)| name == "markdown")?;
    let value = attr.1.as_deref().unwrap_or("1");
    let name = tag.name.as_str();
    let span = SPAN_TAGS.contains(&name);
    // md_in_html's block tags: the block-level ones that are neither span, raw nor empty.
    let block = is_block_level(name) && !span && !MD_RAW_TAGS.contains(&name) && name != "hr";
    Some(match value {
        "1" | "markdown" if block => MdState::Block,
        "block" if span || block => MdState::Block,
        "1" | "markdown" if span => MdState::Span,
        "span" if span || block => MdState::Span,
        _ => MdState::Off,
    })
}

fn escape_attr(value: &str, out: &mut String) {
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
}

/// The element's start tag re-serialized without `markdown`, as etree would write it.
fn serialize_start_tag(tag: &StartTag) -> String {
    let mut out = format!("<{}", tag.name);
    for (name, value) in tag.attrs.iter().filter(|(name, _)| name != "markdown") {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_attr(value.as_deref().unwrap_or(name), &mut out);
        out.push('"');
    }
    out.push('>');
    out
}

/// A block cut out of the Markdown text.
struct Extracted {
    html: String,
    end: usize,
}

/// Tries to read a raw HTML or `markdown` block starting at `pos`.
fn extract_block(
    text: &str,
    pos: usize,
    stash: &mut Vec<String>,
    depth: usize,
) -> Option<Extracted> {
    if let Some(end) = skip_markup_decl(text, pos) {
        return Some(Extracted {
            html: text.get(pos..end)?.to_owned(),
            end,
        });
    }
    let tag = parse_start_tag(text, pos)?;
    let name = tag.name.as_str();
    let state = md_state(&tag).filter(|s| *s != MdState::Off && depth < MAX_MD_DEPTH);
    if let Some(state) = state {
        let (inner_end, end) = if tag.self_closing {
            (tag.end, tag.end)
        } else {
            find_element_end(text, tag.end, name, true).unwrap_or((text.len(), text.len()))
        };
        let inner = text.get(tag.end..inner_end).unwrap_or_default();
        let mut html = serialize_start_tag(&tag);
        let rendered = render_blocks(inner, stash, depth + 1);
        let rendered = rendered.trim();
        if state == MdState::Span {
            // Inline-only content: Python-Markdown does not wrap it in a paragraph.
            let unwrapped = rendered
                .strip_prefix("<p>")
                .and_then(|r| r.strip_suffix("</p>"))
                .filter(|r| !r.contains("<p>"));
            html.push_str(unwrapped.unwrap_or(rendered));
        } else {
            html.push('\n');
            if !rendered.is_empty() {
                html.push_str(rendered);
                html.push('\n');
            }
        }
        html.push_str("</");
        html.push_str(name);
        html.push('>');
        return Some(Extracted { html, end });
    }
    if !is_block_level(name) {
        return None;
    }
    if tag.self_closing || name == "hr" {
        return Some(Extracted {
            html: text.get(pos..tag.end)?.to_owned(),
            end: tag.end,
        });
    }
    let mut from = tag.end;
    if name == "script" || name == "style" {
        from = skip_cdata(text, from, name);
    }
    // An unclosed raw block runs to the end of the document, as in Python-Markdown.
    let end = find_element_end(text, from, name, false).map_or(text.len(), |(_, end)| end);
    Some(Extracted {
        html: text.get(pos..end)?.to_owned(),
        end,
    })
}

/// True if CommonMark would open an HTML block on this line where Python-Markdown reads text.
fn commonmark_would_open_html(line: &str, prev_blank: bool) -> bool {
    let lower_name = |start: usize| -> String {
        line.get(start..)
            .unwrap_or_default()
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect()
    };
    let name = if line.starts_with("</") {
        lower_name(2)
    } else {
        lower_name(1)
    };
    if name.is_empty() {
        return false;
    }
    if COMMONMARK_BLOCK_TAGS.contains(&name.as_str()) {
        return true;
    }
    // Type 7: a lone complete tag after a blank line.
    let lone_tag = if line.starts_with("</") {
        parse_end_tag(line, 0).is_some_and(|(_, end)| line[end..].trim().is_empty())
    } else {
        parse_start_tag(line, 0).is_some_and(|tag| line[tag.end..].trim().is_empty())
    };
    prev_blank && lone_tag
}

/// Cuts raw HTML and `markdown` blocks out of the text into the stash (Python-Markdown's
/// HtmlBlockPreprocessor with md_in_html), leaving placeholders on their own lines, and
/// adapts the remaining lines where Python-Markdown's block rules differ from CommonMark.
fn extract_html_blocks(text: &str, stash: &mut Vec<String>, depth: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    // After a block's end tag the rest of its line may open another block (`intail`).
    let mut in_tail = false;
    let mut lines = LineAdapter::default();
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |p| pos + p);
        let line = &text[pos..line_end];
        let indent = line.len() - line.trim_start_matches(' ').len();
        let start = pos + indent;
        if lines.block == Block::Code && indent < 4 && !line.trim().is_empty() {
            // A less indented line ends an indented code block.
            lines.block = Block::None;
        }
        if (indent <= 3 || in_tail) && line[indent..].starts_with('<') {
            if let Some(extracted) = extract_block(text, start, stash, depth) {
                if !out.is_empty() && !out.ends_with("\n\n") {
                    out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
                }
                out.push_str(&placeholder(stash.len()));
                out.push_str("\n\n");
                stash.push(extracted.html);
                let rest_end = text[extracted.end..]
                    .find('\n')
                    .map_or(text.len(), |p| extracted.end + p);
                if text[extracted.end..rest_end].trim().is_empty() {
                    pos = (rest_end + 1).min(text.len());
                    in_tail = false;
                } else {
                    pos = extracted.end;
                    in_tail = true;
                }
                lines = LineAdapter::default();
                continue;
            }
        }
        let line = if in_tail { line.trim_start() } else { line };
        let next_line = text
            .get(line_end + 1..)
            .and_then(|rest| rest.split('\n').next());
        // Python-Markdown's table processor runs before headings, lists and quotes, and
        // looks at the whole blank-line-separated chunk.
        let table = lines.block == Block::None && line.contains('|') && {
            let rest = text.get(line_end + 1..).unwrap_or_default();
            let chunk: Vec<&str> = std::iter::once(line)
                .chain(rest.split('\n').take_while(|l| !l.trim().is_empty()))
                .collect();
            python_is_table(&chunk)
        };
        let setext = next_line.is_some_and(is_setext_underline);
        out.push_str(&lines.adapt(line, table, setext));
        out.push('\n');
        pos = line_end + 1;
        in_tail = false;
    }
    out
}

/// Tracks the block context line by line. Quoted content, and a list item's content
/// indented after a blank line, have a context of their own: Python-Markdown parses
/// each as a document of its own.
#[derive(Default)]
struct LineAdapter {
    block: Block,
    quote_inner: Block,
    /// Content column of the last top-level list item, for re-indenting its content.
    list_col: usize,
    /// A blank line followed a list: lines indented 4+ continue its last item.
    after_list: bool,
    list_inner: Block,
}

impl LineAdapter {
    fn adapt<'a>(&mut self, line: &'a str, table: bool, setext: bool) -> Cow<'a, str> {
        let indent = leading_spaces(line);
        if line.trim().is_empty() {
            self.after_list = matches!(self.block, Block::List { .. } | Block::ListContent)
                || (self.after_list && self.block == Block::None);
            self.block = Block::None;
            self.list_inner = Block::None;
            return Cow::Borrowed(line);
        }
        if self.block == Block::Quote {
            if indent <= 3 && line[indent..].starts_with('>') {
                let after = &line[indent + 1..];
                let content = after.strip_prefix(' ').unwrap_or(after);
                let prefix = &line[..line.len() - content.len()];
                let (adapted, inner) = adapt_line(content, self.quote_inner);
                self.quote_inner = inner;
                return Cow::Owned(format!("{prefix}{adapted}"));
            }
            // A lazy line belongs to the quote too.
            let (adapted, inner) = adapt_line(line, self.quote_inner);
            self.quote_inner = inner;
            return adapted;
        }
        if self.block == Block::None && self.after_list && indent >= 4 {
            self.block = Block::ListContent;
        }
        if self.block == Block::ListContent {
            // Python-Markdown removes 4 spaces and parses the rest inside the item;
            // CommonMark wants it at the item's content column instead.
            let content = if indent >= 4 { &line[4..] } else { line };
            let (adapted, inner) = adapt_line(content, self.list_inner);
            self.list_inner = inner;
            return Cow::Owned(format!("{}{adapted}", " ".repeat(self.list_col)));
        }
        self.after_list = false;
        let block_in = if self.block != Block::None {
            self.block
        } else if table {
            Block::TableStart
        } else if setext && indent < 4 && !line.starts_with('#') {
            Block::SetextText
        } else {
            Block::None
        };
        let (adapted, next) = adapt_line(line, block_in);
        if next == Block::Quote && self.block != Block::Quote {
            self.block = Block::Quote;
            self.quote_inner = Block::None;
            return self.adapt(line, false, false);
        }
        if let (Block::List { .. }, Some(col)) = (next, list_content_col(line)) {
            self.list_col = col;
        }
        self.block = next;
        adapted
    }
}

/// CommonMark's content column of a list item line: marker, then 1 to 4 spaces.
fn list_content_col(line: &str) -> Option<usize> {
    let (marker, _) = list_marker(line)?;
    let after = marker + 1;
    let spaces = line.as_bytes()[after..]
        .iter()
        .take_while(|b| **b == b' ')
        .count();
    Some(after + if spaces > 4 { 1 } else { spaces })
}

/// What the current run of non-blank lines is, as far as Python-Markdown's block
/// processors (which look at the start of each blank-line-separated chunk) care.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Block {
    #[default]
    None,
    /// The first line of a paragraph (a delimiter row after it would make a GFM table).
    ParaStart,
    Para,
    /// Given for a chunk's first line when Python-Markdown's table test passed for it.
    TableStart,
    /// Given for a chunk's first line when a setext underline follows: Python-Markdown
    /// makes a heading of it before it looks for lists or quotes.
    SetextText,
    /// After a table's header row: its delimiter row comes next.
    TableHeader,
    Table,
    List {
        ordered: bool,
    },
    /// A list item's content indented after a blank line.
    ListContent,
    Quote,
    Code,
}

fn leading_spaces(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Python-Markdown's list item start, `[*+-] ` or `\d+\. ` indented at most 3 spaces:
/// the byte offset of the marker's last character, and whether the list is ordered.
fn list_marker(line: &str) -> Option<(usize, bool)> {
    let indent = leading_spaces(line);
    if indent > 3 {
        return None;
    }
    let rest = &line.as_bytes()[indent..];
    let (marker, ordered) = match rest.first()? {
        b'*' | b'+' | b'-' => (indent, false),
        b'0'..=b'9' => {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if rest.get(digits) != Some(&b'.') {
                return None;
            }
            (indent + digits, true)
        }
        _ => return None,
    };
    (rest.get(marker - indent + 1) == Some(&b' ')).then_some((marker, ordered))
}

/// CommonMark's `1)` list marker, which Python-Markdown never reads as a list.
fn is_paren_item(line: &str) -> bool {
    let indent = leading_spaces(line);
    let rest = &line.as_bytes()[indent..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let ok = indent <= 3
        && (1..=9).contains(&digits)
        && rest.get(digits) == Some(&b')')
        && matches!(rest.get(digits + 1), None | Some(b' '));
    ok
}

/// A CommonMark code fence opener (Python-Markdown's complete fences are already stashed).
fn is_fence_line(line: &str) -> bool {
    let indent = leading_spaces(line);
    let rest = &line[indent..];
    let Some(first) = rest.bytes().next().filter(|b| *b == b'`' || *b == b'~') else {
        return false;
    };
    let run = rest.bytes().take_while(|b| *b == first).count();
    indent <= 3 && run >= 3 && (first == b'~' || !rest[run..].contains('`'))
}

fn is_rule(line: &str) -> bool {
    let trimmed = line.trim();
    let Some(first) = trimmed
        .chars()
        .next()
        .filter(|c| matches!(c, '-' | '*' | '_'))
    else {
        return false;
    };
    leading_spaces(line) <= 3
        && trimmed.chars().all(|c| c == first || c == ' ')
        && trimmed.chars().filter(|c| *c == first).count() >= 3
}

/// Python-Markdown's setext underline: `=` and `-` only, then optional spaces.
fn is_setext_underline(line: &str) -> bool {
    let trimmed = line.trim_end_matches(' ');
    !trimmed.is_empty() && trimmed.bytes().all(|b| b == b'=' || b == b'-')
}

/// Marks a line that would open a block (list item, quote, heading, rule, fence, HTML)
/// so that CommonMark reads it as the text of a paragraph or heading.
fn mark_block_start(line: &str) -> Cow<'_, str> {
    let indent = leading_spaces(line);
    if indent <= 3 && (commonmark_would_open_html(&line[indent..], true) || opens_block(line)) {
        mark_line(line)
    } else {
        Cow::Borrowed(line)
    }
}

/// Whether CommonMark opens a block other than HTML on this line.
fn opens_block(line: &str) -> bool {
    let indent = leading_spaces(line);
    let rest = &line[indent..];
    indent <= 3
        && (is_rule(line)
            || is_setext_underline(rest)
            || rest.starts_with('>')
            || is_atx(rest)
            || is_fence_line(line)
            || is_paren_item(line)
            || list_marker(line).is_some())
}

/// A GFM table delimiter row such as `|---|:--:|`.
fn is_delimiter_row(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.contains('-')
        && (trimmed.contains('|') || trimmed.contains(':'))
        && trimmed.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// An ATX heading line (`#` to `######` then a space or the end).
fn is_atx(text: &str) -> bool {
    let hashes = text.bytes().take_while(|b| *b == b'#').count();
    (1..=6).contains(&hashes) && matches!(text.as_bytes().get(hashes), None | Some(b' '))
}

/// Puts the paragraph mark after the indentation: CommonMark then sees text where it
/// would open a block, and unlike a backslash the mark also vanishes inside code spans.
fn mark_line(line: &str) -> Cow<'_, str> {
    let indent = leading_spaces(line);
    Cow::Owned(format!("{}{PARA_MARK}{}", &line[..indent], &line[indent..]))
}

/// Characters a backslash escapes in Python-Markdown (with the tables extension's `|`).
fn python_escapable(ch: char) -> bool {
    matches!(
        ch,
        '\\' | '`'
            | '*'
            | '_'
            | '{'
            | '}'
            | '['
            | ']'
            | '('
            | ')'
            | '>'
            | '#'
            | '+'
            | '-'
            | '.'
            | '!'
            | '|'
    )
}

/// Byte ranges of the code spans in a line: a backtick run up to the next run of the
/// same length. One pass plus a lookup per run, so long lines stay linear.
fn code_spans(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
            // A backslash escapes the first backtick only; the rest is still a run.
            let escaped = usize::from(i > 0 && bytes[i - 1] == b'\\');
            if run > escaped {
                runs.push((i + escaped, run - escaped));
            }
            i += run;
        } else {
            i += 1;
        }
    }
    let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, (_, len)) in runs.iter().enumerate() {
        by_len.entry(*len).or_default().push(index);
    }
    let mut spans = Vec::new();
    let mut index = 0;
    while index < runs.len() {
        let (start, len) = runs[index];
        let close = by_len.get(&len).and_then(|same| {
            let next = same.partition_point(|&k| k <= index);
            same.get(next).copied()
        });
        match close {
            Some(close) => {
                spans.push((start, runs[close].0 + len));
                index = close + 1;
            }
            None => index += 1,
        }
    }
    spans
}

/// Keeps backslashes CommonMark would consume but Python-Markdown prints: before other
/// punctuation and at the end of a line (no hard break there). Code spans are left alone.
fn fix_backslashes(line: &str) -> Cow<'_, str> {
    if !line.contains('\\') {
        return Cow::Borrowed(line);
    }
    let spans = code_spans(line);
    let mut spans = spans.iter().peekable();
    let mut out = String::with_capacity(line.len() + 4);
    let mut i = 0;
    while i < line.len() {
        while spans.next_if(|(_, end)| *end <= i).is_some() {}
        if let Some(&&(start, end)) = spans.peek() {
            if start <= i {
                out.push_str(&line[i..end]);
                i = end;
                continue;
            }
        }
        let stop = spans.peek().map_or(line.len(), |(start, _)| *start);
        let Some(offset) = line[i..stop].find('\\') else {
            out.push_str(&line[i..stop]);
            i = stop;
            continue;
        };
        let at = i + offset;
        out.push_str(&line[i..at]);
        match line[at + 1..].chars().next() {
            Some(next) if python_escapable(next) => {
                out.push('\\');
                out.push(next);
                i = at + 1 + next.len_utf8();
            }
            Some(next) if !next.is_ascii_punctuation() => {
                out.push('\\');
                i = at + 1;
            }
            _ => {
                out.push_str("\\\\");
                i = at + 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Rewrites one Markdown line so CommonMark reads it as Python-Markdown would: a list
/// needs a blank line before it and does not switch between `1.` and `-` (sane lists),
/// a table must start its chunk, `1)`, unclosed fences, indented `#` and `\` at the end
/// of a line are plain text, and `#Title` or `#######` make headings.
fn adapt_line(line: &str, block: Block) -> (Cow<'_, str>, Block) {
    if line.trim().is_empty() {
        return (Cow::Borrowed(line), Block::None);
    }
    if block == Block::Code || (block == Block::None && leading_spaces(line) >= 4) {
        return (Cow::Borrowed(line), Block::Code);
    }
    if block == Block::Para && is_setext_underline(line) && line.starts_with('=') {
        // Python-Markdown only underlines a one-line paragraph; here it is text.
        return (mark_line(line), Block::Para);
    }
    match fix_backslashes(line) {
        Cow::Borrowed(line) => adapt_structure(line, block),
        Cow::Owned(line) => {
            let (out, next) = adapt_structure(&line, block);
            (Cow::Owned(out.into_owned()), next)
        }
    }
}

fn adapt_structure(line: &str, block: Block) -> (Cow<'_, str>, Block) {
    match block {
        Block::TableStart => return (escape_table_row(line), Block::TableHeader),
        Block::SetextText => return (mark_block_start(line), Block::ParaStart),
        Block::TableHeader => return (Cow::Borrowed(line), Block::Table),
        Block::Table => return (escape_table_row(line), Block::Table),
        _ => {}
    }
    let indent = leading_spaces(line);
    if block == Block::ParaStart && is_setext_underline(line) {
        // The underline ends a one-line heading; what follows starts a new chunk.
        return (Cow::Borrowed(line), Block::None);
    }
    let text_block = match block {
        Block::None => Block::ParaStart,
        Block::ParaStart | Block::Para => Block::Para,
        other => other,
    };
    if line.starts_with('#') {
        return (fix_atx_heading(line), Block::None);
    }
    if (1..=3).contains(&indent) && is_atx(&line[indent..]) {
        // Python-Markdown's `#` headings start at the line start.
        return (mark_line(line), text_block);
    }
    if indent <= 3 && commonmark_would_open_html(&line[indent..], block == Block::None) {
        // Python-Markdown reads this tag (not one of its block-level ones) as inline HTML.
        return (
            Cow::Owned(format!("{}{PARA_MARK}{}", &line[..indent], &line[indent..])),
            text_block,
        );
    }
    if is_rule(line) {
        return (Cow::Borrowed(line), Block::None);
    }
    if is_fence_line(line) {
        // Python-Markdown reads an unmatched fence as text whose backticks may still
        // open a code span: keep them inline behind the (dropped) paragraph mark.
        return (Cow::Owned(format!("{PARA_MARK}{line}")), text_block);
    }
    if is_paren_item(line) {
        return (mark_line(line), text_block);
    }
    if indent <= 3 && line[indent..].starts_with('>') {
        return (Cow::Borrowed(line), Block::Quote);
    }
    match (block, list_marker(line)) {
        (Block::None, Some((_, ordered))) => (Cow::Borrowed(line), Block::List { ordered }),
        (Block::List { ordered }, Some((_, kind))) if kind != ordered => (mark_line(line), block),
        (Block::List { .. }, None) if indent >= 4 && list_marker(line.trim_start()).is_some() => {
            // Python-Markdown nests by 4 spaces per level; CommonMark by the parent's
            // content column, which is at most 4 for `- ` and `1. ` items.
            let nested = format!("{}{}", " ".repeat(indent / 4 * 4), line.trim_start());
            (Cow::Owned(nested), block)
        }
        (Block::ParaStart | Block::Para, Some(_)) => (mark_line(line), Block::Para),
        (Block::ParaStart | Block::Para, None) if is_delimiter_row(line) => {
            // Not a table for Python-Markdown (it checked the chunk): keep it text.
            (mark_line(line), Block::Para)
        }
        _ => (Cow::Borrowed(line), text_block),
    }
}

/// Splits a table row on the pipes that are neither escaped nor inside a code span,
/// like Python-Markdown's table extension; returns the byte offsets of those pipes.
fn row_pipes(row: &str) -> Vec<usize> {
    let bytes = row.as_bytes();
    let spans = code_spans(row);
    let mut spans = spans.iter().peekable();
    let mut pipes = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while spans.next_if(|(_, end)| *end <= i).is_some() {}
        if let Some(&&(start, end)) = spans.peek() {
            if start <= i {
                i = end;
                continue;
            }
        }
        match bytes[i] {
            b'\\' => i += 2,
            b'|' => {
                pipes.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    pipes
}

/// The cells of a table row after dropping the border pipes.
fn row_cells(row: &str) -> Vec<&str> {
    let pipes = row_pipes(row);
    let mut bounds: Vec<usize> = pipes.clone();
    let start = if pipes.first() == Some(&0) {
        bounds.remove(0);
        1
    } else {
        0
    };
    let end = if !row.is_empty() && bounds.last() == Some(&(row.len() - 1)) {
        bounds.pop();
        row.len() - 1
    } else {
        row.len()
    };
    let mut cells = Vec::with_capacity(bounds.len() + 1);
    let mut from = start;
    for pipe in bounds {
        cells.push(row.get(from..pipe).unwrap_or_default());
        from = pipe + 1;
    }
    cells.push(row.get(from..end.max(from)).unwrap_or_default());
    cells
}

/// Python-Markdown's TableProcessor.test on a blank-line-separated chunk.
fn python_is_table(chunk: &[&str]) -> bool {
    let rows: Vec<&str> = chunk.iter().map(|r| r.trim_matches(' ')).collect();
    let (Some(header), Some(separator)) = (rows.first(), rows.get(1)) else {
        return false;
    };
    let ends_with_pipe = |row: &str| row_pipes(row).last().is_some_and(|p| *p + 1 == row.len());
    let border = header.starts_with('|') || ends_with_pipe(header);
    let columns = row_cells(header).len();
    let mut is_table = columns > 1;
    if !is_table && columns == 1 && border {
        is_table = rows[1..]
            .iter()
            .all(|r| r.starts_with('|') || ends_with_pipe(r));
    }
    is_table && {
        let cells = row_cells(separator);
        cells.len() == columns
            && cells
                .iter()
                .all(|c| c.chars().all(|ch| matches!(ch, ':' | '-' | ' ')))
    }
}

/// A table row for GFM: pipes in code spans escaped (Python-Markdown does not split
/// there) and a line that would open a block marked (Python-Markdown keeps it a row).
fn escape_table_row(line: &str) -> Cow<'_, str> {
    // Both lists are sorted: the pipes that split cells, and those left (in code spans).
    let split = row_pipes(line);
    let escaped_already = |i: usize| i > 0 && line.as_bytes()[i - 1] == b'\\';
    let in_code: Vec<usize> = line
        .match_indices('|')
        .map(|(i, _)| i)
        .filter(|i| split.binary_search(i).is_err() && !escaped_already(*i))
        .collect();
    let line = mark_block_start(line);
    if in_code.is_empty() {
        return line;
    }
    // A mark, if one was put in, went before every pipe: shift their offsets.
    let shift = if matches!(line, Cow::Owned(_)) {
        PARA_MARK.len()
    } else {
        0
    };
    let mut out = String::with_capacity(line.len() + in_code.len());
    for (i, ch) in line.char_indices() {
        if i >= shift && in_code.binary_search(&(i - shift)).is_ok() {
            out.push('\\');
        }
        out.push(ch);
    }
    Cow::Owned(out)
}

/// Python-Markdown takes `#Title` (no space) as a heading, and `#######` as a level-6
/// one keeping the extra `#`; CommonMark needs the space and stops at six.
fn fix_atx_heading(line: &str) -> Cow<'_, str> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if hashes > 6 {
        return Cow::Owned(format!("###### {}", &line[6..]));
    }
    match line.as_bytes().get(hashes) {
        Some(b) if !b.is_ascii_whitespace() && *b != b'#' => {
            Cow::Owned(format!("{} {}", &line[..hashes], &line[hashes..]))
        }
        _ => Cow::Borrowed(line),
    }
}

/// Extracts HTML blocks, then parses the rest as CommonMark and writes HTML.
fn render_blocks(text: &str, stash: &mut Vec<String>, depth: usize) -> String {
    let text = extract_html_blocks(text, stash, depth);
    let mut writer = HtmlWriter::new(stash, text.len());
    for event in Parser::new_ext(&text, Options::ENABLE_TABLES) {
        writer.event(event);
    }
    writer.out
}

// --- HTML writer -------------------------------------------------------------

fn escape_text(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(ch),
        }
    }
}

/// Writes pulldown-cmark events as Python-Markdown would serialize its tree: each block
/// element followed by a newline, `<br>`/`<hr>` in HTML style, raw HTML kept verbatim.
struct HtmlWriter<'s> {
    out: String,
    stash: &'s [String],
    code: Option<(Option<String>, bool, String)>,
    html_block: Option<String>,
    image: Option<(String, String, String)>,
    image_depth: usize,
    table_aligns: Vec<Alignment>,
    table_cell: usize,
    in_table_head: bool,
}

impl<'s> HtmlWriter<'s> {
    fn new(stash: &'s [String], capacity: usize) -> Self {
        HtmlWriter {
            out: String::with_capacity(capacity + capacity / 2),
            stash,
            code: None,
            html_block: None,
            image: None,
            image_depth: 0,
            table_aligns: Vec::new(),
            table_cell: 0,
            in_table_head: false,
        }
    }

    /// Text goes to the open code block, image alt text or the output.
    fn text(&mut self, text: &str) {
        if let Some((_, _, code)) = &mut self.code {
            code.push_str(text);
        } else if let Some((_, _, alt)) = &mut self.image {
            alt.push_str(text);
        } else {
            escape_text(text, &mut self.out);
        }
    }

    fn raw(&mut self, html: &str) {
        if let Some(block) = &mut self.html_block {
            block.push_str(html);
        } else if self.image.is_none() {
            self.out.push_str(html);
        }
    }

    /// Writes raw HTML with the stash placeholders inside it (fenced code in raw blocks) resolved.
    fn push_with_stash(&mut self, html: &str) {
        let mut rest = html;
        while let Some(at) = rest.find(STASH_PREFIX) {
            let after = &rest[at..];
            let resolved = after
                .find(STASH_SUFFIX)
                .and_then(|end| Some((placeholder_index(&after[..end + STASH_SUFFIX.len()])?, end)))
                .and_then(|(index, end)| Some((self.stash.get(index)?, end)));
            match resolved {
                Some((fragment, end)) => {
                    self.out.push_str(&rest[..at]);
                    self.out.push_str(fragment);
                    rest = &after[end + STASH_SUFFIX.len()..];
                }
                None => {
                    self.out.push_str(&rest[..at + STASH_PREFIX.len()]);
                    rest = &after[STASH_PREFIX.len()..];
                }
            }
        }
        self.out.push_str(rest);
    }

    fn cell_tag(&self) -> &'static str {
        if self.in_table_head {
            "th"
        } else {
            "td"
        }
    }

    /// Python-Markdown puts a block inside a list item on a line of its own.
    fn block_start(&mut self) {
        if self.out.ends_with("<li>") {
            self.out.push('\n');
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        if matches!(
            tag,
            Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::BlockQuote(_)
                | Tag::CodeBlock(_)
                | Tag::HtmlBlock
                | Tag::List(_)
                | Tag::Table(_)
        ) {
            self.block_start();
        }
        match tag {
            Tag::Paragraph => self.out.push_str("<p>"),
            Tag::Heading { level, .. } => {
                self.out.push_str(&format!("<{level}>"));
            }
            Tag::BlockQuote(_) => self.out.push_str("<blockquote>\n"),
            Tag::CodeBlock(kind) => {
                let (lang, indented) = match kind {
                    CodeBlockKind::Fenced(info) => {
                        let lang = info.split_whitespace().next().map(|l| {
                            l.trim_start_matches('{')
                                .trim_start_matches('.')
                                .trim_end_matches('}')
                                .to_owned()
                        });
                        (lang.filter(|l| !l.is_empty()), false)
                    }
                    CodeBlockKind::Indented => (None, true),
                };
                self.code = Some((lang, indented, String::new()));
            }
            Tag::HtmlBlock => self.html_block = Some(String::new()),
            Tag::List(Some(1)) => self.out.push_str("<ol>\n"),
            Tag::List(Some(start)) => self.out.push_str(&format!("<ol start=\"{start}\">\n")),
            Tag::List(None) => self.out.push_str("<ul>\n"),
            Tag::Item => self.out.push_str("<li>"),
            Tag::Table(aligns) => {
                self.table_aligns = aligns;
                self.out.push_str("<table>\n");
            }
            Tag::TableHead => {
                self.in_table_head = true;
                self.table_cell = 0;
                self.out.push_str("<thead>\n<tr>\n");
            }
            Tag::TableRow => {
                self.table_cell = 0;
                self.out.push_str("<tr>\n");
            }
            Tag::TableCell => {
                let align = match self.table_aligns.get(self.table_cell) {
                    Some(Alignment::Left) => " style=\"text-align: left;\"",
                    Some(Alignment::Center) => " style=\"text-align: center;\"",
                    Some(Alignment::Right) => " style=\"text-align: right;\"",
                    _ => "",
                };
                let cell = self.cell_tag();
                self.out.push_str(&format!("<{cell}{align}>"));
            }
            Tag::Emphasis => self.raw("<em>"),
            Tag::Strong => self.raw("<strong>"),
            Tag::Strikethrough => self.raw("<del>"),
            Tag::Superscript => self.raw("<sup>"),
            Tag::Subscript => self.raw("<sub>"),
            Tag::Link {
                dest_url, title, ..
            } => {
                if self.image.is_some() {
                    return;
                }
                // The reference's LinkTargetExtension: every Markdown link not to an anchor.
                self.out.push_str("<a ");
                if !dest_url.starts_with('#') {
                    self.out
                        .push_str("target=\"_blank\" rel=\"noopener noreferrer\" ");
                }
                self.out.push_str("href=\"");
                escape_attr(&dest_url, &mut self.out);
                self.out.push('"');
                if !title.is_empty() {
                    self.out.push_str(" title=\"");
                    escape_attr(&title, &mut self.out);
                    self.out.push('"');
                }
                self.out.push('>');
            }
            Tag::Image {
                dest_url, title, ..
            } => {
                self.image_depth += 1;
                if self.image.is_none() {
                    self.image = Some((dest_url.into_string(), title.into_string(), String::new()));
                }
            }
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.out.push_str("</p>\n"),
            TagEnd::Heading(level) => self.out.push_str(&format!("</{level}>\n")),
            TagEnd::BlockQuote(_) => self.out.push_str("</blockquote>\n"),
            TagEnd::CodeBlock => {
                if let Some((lang, indented, code)) = self.code.take() {
                    let html = if indented {
                        highlight_indented(&code)
                    } else {
                        highlight_block(&code, lang.as_deref(), false)
                    };
                    self.out.push_str(&html);
                    self.out.push('\n');
                }
            }
            TagEnd::HtmlBlock => {
                if let Some(block) = self.html_block.take() {
                    match placeholder_index(&block).and_then(|i| self.stash.get(i)) {
                        Some(fragment) => {
                            let fragment = fragment.clone();
                            self.push_with_stash(&fragment);
                            self.out.push('\n');
                        }
                        None => self.push_with_stash(&block),
                    }
                }
            }
            TagEnd::List(true) => self.out.push_str("</ol>\n"),
            TagEnd::List(false) => self.out.push_str("</ul>\n"),
            TagEnd::Item => self.out.push_str("</li>\n"),
            TagEnd::Table => self.out.push_str("</tbody>\n</table>\n"),
            TagEnd::TableHead => {
                self.in_table_head = false;
                self.out.push_str("</tr>\n</thead>\n<tbody>\n");
            }
            TagEnd::TableRow => self.out.push_str("</tr>\n"),
            TagEnd::TableCell => {
                let cell = self.cell_tag();
                self.out.push_str(&format!("</{cell}>\n"));
                self.table_cell += 1;
            }
            TagEnd::Emphasis => self.raw("</em>"),
            TagEnd::Strong => self.raw("</strong>"),
            TagEnd::Strikethrough => self.raw("</del>"),
            TagEnd::Superscript => self.raw("</sup>"),
            TagEnd::Subscript => self.raw("</sub>"),
            TagEnd::Link => self.raw("</a>"),
            TagEnd::Image => {
                self.image_depth = self.image_depth.saturating_sub(1);
                if self.image_depth == 0 {
                    if let Some((src, title, alt)) = self.image.take() {
                        self.out.push_str("<img alt=\"");
                        escape_attr(&alt, &mut self.out);
                        self.out.push_str("\" src=\"");
                        escape_attr(&src, &mut self.out);
                        self.out.push('"');
                        if !title.is_empty() {
                            self.out.push_str(" title=\"");
                            escape_attr(&title, &mut self.out);
                            self.out.push('"');
                        }
                        self.out.push('>');
                    }
                }
            }
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                // Python-Markdown strips a code span's content.
                let code = code.replace(PARA_MARK, "");
                let code = code.trim();
                if let Some((_, _, alt)) = &mut self.image {
                    alt.push_str(code);
                } else {
                    self.out.push_str("<code>");
                    escape_text(code, &mut self.out);
                    self.out.push_str("</code>");
                }
            }
            Event::Html(html) => self.raw(&html.replace(PARA_MARK, "")),
            Event::InlineHtml(html) => {
                if &*html != PARA_MARK {
                    self.raw(&html);
                }
            }
            Event::SoftBreak => self.text("\n"),
            Event::HardBreak => {
                if self.image.is_none() {
                    self.out.push_str("<br>\n");
                }
            }
            Event::Rule => self.out.push_str("<hr>\n"),
            Event::InlineMath(text) | Event::DisplayMath(text) | Event::FootnoteReference(text) => {
                self.text(&text)
            }
            Event::TaskListMarker(_) => {}
        }
    }
}

// --- syntax highlighting ------------------------------------------------------
//
// A small Pygments-like lexer instead of a grammar engine: TextMate grammars on a
// backtracking regex engine cost ~75 µs per code line here, this costs ~1 µs. Tokens
// get Pygments' token types and the inline styles of its `default` style, which is what
// the reference's CodeHilite (`noclasses=True`) writes.

/// Pygments token types that the `default` style colors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Text,
    Comment,
    Preproc,
    Keyword,
    KeywordType,
    Operator,
    OperatorWord,
    Builtin,
    Function,
    Class,
    Decorator,
    Variable,
    Tag,
    Attribute,
    Str,
    Escape,
    Number,
    Inserted,
    Deleted,
    Subheading,
}

impl Tok {
    /// The inline CSS Pygments' `default` style gives the token type.
    fn css(self) -> Option<&'static str> {
        Some(match self {
            Tok::Text => return None,
            Tok::Comment => "color: #3D7B7B; font-style: italic",
            Tok::Preproc => "color: #9C6500",
            Tok::Keyword | Tok::Tag => "color: #008000; font-weight: bold",
            Tok::KeywordType => "color: #B00040",
            Tok::Operator | Tok::Number => "color: #666666",
            Tok::OperatorWord => "color: #AA22FF; font-weight: bold",
            Tok::Builtin => "color: #008000",
            Tok::Function => "color: #0000FF",
            Tok::Class => "color: #0000FF; font-weight: bold",
            Tok::Decorator => "color: #AA22FF",
            Tok::Variable => "color: #19177C",
            Tok::Attribute => "color: #687822",
            Tok::Str => "color: #BA2121",
            Tok::Escape => "color: #AA5D1F; font-weight: bold",
            Tok::Inserted => "color: #008400",
            Tok::Deleted => "color: #A00000",
            Tok::Subheading => "color: #800080; font-weight: bold",
        })
    }
}

/// How a language is lexed; the word lists follow what Pygments' lexer marks.
struct Lang {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    /// `#` at a line start begins a preprocessor line (C family).
    preproc: bool,
    /// String delimiters, longest first (`"""` before `"`).
    quotes: &'static [&'static str],
    /// Keywords, constants (`True`, `null`) included: the style is the same.
    keywords: &'static [&'static str],
    types: &'static [&'static str],
    word_ops: &'static [&'static str],
    builtins: &'static [&'static str],
    /// Keywords after which the next name is a function's (`def f`) or a class's.
    def_words: &'static [&'static str],
    class_words: &'static [&'static str],
    /// `@name` is a decorator (and a one- or two-letter name before a quote a prefix).
    decorators: bool,
    /// `$name` is a variable, and `#` starts a comment only after white space.
    dollar_vars: bool,
    /// Keywords match in any case (SQL).
    any_case: bool,
    /// Object keys (a string before `:`) are Name.Tag, as in Pygments' JSON lexer.
    json_keys: bool,
    operators: &'static str,
}

const NO_WORDS: &[&str] = &[];
const C_OPERATORS: &str = "+-*/%=<>!&|^~?";

const BASE: Lang = Lang {
    line_comments: NO_WORDS,
    block_comment: None,
    preproc: false,
    quotes: &["\"", "'"],
    keywords: NO_WORDS,
    types: NO_WORDS,
    word_ops: NO_WORDS,
    builtins: NO_WORDS,
    def_words: NO_WORDS,
    class_words: NO_WORDS,
    decorators: false,
    dollar_vars: false,
    any_case: false,
    json_keys: false,
    operators: C_OPERATORS,
};

#[rustfmt::skip]
const PYTHON: Lang = Lang {
    line_comments: &["#"],
    quotes: &["\"\"\"", "'''", "\"", "'"],
    keywords: &[
        "assert", "async", "await", "break", "continue", "del", "elif", "else", "except",
        "finally", "for", "global", "if", "lambda", "nonlocal", "pass", "raise", "return", "try",
        "while", "yield", "as", "with", "match", "case", "def", "class", "import", "from",
        "True", "False", "None",
    ],
    word_ops: &["and", "or", "not", "in", "is"],
    builtins: &[
        "print", "len", "range", "int", "str", "bytes", "float", "list", "dict", "set", "tuple",
        "bool", "open", "input", "chr", "ord", "hex", "bin", "oct", "abs", "min", "max", "sum",
        "sorted", "reversed", "enumerate", "zip", "map", "filter", "any", "all", "isinstance",
        "type", "object", "super", "self", "cls", "hash", "id", "iter", "next", "repr", "round",
        "pow", "divmod", "format", "getattr", "setattr", "hasattr", "exec", "eval", "bytearray",
        "Exception", "ValueError", "KeyError", "TypeError", "RuntimeError", "__import__",
    ],
    def_words: &["def"],
    class_words: &["class"],
    decorators: true,
    operators: "+-*/%=<>!&|^~@",
    ..BASE
};

#[rustfmt::skip]
const C: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    preproc: true,
    keywords: &[
        "break", "case", "continue", "default", "do", "else", "for", "goto", "if", "return",
        "sizeof", "switch", "while", "typedef", "struct", "union", "enum", "static", "extern",
        "const", "volatile", "register", "inline", "restrict", "asm", "class", "namespace",
        "template", "typename", "public", "private", "protected", "virtual", "override", "new",
        "delete", "try", "catch", "throw", "using", "operator", "friend", "explicit",
        "constexpr", "noexcept", "static_cast", "dynamic_cast", "reinterpret_cast",
        "const_cast", "this", "auto", "true", "false", "NULL", "nullptr",
    ],
    types: &[
        "int", "char", "short", "long", "float", "double", "void", "unsigned", "signed", "bool",
        "size_t", "ssize_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t", "int16_t",
        "int32_t", "int64_t", "uintptr_t", "wchar_t", "FILE",
    ],
    class_words: &["struct", "class", "union", "enum"],
    ..BASE
};

#[rustfmt::skip]
const RUST: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &["\""],
    keywords: &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
        "pub", "ref", "return", "static", "struct", "trait", "type", "unsafe", "use", "where",
        "while", "self", "Self", "super", "true", "false",
    ],
    types: &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char", "str",
    ],
    builtins: &["String", "Vec", "Option", "Result", "Box", "Some", "None", "Ok", "Err"],
    def_words: &["fn"],
    class_words: &["struct", "enum", "trait", "union"],
    ..BASE
};

#[rustfmt::skip]
const GO: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &["\"", "'", "`"],
    keywords: &[
        "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough",
        "for", "func", "go", "goto", "if", "import", "interface", "map", "package", "range",
        "return", "select", "struct", "switch", "type", "var", "true", "false", "nil", "iota",
    ],
    types: &[
        "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
        "uintptr", "float32", "float64", "string", "byte", "rune", "bool", "error", "any",
    ],
    builtins: &["append", "cap", "len", "make", "new", "panic", "print", "println", "copy"],
    def_words: &["func"],
    ..BASE
};

#[rustfmt::skip]
const JAVA: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    keywords: &[
        "abstract", "assert", "break", "case", "catch", "continue", "default", "do", "else",
        "extends", "final", "finally", "for", "if", "implements", "import", "instanceof", "new",
        "package", "private", "protected", "public", "return", "static", "super", "switch",
        "synchronized", "this", "throw", "throws", "try", "while", "class", "interface", "enum",
        "var", "true", "false", "null",
    ],
    types: &["int", "long", "short", "byte", "char", "boolean", "float", "double", "void"],
    class_words: &["class", "interface", "enum"],
    decorators: true,
    ..BASE
};

#[rustfmt::skip]
const JAVASCRIPT: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &["\"", "'", "`"],
    keywords: &[
        "async", "await", "break", "case", "catch", "class", "const", "continue", "debugger",
        "default", "delete", "do", "else", "export", "extends", "finally", "for", "function",
        "if", "import", "in", "instanceof", "let", "new", "of", "return", "static", "super",
        "switch", "this", "throw", "try", "typeof", "var", "void", "while", "with", "yield",
        "from", "true", "false", "null", "undefined", "NaN", "Infinity",
    ],
    builtins: &[
        "Array", "Object", "String", "Number", "Boolean", "Math", "JSON", "Promise", "console",
        "window", "document", "require", "module", "Error", "Date", "RegExp", "Symbol", "Map",
        "Set", "parseInt", "parseFloat", "eval", "fetch",
    ],
    def_words: &["function"],
    class_words: &["class"],
    ..BASE
};

#[rustfmt::skip]
const PHP: Lang = Lang {
    line_comments: &["//", "#"],
    block_comment: Some(("/*", "*/")),
    keywords: &[
        "abstract", "and", "array", "as", "break", "case", "catch", "class", "clone", "const",
        "continue", "declare", "default", "do", "echo", "else", "elseif", "empty", "extends",
        "final", "finally", "for", "foreach", "function", "global", "if", "implements",
        "include", "include_once", "instanceof", "isset", "list", "namespace", "new", "or",
        "print", "private", "protected", "public", "require", "require_once", "return",
        "static", "switch", "throw", "try", "unset", "use", "var", "while", "xor", "fn", "match",
        "true", "false", "null", "TRUE", "FALSE", "NULL",
    ],
    def_words: &["function"],
    class_words: &["class"],
    dollar_vars: true,
    ..BASE
};

#[rustfmt::skip]
const BASH: Lang = Lang {
    line_comments: &["#"],
    keywords: &[
        "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case",
        "esac", "in", "function", "select", "return", "break", "continue",
    ],
    builtins: &[
        "echo", "cd", "export", "read", "printf", "source", "exit", "eval", "exec", "set",
        "unset", "shift", "alias", "local", "declare", "test", "pwd", "kill", "trap", "wait",
    ],
    dollar_vars: true,
    operators: "=|&<>;",
    ..BASE
};

#[rustfmt::skip]
const SQL: Lang = Lang {
    line_comments: &["--", "#"],
    block_comment: Some(("/*", "*/")),
    quotes: &["'", "\"", "`"],
    keywords: &[
        "SELECT", "FROM", "WHERE", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE",
        "CREATE", "TABLE", "DROP", "ALTER", "INDEX", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER",
        "ON", "AS", "AND", "OR", "NOT", "NULL", "IS", "IN", "LIKE", "ORDER", "BY", "GROUP",
        "HAVING", "LIMIT", "OFFSET", "UNION", "ALL", "DISTINCT", "PRIMARY", "KEY", "DEFAULT",
        "CASE", "WHEN", "THEN", "ELSE", "END", "EXISTS", "BETWEEN", "ASC", "DESC",
    ],
    any_case: true,
    operators: "+-*/%=<>!|",
    ..BASE
};

const JSON: Lang = Lang {
    quotes: &["\""],
    keywords: &["true", "false", "null"],
    json_keys: true,
    operators: "",
    ..BASE
};

/// What to lex a Pygments lexer name as.
enum Lexer {
    Code(&'static Lang),
    Markup,
    Diff,
}

fn lexer_for(lang: &str) -> Option<Lexer> {
    Some(match lang {
        "python" | "py" | "python3" | "py3" | "sage" | "pycon" | "pyi" => Lexer::Code(&PYTHON),
        "c" | "h" | "cpp" | "c++" | "cxx" | "cc" | "hpp" | "objective-c" | "cuda" => {
            Lexer::Code(&C)
        }
        "rust" | "rs" => Lexer::Code(&RUST),
        "go" | "golang" => Lexer::Code(&GO),
        "java" | "kotlin" | "scala" | "csharp" | "c#" | "cs" => Lexer::Code(&JAVA),
        "javascript" | "js" | "jsx" | "typescript" | "ts" | "node" | "nodejs" | "mjs" => {
            Lexer::Code(&JAVASCRIPT)
        }
        "php" => Lexer::Code(&PHP),
        "bash" | "sh" | "shell" | "zsh" | "ksh" | "console" | "shell-session" => Lexer::Code(&BASH),
        "sql" | "mysql" | "sqlite3" | "postgresql" | "psql" => Lexer::Code(&SQL),
        "json" | "json5" | "jsonld" => Lexer::Code(&JSON),
        "html" | "xml" | "svg" | "xhtml" | "vue" => Lexer::Markup,
        "diff" | "patch" | "udiff" => Lexer::Diff,
        _ => return None,
    })
}

/// Collects tokens, merging neighbours of the same type.
#[derive(Default)]
struct Tokens {
    list: Vec<(Tok, String)>,
}

impl Tokens {
    fn push(&mut self, tok: Tok, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.list.last_mut() {
            Some((last, buf)) if *last == tok => buf.push_str(text),
            _ => self.list.push((tok, text.to_owned())),
        }
    }
}

fn is_ident_start(ch: char) -> bool {
    ch == '_' || ch.is_alphabetic()
}

/// The byte length of the identifier (or `extra` characters) at the start of `text`.
fn word_len(text: &str, extra: &str) -> usize {
    text.char_indices()
        .find(|(_, c)| !(*c == '_' || c.is_alphanumeric() || extra.contains(*c)))
        .map_or(text.len(), |(i, _)| i)
}

/// Lexes the string literal that `quote` opens at the start of `text`, escapes apart;
/// a one-line quote ends at the line end when unclosed. Returns the bytes consumed.
fn lex_string(text: &str, quote: &str, escapes: bool, out: &mut Tokens) -> usize {
    let multiline = quote.len() == 3 || quote == "`";
    let mut i = quote.len();
    let mut chunk = 0;
    while let Some(ch) = text[i..].chars().next() {
        if text[i..].starts_with(quote) {
            i += quote.len();
            break;
        }
        if ch == '\n' && !multiline {
            break;
        }
        if escapes && ch == '\\' {
            let len = 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8);
            out.push(Tok::Str, &text[chunk..i]);
            out.push(Tok::Escape, &text[i..i + len]);
            i += len;
            chunk = i;
            continue;
        }
        i += ch.len_utf8();
    }
    out.push(Tok::Str, &text[chunk..i]);
    i
}

/// The token type of a name, and the type the name after it gets (`def` → function).
fn classify_word(word: &str, lang: &Lang) -> (Tok, Option<Tok>) {
    let listed = |list: &[&str]| {
        list.contains(&word) || (lang.any_case && list.iter().any(|k| k.eq_ignore_ascii_case(word)))
    };
    if lang.word_ops.contains(&word) {
        (Tok::OperatorWord, None)
    } else if listed(lang.keywords) {
        let next = if lang.def_words.contains(&word) {
            Some(Tok::Function)
        } else if lang.class_words.contains(&word) {
            Some(Tok::Class)
        } else {
            None
        };
        (Tok::Keyword, next)
    } else if lang.types.contains(&word) {
        (Tok::KeywordType, None)
    } else if lang.builtins.contains(&word) {
        (Tok::Builtin, None)
    } else {
        (Tok::Text, None)
    }
}

fn lex_code(code: &str, lang: &Lang) -> Vec<(Tok, String)> {
    let mut out = Tokens::default();
    let mut i = 0;
    let mut line_start = true;
    // The token type the next name gets after `def`, `class` and the like.
    let mut pending: Option<Tok> = None;
    while let Some(ch) = code[i..].chars().next() {
        let rest = &code[i..];
        if ch.is_whitespace() {
            let len = if ch == '\n' {
                1
            } else {
                rest.find(|c: char| !c.is_whitespace() || c == '\n')
                    .unwrap_or(rest.len())
            };
            line_start |= ch == '\n';
            out.push(Tok::Text, &rest[..len]);
            i += len;
            continue;
        }
        let at_line_start = std::mem::replace(&mut line_start, false);
        let line_len = rest.find('\n').unwrap_or(rest.len());
        let after_space = code[..i]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let comment = lang.line_comments.iter().any(|c| rest.starts_with(c))
            && (!lang.dollar_vars || after_space);
        if (lang.preproc && at_line_start && ch == '#') || comment {
            let tok = if comment { Tok::Comment } else { Tok::Preproc };
            out.push(tok, &rest[..line_len]);
            i += line_len;
            continue;
        }
        if let Some((open, close)) = lang
            .block_comment
            .filter(|(open, _)| rest.starts_with(open))
        {
            let len = rest[open.len()..]
                .find(close)
                .map_or(rest.len(), |p| open.len() + p + close.len());
            out.push(Tok::Comment, &rest[..len]);
            i += len;
            continue;
        }
        if let Some(quote) = lang.quotes.iter().find(|q| rest.starts_with(**q)) {
            let mut string = Tokens::default();
            // Shell and SQL single quotes have no escapes.
            let escapes = *quote != "'" || !(lang.dollar_vars || lang.any_case);
            let len = lex_string(rest, quote, escapes, &mut string);
            let is_key = lang.json_keys && rest[len..].trim_start().starts_with(':');
            for (tok, text) in string.list {
                out.push(if is_key { Tok::Tag } else { tok }, &text);
            }
            i += len;
            continue;
        }
        let digit_after_dot = || rest[1..].starts_with(|c: char| c.is_ascii_digit());
        if ch.is_ascii_digit() || (ch == '.' && digit_after_dot()) {
            let len = word_len(rest, ".");
            out.push(Tok::Number, &rest[..len]);
            i += len;
            continue;
        }
        if (lang.decorators && ch == '@') || (lang.dollar_vars && ch == '$') {
            let after = &rest[1..];
            let len = if ch == '$' && after.starts_with('{') {
                after.find('}').map_or(after.len(), |p| p + 1)
            } else {
                word_len(after, if ch == '@' { "." } else { "" })
            };
            if len > 0 {
                let tok = if ch == '@' {
                    Tok::Decorator
                } else {
                    Tok::Variable
                };
                out.push(tok, &rest[..1 + len]);
                i += 1 + len;
                continue;
            }
        }
        if is_ident_start(ch) {
            let len = word_len(rest, "");
            let word = &rest[..len];
            let before_quote = lang.quotes.iter().any(|q| rest[len..].starts_with(q));
            let tok = if lang.decorators && len <= 2 && before_quote {
                // A string prefix (`r"..."`, `b'...'`, `f"..."`) belongs to the string.
                Tok::Str
            } else if let Some(tok) = pending.take() {
                tok
            } else {
                let (tok, next) = classify_word(word, lang);
                pending = next;
                tok
            };
            out.push(tok, word);
            i += len;
            continue;
        }
        let tok = if lang.operators.contains(ch) {
            Tok::Operator
        } else {
            Tok::Text
        };
        out.push(tok, &rest[..ch.len_utf8()]);
        i += ch.len_utf8();
    }
    out.list
}

/// HTML and XML: tags, attributes, attribute values and comments.
fn lex_markup(code: &str) -> Vec<(Tok, String)> {
    let mut out = Tokens::default();
    let mut i = 0;
    while let Some(rest) = code.get(i..).filter(|r| !r.is_empty()) {
        let opens_tag = rest.starts_with('<')
            && rest[1..]
                .starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if rest.starts_with("<!--") {
            let len = rest.find("-->").map_or(rest.len(), |p| p + 3);
            out.push(Tok::Comment, &rest[..len]);
            i += len;
        } else if opens_tag {
            let tag = &rest[..rest.find('>').map_or(rest.len(), |p| p + 1)];
            let name = 1 + word_len(&tag[1..], "/!?-:.");
            out.push(Tok::Tag, &tag[..name]);
            let mut j = name;
            while let Some(ch) = tag[j..].chars().next() {
                let part = &tag[j..];
                let (tok, len) = if ch == '"' || ch == '\'' {
                    (Tok::Str, part[1..].find(ch).map_or(part.len(), |p| p + 2))
                } else if is_ident_start(ch) {
                    (Tok::Attribute, word_len(part, "-:."))
                } else if ch == '>' || part.starts_with("/>") {
                    (Tok::Tag, part.len())
                } else {
                    (Tok::Text, ch.len_utf8())
                };
                out.push(tok, &part[..len]);
                j += len;
            }
            i += tag.len();
        } else {
            let len = rest[1..].find('<').map_or(rest.len(), |p| p + 1);
            out.push(Tok::Text, &rest[..len]);
            i += len;
        }
    }
    out.list
}

/// Unified diffs: added, removed and hunk lines.
fn lex_diff(code: &str) -> Vec<(Tok, String)> {
    let mut out = Tokens::default();
    for line in code.split_inclusive('\n') {
        let tok = match line.as_bytes().first() {
            Some(b'+') => Tok::Inserted,
            Some(b'-') => Tok::Deleted,
            Some(b'@') => Tok::Subheading,
            _ => Tok::Text,
        };
        let body = line.strip_suffix('\n').unwrap_or(line);
        out.push(tok, body);
        out.push(Tok::Text, &line[body.len()..]);
    }
    out.list
}

/// Pygments' HTML escaping.
fn escape_code(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
}

/// Highlights `code` into Pygments' span markup; plain text if the language is unknown,
/// as the reference then falls back to Pygments' TextLexer.
fn highlight_spans(code: &str, lang: Option<&str>) -> String {
    let mut out = String::with_capacity(code.len() * 2);
    let lexer = lang.map(str::to_ascii_lowercase);
    let tokens = match lexer.as_deref().and_then(lexer_for) {
        Some(Lexer::Code(lang)) => lex_code(code, lang),
        Some(Lexer::Markup) => lex_markup(code),
        Some(Lexer::Diff) => lex_diff(code),
        None => {
            escape_code(code, &mut out);
            return out;
        }
    };
    // Neighbours that look the same share a span (`=` and `1` are both #666666).
    let mut merged: Vec<(Option<&str>, String)> = Vec::with_capacity(tokens.len());
    for (tok, text) in tokens {
        match merged.last_mut() {
            Some((css, buf)) if *css == tok.css() => buf.push_str(&text),
            _ => merged.push((tok.css(), text)),
        }
    }
    for (css, text) in merged {
        let Some(css) = css else {
            escape_code(&text, &mut out);
            continue;
        };
        // Pygments closes and reopens a span at each line break.
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if !part.is_empty() {
                out.push_str("<span style=\"");
                out.push_str(css);
                out.push_str("\">");
                escape_code(part, &mut out);
                out.push_str("</span>");
            }
        }
    }
    out
}

const HILITE_DIV: &str = "<div class=\"codehilite\" style=\"background: #f8f8f8\">";
const HILITE_PRE: &str = "<pre style=\"line-height: 125%;\"><span></span><code>";
const LINENO_SPAN: &str = "<span style=\"color: inherit; background-color: transparent; \
                           padding-left: 5px; padding-right: 5px;\">";

/// A `codehilite` block as Pygments writes it with `noclasses=True` and the default
/// style; with line numbers, Pygments' table layout.
fn highlight_block(code: &str, lang: Option<&str>, linenums: bool) -> String {
    let mut src = code.trim_matches('\n').to_owned();
    src.push('\n');
    let spans = highlight_spans(&src, lang);
    if !linenums {
        return format!("{HILITE_DIV}{HILITE_PRE}{spans}</code></pre></div>");
    }
    let count = src.lines().count().max(1);
    let numbers: Vec<String> = (1..=count)
        .map(|n| format!("{LINENO_SPAN}{n}</span>"))
        .collect();
    format!(
        "{HILITE_DIV}<table class=\"codehilitetable\"><tr><td class=\"linenos\">\
         <div class=\"linenodiv\"><pre>{}</pre></div></td><td class=\"code\">\
         <div>{HILITE_PRE}{spans}</code></pre></div></td></tr></table></div>",
        numbers.join("\n")
    )
}

/// An indented code block: CodeHilite reads a `:::lang` or `#!lang` first line as the
/// language (removed unless it is a real shebang path), `#!` also turning on line numbers.
fn highlight_indented(code: &str) -> String {
    let src = code.trim_matches('\n');
    let (first, rest) = src.split_once('\n').unwrap_or((src, ""));
    let header = if let Some(after) = first.strip_prefix("#!") {
        Some((after, true))
    } else if first.starts_with("::") {
        Some((first.trim_start_matches(':'), false))
    } else {
        None
    };
    let Some((after, shebang)) = header else {
        return highlight_block(src, None, false);
    };
    // `(?P<path>(?:/\w+)*[/ ])?`: a path means a real shebang line that stays in the code.
    let path_len = {
        let bytes = after.as_bytes();
        let mut i = 0;
        let mut last_ok = 0;
        loop {
            match bytes.get(i) {
                Some(b'/') => {
                    let word = bytes[i + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                        .count();
                    last_ok = i + 1;
                    if word == 0 {
                        break;
                    }
                    i += 1 + word;
                }
                Some(b' ') => {
                    last_ok = i + 1;
                    break;
                }
                _ => break,
            }
        }
        last_ok
    };
    let has_path = path_len > 0;
    let lang: String = after[path_len..]
        .chars()
        .take_while(|c| is_lang_char(*c))
        .collect();
    let lang = lang.to_ascii_lowercase();
    let body = if has_path { src } else { rest };
    highlight_block(
        body,
        Some(&lang).filter(|l| !l.is_empty()).map(String::as_str),
        shebang,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;
    use std::collections::HashMap;

    /// The golden README's comparison: strip tags, unescape entities, collapse white space.
    fn text_of(html: &str) -> String {
        let mut stripped = String::with_capacity(html.len());
        let mut in_tag = false;
        for ch in html.chars() {
            match ch {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                _ if !in_tag => stripped.push(ch),
                _ => {}
            }
        }
        let mut text = String::with_capacity(stripped.len());
        let mut rest = stripped.as_str();
        while let Some(at) = rest.find('&') {
            text.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let decoded = after.find(';').filter(|e| *e <= 10).and_then(|e| {
                let entity = &after[..e];
                let ch = match entity {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => {
                        let num = entity.strip_prefix('#')?;
                        let code = match num.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                            None => num.parse().ok()?,
                        };
                        char::from_u32(code)
                    }
                }?;
                Some((ch, e))
            });
            match decoded {
                Some((ch, e)) => {
                    text.push(ch);
                    rest = &after[e + 1..];
                }
                None => {
                    text.push('&');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn load(name: &str) -> Json {
        let path = crate::testing::golden_dir()
            .join(name)
            .display()
            .to_string();
        let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&data).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    struct Tally {
        equal: usize,
        total: usize,
        failures: Vec<String>,
    }

    impl Tally {
        fn check(&mut self, what: &str, expected: &str, got: &str) {
            self.total += 1;
            if text_of(expected) == text_of(got) {
                self.equal += 1;
            } else if self.failures.len() < 5 {
                self.failures.push(format!(
                    "{what}\n  expected: {expected:?}\n  got:      {got:?}"
                ));
            }
        }
    }

    /// Every `desc` and announcement `content` in one golden answers file.
    fn compare_contest(name: &str, tick: i64, desc: &mut Tally, content: &mut Tally) {
        let dump = load(&format!("{name}.contest.json"));
        let answers = load(&format!("{name}.answers.json"));
        let tables = &dump["tables"];
        let groups: HashMap<&str, Option<&str>> = tables["user"]
            .as_array()
            .into_iter()
            .flatten()
            // The reference treats a disabled user's token as no user at all.
            .filter_map(|u| {
                let enabled = u["enabled"].as_bool().unwrap_or(false);
                Some((
                    u["auth_token"].as_str()?,
                    u["group"].as_str().filter(|_| enabled),
                ))
            })
            .collect();
        let challenges: HashMap<&str, &str> = tables["challenge"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["key"].as_str()?, c["desc_template"].as_str()?)))
            .collect();
        let announcements: HashMap<i64, &str> = tables["announcement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["id"].as_i64()?, a["content_template"].as_str()?)))
            .collect();
        for list in ["static", "live", "after_live"] {
            for item in answers[list].as_array().into_iter().flatten() {
                let endpoint = item["endpoint"].as_str().unwrap_or_default();
                let group = item["auth_token"]
                    .as_str()
                    .and_then(|t| groups.get(t).copied().flatten());
                let answer = &item["answer"];
                if let (Some(key), Some(expected)) =
                    (endpoint.strip_prefix("challenge/"), answer["desc"].as_str())
                {
                    let source = challenges.get(key).copied().unwrap_or_default();
                    let (got, err) = render_or_placeholder(source, group, tick);
                    assert_eq!(err, None, "{name} {key}");
                    desc.check(&format!("{name} {key} as {group:?}"), expected, &got);
                }
                if endpoint == "announcements" {
                    for ann in answer["list"].as_array().into_iter().flatten() {
                        let id = ann["id"].as_i64().unwrap_or_default();
                        let expected = ann["content"].as_str().unwrap_or_default();
                        let source = announcements.get(&id).copied().unwrap_or_default();
                        let (got, err) = render_or_placeholder(source, group, tick);
                        assert_eq!(err, None, "{name} announcement {id}");
                        content.check(
                            &format!("{name} announcement {id} as {group:?}"),
                            expected,
                            &got,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn golden_desc_and_content_text_equal() {
        let mut desc = Tally {
            equal: 0,
            total: 0,
            failures: Vec::new(),
        };
        let mut content = Tally {
            equal: 0,
            total: 0,
            failures: Vec::new(),
        };
        compare_contest("running", 2000, &mut desc, &mut content);
        compare_contest("ended", 9000, &mut desc, &mut content);
        println!(
            "desc: {}/{} equal; content: {}/{} equal",
            desc.equal, desc.total, content.equal, content.total
        );
        assert!(desc.total > 0 && content.total > 0, "no golden items found");
        assert!(
            desc.failures.is_empty(),
            "desc mismatches:\n{}",
            desc.failures.join("\n")
        );
        assert!(
            content.failures.is_empty(),
            "content mismatches:\n{}",
            content.failures.join("\n")
        );
    }

    #[test]
    fn golden_desc_is_byte_equal() {
        // Beyond text: the structure the reference emits for the golden description.
        let source = "# t\n\nSolve **t**. Your group is `{{ group }}` at tick {{ tick }}.\n\n{% call box(2000) %}\nHint for phase two: *look closer*.\n{% endcall %}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(\"hi\")\n```\n";
        let html = render(source, Some("thu"), 2000).unwrap_or_default();
        let expected = "<h1>t</h1>\n<p>Solve <strong>t</strong>. Your group is <code>thu</code> at tick 2000.</p>\n<div class=\"well\">\n<p>Hint for phase two: <em>look closer</em>.</p>\n</div>\n<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n<div class=\"codehilite\" style=\"background: #f8f8f8\"><pre style=\"line-height: 125%;\"><span></span><code><span style=\"color: #008000\">print</span>(<span style=\"color: #BA2121\">&quot;hi&quot;</span>)\n</code></pre></div>";
        assert_eq!(html, expected);
    }

    #[test]
    fn none_group_prints_like_python() {
        let html = render("Welcome, **{{ group }}**!", None, 0).unwrap_or_default();
        assert_eq!(html, "<p>Welcome, <strong>None</strong>!</p>");
        assert_eq!(
            render_jinja(
                "{{ true }} {{ false }} {{ none }} {{ undefined_name }}|",
                None,
                0
            )
            .ok()
            .as_deref(),
            Some("True False None |")
        );
        assert_eq!(
            render_jinja(
                "{{ [1, 'a', none, {'k': \"it's\"}]|safe }}|{{ [true]|string }}|{{ [2] }}",
                None,
                0
            )
            .ok()
            .as_deref(),
            Some("[1, 'a', None, {'k': \"it's\"}]|[True]|[2]")
        );
    }

    #[test]
    fn failure_gives_placeholder_and_error() {
        let (html, err) = render_or_placeholder("{% if %}", Some("staff"), 1);
        assert_eq!(html, FAILURE_HTML);
        assert!(err.is_some_and(|e| e.contains("syntax error")));
        let (html, err) = render_or_placeholder("{{ tick + 'x' }}", None, 1);
        assert_eq!(html, FAILURE_HTML);
        assert!(err.is_some());
        assert!(render("{% call box('soon') %}x{% endcall %}", None, 5).is_err());
        assert!(
            render("{{ box(1) }}", None, 5).is_err(),
            "box without a call block"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "{% for %}{{",
            "{{ {{ }} }}",
            "% endif",
            "% for x in",
            "{% call box() %}{% endcall %}",
            "{% call box(1, 2) %}{% endcall %}",
            "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "<div markdown>\n<div markdown>\n<p",
            "<div markdown=\"1\"><script>\n</div>",
            "```\n<div>\n```",
            "<!--gs-md-stash-99--> <!--gs-md-stash-0-->\n\n<!--gs-md-stash-x-->",
            "<gs-md-para/>\n\n<table><tr><td>",
            "\u{0}\u{2}\u{3}\r\r\n\t#\t",
            "    #!/usr/bin/env\n    :::\n",
            "    #!\n",
            "```{.}\n\n```",
            "``` hl_lines=\"1\n```",
            "| a |\n|---|\n| <div> |",
            "![![x](y)](z) [a](#b) [c](http://d)",
            "<div markdown>\n```python\nx = '<div>'\n```\n</div>",
            "<p markdown=\"span\">*a*\n\nb</p><div/><hr/><![CDATA[x]]><?pi?><!DOCTYPE html>",
        ];
        for sample in samples {
            let _ = render_or_placeholder(sample, Some("staff"), 1);
            let _ = render_or_placeholder(sample, None, 1);
            let _ = markdown_to_html(sample);
        }
        let nested = "<div markdown>\n".repeat(200);
        let _ = markdown_to_html(&nested);
        let braces = "{{ (".repeat(500);
        let _ = render_or_placeholder(&braces, None, 0);
    }

    #[test]
    fn random_input_never_panics() {
        // Deterministic xorshift over pieces that exercise every preprocessing path,
        // mixed with multi-byte text so that no slice lands inside a character.
        const PIECES: &[&str] = &[
            "\n",
            "\n\n",
            " ",
            "    ",
            "\t",
            "#",
            "##",
            "-",
            "*",
            "+",
            "1.",
            "2)",
            ">",
            "|",
            "`",
            "```",
            "~~~",
            "=",
            "---",
            "\\",
            "<",
            ">",
            "</",
            "/>",
            "<div",
            "<div markdown=\"1\">",
            "</div>",
            "<p>",
            "<hr>",
            "<!--",
            "-->",
            "<script>",
            "</script>",
            "<center>",
            "<caption>",
            "<gs-md-para/>",
            "<!--gs-md-stash-0-->",
            "[a](#b)",
            "[c](http://d)",
            "![e](f)",
            "**",
            "_",
            "&amp;",
            "&",
            "文字",
            "é",
            "🦀",
            "{{ group }}",
            "{{ tick }}",
            "{% call box(1) %}",
            "{% endcall %}",
            "% if tick:",
            "% endif",
            "{%",
            "%}",
            "{{",
            "}}",
            ":::python",
            "#!/bin/sh",
            "{.py}",
            "hl_lines=\"1\"",
            "a",
            "b c",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..4000 {
            let mut source = String::new();
            let pieces = 1 + (state % 24) as usize;
            for _ in 0..pieces {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                source.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let (html, _) = render_or_placeholder(&source, Some("staff"), 1);
            // The internal paragraph mark never leaks, unless the source wrote it.
            assert!(
                source.contains(PARA_MARK) || !html.contains(PARA_MARK),
                "{source:?} -> {html:?}"
            );
            let _ = markdown_to_html(&source);
        }
    }

    #[test]
    fn line_statements() {
        let source = "a\n% if tick >= 2000\nphase two\n% else\nphase one\n% endif\nb\n";
        assert_eq!(
            render_jinja(source, None, 2000).ok().as_deref(),
            Some("a\nphase two\nb")
        );
        assert_eq!(
            render_jinja(source, None, 1000).ok().as_deref(),
            Some("a\nphase one\nb")
        );
        let indented = "  % if group == 'staff'\nsecret\n  % endif\n";
        // Jinja drops one trailing newline of the source, here the `endif` line's.
        assert_eq!(
            render_jinja(indented, Some("staff"), 0).ok().as_deref(),
            Some("secret\n")
        );
        assert_eq!(render_jinja(indented, None, 0).ok().as_deref(), Some(""));
        // Python's Jinja also accepts a trailing colon.
        let colon = "% for i in [1, 2]:\n{{ i }}\n% endfor\n% if group:\ny\n% else:\nn\n% endif";
        assert_eq!(
            render_jinja(colon, None, 0).ok().as_deref(),
            Some("1\n2\nn\n")
        );
        // A colon that is not a body start stays (and is an error, as in Jinja).
        assert!(render_jinja("% set x = 1:\n", None, 0).is_err());
        // `%` not followed by a space is plain text.
        assert_eq!(
            render("%d of 100%", None, 0).ok().as_deref(),
            Some("<p>%d of 100%</p>")
        );
    }

    #[test]
    fn autoescape_like_markupsafe() {
        assert_eq!(
            render_jinja("{{ \"<b>\" }}", None, 0).ok().as_deref(),
            Some("&lt;b&gt;")
        );
        assert_eq!(
            render_jinja(
                "{{ \"a'b\\\"c/d&\" }}|{{ '<i>'|safe }}|{{ '<x>'|e }}",
                None,
                0
            )
            .ok()
            .as_deref(),
            Some("a&#39;b&#34;c/d&amp;|<i>|&lt;x&gt;")
        );
        let html = render("{{ \"<b>\" }} and `{{ \"<b>\" }}`", None, 0).unwrap_or_default();
        assert_eq!(html, "<p>&lt;b&gt; and <code>&amp;lt;b&amp;gt;</code></p>");
        assert_eq!(text_of(&html), "<b> and &lt;b&gt;");
        assert_eq!(
            render("{{ group }}", Some("<script>"), 0).ok().as_deref(),
            Some("<p>&lt;script&gt;</p>")
        );
    }

    #[test]
    fn box_shows_by_tick_or_staff() {
        let source = "before\n\n{% call box(2000) %}\nHint *x*.\n{% endcall %}\n\nafter";
        let player_early = render(source, Some("pku"), 1999).unwrap_or_default();
        assert_eq!(player_early, "<p>before</p>\n<p>after</p>");
        let player = render(source, Some("pku"), 2000).unwrap_or_default();
        assert_eq!(
            player,
            "<p>before</p>\n<div class=\"well\">\n<p>Hint <em>x</em>.</p>\n</div>\n<p>after</p>"
        );
        let guest = render(source, None, 3000).unwrap_or_default();
        assert_eq!(guest, player);
        let staff_early = render(source, Some("staff"), 1000).unwrap_or_default();
        assert_eq!(
            staff_early,
            "<p>before</p>\n<div class=\"well\">\n<p><em>(&gt;=2000)</em></p>\n<p>Hint <em>x</em>.</p>\n</div>\n<p>after</p>"
        );
        assert_eq!(text_of(&staff_early), "before (>=2000) Hint x. after");
        let staff_late = render(source, Some("staff"), 2000).unwrap_or_default();
        assert_eq!(staff_late, player);
        // The body is Jinja too, and the box works inside line statements.
        let nested = "% if true\n{% call box(tick) %}\nAt {{ tick }}\n{% endcall %}\n% endif\n";
        assert_eq!(
            render(nested, None, 7).ok().as_deref(),
            Some("<div class=\"well\">\n<p>At 7</p>\n</div>")
        );
    }

    #[test]
    fn links_open_in_new_tab_except_anchors() {
        let html = render(
            "[ext](https://example.com/?a=1&b=2) [rel](/x) [anchor](#/game) <https://auto.example>",
            None,
            0,
        )
        .unwrap_or_default();
        assert_eq!(
            html,
            "<p><a target=\"_blank\" rel=\"noopener noreferrer\" href=\"https://example.com/?a=1&amp;b=2\">ext</a> \
             <a target=\"_blank\" rel=\"noopener noreferrer\" href=\"/x\">rel</a> \
             <a href=\"#/game\">anchor</a> \
             <a target=\"_blank\" rel=\"noopener noreferrer\" href=\"https://auto.example\">https://auto.example</a></p>"
        );
        // Raw HTML is stashed by the reference before its link postprocessor runs.
        let raw = markdown_to_html("<p><a href=\"https://x.example\">x</a></p>");
        assert_eq!(raw, "<p><a href=\"https://x.example\">x</a></p>");
        // Links inside markdown blocks are Markdown links.
        let well =
            markdown_to_html("<div class=\"well\" markdown=\"1\">\n[y](https://y.example)\n</div>");
        assert_eq!(
            well,
            "<div class=\"well\">\n<p><a target=\"_blank\" rel=\"noopener noreferrer\" href=\"https://y.example\">y</a></p>\n</div>"
        );
    }

    #[test]
    fn python_markdown_html_blocks() {
        // Raw block-level HTML runs to its closing tag, blank lines included.
        let raw = markdown_to_html("<div>\n*a*\n\n    b\n</div>\n\n*c*");
        assert_eq!(raw, "<div>\n*a*\n\n    b\n</div>\n<p><em>c</em></p>");
        // Inline-level tags at line start are paragraph text, Markdown applies, even
        // where CommonMark would open an HTML block.
        assert_eq!(
            markdown_to_html("<caption>**bold**</caption>"),
            "<p><caption><strong>bold</strong></caption></p>"
        );
        assert_eq!(
            markdown_to_html("<center>**bold**</center>"),
            "<center>**bold**</center>"
        );
        assert_eq!(
            markdown_to_html("<span>\n*x*\n</span>"),
            "<p><span>\n<em>x</em>\n</span></p>"
        );
        // Nested markdown blocks and raw HTML inside them.
        let nested = markdown_to_html(
            "<div markdown=\"1\" class=\"a\">\n# T\n<div markdown>\n- i\n</div>\n<p>*raw*</p>\n</div>",
        );
        assert_eq!(
            nested,
            "<div class=\"a\">\n<h1>T</h1>\n<div>\n<ul>\n<li>i</li>\n</ul>\n</div>\n<p>*raw*</p>\n</div>"
        );
        // Fenced code inside a raw block is still highlighted (fences are cut out first).
        let fenced = markdown_to_html("<div>\n```\n<b>\n```\n</div>");
        assert!(fenced.contains("<code>&lt;b&gt;\n</code>"), "{fenced}");
        // A template cannot forge a stash placeholder to repeat a stashed block.
        let forged =
            markdown_to_html("```\nx\n```\n\n<div>\n<!--\u{2}gs-md-stash-0\u{3}-->\n</div>");
        assert_eq!(forged.matches("codehilite").count(), 1, "{forged}");
        assert_eq!(markdown_to_html("#Title"), "<h1>Title</h1>");
        // A list needs a blank line before it; `1)` is never a list marker.
        assert_eq!(
            markdown_to_html("**Note:**\n- a\n1. b\n\n- c\n- d\n\n1) e"),
            "<p><strong>Note:</strong>\n- a\n1. b</p>\n<ul>\n<li>c</li>\n<li>d</li>\n</ul>\n<p>1) e</p>"
        );
        assert_eq!(
            markdown_to_html("text\n---\n\n* * *"),
            "<h2>text</h2>\n<hr>"
        );
        // The same inside a quote; nesting takes 4 spaces; a table row may look like a list.
        assert_eq!(
            markdown_to_html("> Note:\n> - a\n> - b"),
            "<blockquote>\n<p>Note:\n- a\n- b</p>\n</blockquote>"
        );
        assert_eq!(
            text_of(&markdown_to_html(
                "- Flag 1:\n    - sub one\n    - sub two\n- Flag 2"
            )),
            "Flag 1: sub one sub two Flag 2"
        );
        assert!(
            markdown_to_html("- a\n\n    para in a\n\n        code in a")
                .contains("<code>code in a\n")
        );
        assert_eq!(
            markdown_to_html("Title\n=====\n- after heading"),
            "<h1>Title</h1>\n<ul>\n<li>after heading</li>\n</ul>"
        );
        let table = markdown_to_html("a | b\n--|--\n- x | `p|q`");
        assert!(
            table.contains("<td>- x</td>\n<td><code>p|q</code></td>"),
            "{table}"
        );
        assert_eq!(markdown_to_html("a  \nb\n\n---"), "<p>a<br>\nb</p>\n<hr>");
    }

    #[test]
    fn code_blocks() {
        let unknown = markdown_to_html("```nosuchlang\na < b\n```");
        assert_eq!(
            unknown,
            "<div class=\"codehilite\" style=\"background: #f8f8f8\"><pre style=\"line-height: 125%;\"><span></span><code>a &lt; b\n</code></pre></div>"
        );
        let indented = markdown_to_html("text\n\n    :::python\n    def f(): pass\n");
        assert!(
            indented.contains("<span style=\"color: #008000; font-weight: bold\">def</span>"),
            "{indented}"
        );
        assert!(!indented.contains(":::"), "{indented}");
        let shebang = markdown_to_html("    #!/bin/sh\n    echo hi\n");
        // A real shebang stays in the code and, as in CodeHilite, turns on line numbers.
        assert!(
            text_of(&shebang).starts_with("1 2#!/bin/sh echo hi"),
            "{shebang}"
        );
        let attrs = markdown_to_html("~~~{.rust .extra}\nfn main() {}\n~~~");
        assert!(attrs.contains("<span"), "{attrs}");
        // Python-Markdown needs the closing fence to match exactly; else no code block.
        let tilde = markdown_to_html("~~~\ncode\n~~~~\n\n~~~");
        assert_eq!(text_of(&tilde), "code ~~~~");
    }

    #[test]
    #[ignore = "timing; run with --release -- --ignored --nocapture"]
    fn render_is_fast() {
        let dump = load("running.contest.json");
        let golden = dump["tables"]["challenge"][0]["desc_template"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // A long real-world shape: prose, a hint box with a list, a table, 40 lines of code.
        let code: String = (0..40)
            .map(|i| format!("    x{i} = f(\"{i}\")  # c\n"))
            .collect();
        let long = format!(
            "# Title\n\n{}\n\n{{% call box(2000) %}}\n**提示：**\n\n- a [l](https://x.example)\n- b\n\
             {{% endcall %}}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\ndef f(x):\n{code}```\n",
            "Some *text* with `code`, **bold** and a [link](https://example.com). ".repeat(20)
        );
        let started = std::time::Instant::now();
        let _ = render(&golden, Some("staff"), 2000);
        println!("first render (environment build): {:?}", started.elapsed());
        for (name, source) in [("golden", &golden), ("long", &long)] {
            let _ = render(source, Some("staff"), 2000);
            let runs = 1000u32;
            let started = std::time::Instant::now();
            for i in 0..runs {
                let group = if i % 2 == 0 { Some("staff") } else { None };
                let _ = render(source, group, 2000);
            }
            let each = started.elapsed() / runs;
            println!("render {name} ({} bytes): {each:?}", source.len());
            assert!(each < std::time::Duration::from_millis(1));
        }
    }
}
