//! Python-Markdown's block rules where they differ from CommonMark, as rewrites of the
//! lines pulldown-cmark reads: lists, quotes, tables, headings, fences and backslashes.

use std::borrow::Cow;
use std::collections::HashMap;

use super::html::{parse_end_tag, parse_start_tag, PARA_MARK};

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

/// Tracks the block context line by line. Quoted content, and a list item's content
/// indented after a blank line, have a context of their own: Python-Markdown parses
/// each as a document of its own.
#[derive(Default)]
pub(super) struct LineAdapter {
    pub(super) block: Block,
    quote_inner: Block,
    /// Content column of the last top-level list item, for re-indenting its content.
    list_col: usize,
    /// A blank line followed a list: lines indented 4+ continue its last item.
    after_list: bool,
    list_inner: Block,
}

impl LineAdapter {
    pub(super) fn adapt<'a>(&mut self, line: &'a str, table: bool, setext: bool) -> Cow<'a, str> {
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
pub(super) enum Block {
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
pub(super) fn is_setext_underline(line: &str) -> bool {
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
    if matches!(block, Block::Code | Block::None) && leading_spaces(line) >= 4 {
        return (Cow::Borrowed(line), Block::Code);
    }
    // A less indented line ends a code block (in a quote or a list item too).
    let block = if block == Block::Code {
        Block::None
    } else {
        block
    };
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
        (Block::None, Some((_, ordered))) => (mark_item_content(line), Block::List { ordered }),
        (Block::List { ordered }, Some((_, kind))) if kind != ordered => (mark_line(line), block),
        (Block::List { .. }, Some(_)) => (mark_item_content(line), block),
        (Block::List { .. }, None) if indent >= 4 && list_marker(line.trim_start()).is_some() => {
            // Python-Markdown nests by 4 spaces per level; CommonMark by the parent's
            // content column, which is at most 4 for `- ` and `1. ` items.
            let nested = format!("{}{}", " ".repeat(indent / 4 * 4), line.trim_start());
            (Cow::Owned(mark_item_content(&nested).into_owned()), block)
        }
        (Block::List { .. }, None) if commonmark_would_open_html(&line[indent..], false) => {
            // An indented continuation line of an item: inside the item CommonMark would
            // open an HTML block here, Python-Markdown reads the tag as inline HTML.
            (
                Cow::Owned(format!("{}{PARA_MARK}{}", &line[..indent], &line[indent..])),
                block,
            )
        }
        (Block::ParaStart | Block::Para, Some(_)) => (mark_line(line), Block::Para),
        (Block::ParaStart | Block::Para, None) if is_delimiter_row(line) => {
            // Not a table for Python-Markdown (it checked the chunk): keep it text.
            (mark_line(line), Block::Para)
        }
        _ => (Cow::Borrowed(line), text_block),
    }
}

/// Marks a list item's content where CommonMark would open an HTML block: Python-Markdown
/// cuts raw HTML out only at a line's start, so after a list marker a tag is inline HTML.
fn mark_item_content(line: &str) -> Cow<'_, str> {
    let indent = leading_spaces(line);
    let Some((marker, _)) = list_marker(&line[indent..]) else {
        return Cow::Borrowed(line);
    };
    let after = indent + marker + 1;
    let content = after + leading_spaces(&line[after..]);
    if list_marker(&line[content..]).is_some() {
        // `- - <br>`: an item opening a list; its own content is the one to look at.
        return match mark_item_content(&line[content..]) {
            Cow::Owned(inner) => Cow::Owned(format!("{}{inner}", &line[..content])),
            Cow::Borrowed(_) => Cow::Borrowed(line),
        };
    }
    if commonmark_would_open_html(&line[content..], true) {
        Cow::Owned(format!(
            "{}{PARA_MARK}{}",
            &line[..content],
            &line[content..]
        ))
    } else {
        Cow::Borrowed(line)
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
pub(super) fn python_is_table(chunk: &[&str]) -> bool {
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
