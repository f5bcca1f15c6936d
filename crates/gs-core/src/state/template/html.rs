//! HTML as Python-Markdown reads and writes it: a lenient tag parser (html.parser's
//! rules) for raw blocks, the stash markers, and the writer of pulldown-cmark's events.

use std::collections::HashMap;

use pulldown_cmark::{Alignment, CodeBlockKind, Event, Tag, TagEnd};

use super::highlight::{highlight_block, highlight_indented};

/// The HTML-comment placeholder that stands for a stashed fragment. Like Python-Markdown's
/// it holds STX/ETX, which are stripped from the input, so a template cannot forge one.
const STASH_PREFIX: &str = "<!--\u{2}gs-md-stash-";
const STASH_SUFFIX: &str = "\u{3}-->";
/// An empty inline tag put before a line so CommonMark reads it as paragraph text, as
/// Python-Markdown does, instead of an HTML block; the writer drops it.
pub(super) const PARA_MARK: &str = "<gs-md-para/>";

pub(super) fn placeholder(index: usize) -> String {
    format!("{STASH_PREFIX}{index}{STASH_SUFFIX}")
}

fn placeholder_index(html: &str) -> Option<usize> {
    html.trim()
        .strip_prefix(STASH_PREFIX)?
        .strip_suffix(STASH_SUFFIX)?
        .parse()
        .ok()
}

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

pub(super) fn is_block_level(tag: &str) -> bool {
    BLOCK_LEVEL_TAGS.contains(&tag)
}

/// A parsed start tag.
pub(super) struct StartTag {
    pub(super) name: String,
    pub(super) attrs: Vec<(String, Option<String>)>,
    /// Byte offset just past the closing `>`.
    pub(super) end: usize,
    pub(super) self_closing: bool,
}

fn is_tag_name_char(b: u8) -> bool {
    !matches!(
        b,
        b'\t' | b'\n' | b'\r' | b'\x0c' | b' ' | b'/' | b'>' | b'\0'
    )
}

/// Parses `<name attr=value ...>` at `pos` leniently, like Python's html.parser.
pub(super) fn parse_start_tag(text: &str, pos: usize) -> Option<StartTag> {
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
pub(super) fn parse_end_tag(text: &str, pos: usize) -> Option<(String, usize)> {
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
pub(super) fn skip_markup_decl(text: &str, pos: usize) -> Option<usize> {
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
pub(super) fn skip_cdata(text: &str, from: usize, tag: &str) -> usize {
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
pub(super) fn find_element_end(
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
pub(super) fn serialize_start_tag(tag: &StartTag) -> String {
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
pub(super) struct HtmlWriter<'s> {
    pub(super) out: String,
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
    pub(super) fn new(stash: &'s [String], capacity: usize) -> Self {
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

    pub(super) fn event(&mut self, event: Event<'_>) {
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
