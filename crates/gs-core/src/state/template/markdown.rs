//! The Markdown stage: Python-Markdown's preprocessors (whitespace, fenced code, raw
//! HTML and `markdown` blocks) around pulldown-cmark, which parses what is left.

use std::collections::HashMap;

use pulldown_cmark::{Options, Parser};

use super::dialect::{is_setext_underline, python_is_table, Block, LineAdapter};
use super::highlight::{highlight_block, is_lang_char};
use super::html::{
    find_element_end, is_block_level, parse_start_tag, placeholder, serialize_start_tag,
    skip_cdata, skip_markup_decl, HtmlWriter, StartTag,
};

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

/// md_in_html: tags whose content gets only inline Markdown.
#[rustfmt::skip]
const SPAN_TAGS: &[&str] = &[
    "address", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "legend", "li", "p", "summary",
    "td", "th",
];

/// md_in_html: block-level tags whose content is never parsed.
#[rustfmt::skip]
const MD_RAW_TAGS: &[&str] = &["canvas", "math", "option", "pre", "script", "style", "textarea"];

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

/// Extracts HTML blocks, then parses the rest as CommonMark and writes HTML.
fn render_blocks(text: &str, stash: &mut Vec<String>, depth: usize) -> String {
    let text = extract_html_blocks(text, stash, depth);
    let mut writer = HtmlWriter::new(stash, text.len());
    for event in Parser::new_ext(&text, Options::ENABLE_TABLES) {
        writer.event(event);
    }
    writer.out
}
