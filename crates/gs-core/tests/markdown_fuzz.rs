//! Property tests of the Markdown/HTML layer with generated documents: nested lists,
//! quotes, emphasis, code spans and blocks, raw and `markdown` HTML blocks, tables,
//! links, images, entities, stray punctuation and unicode, inside and outside `box`.
//! Rendering never panics, and every tag the output opens is closed in order.
//!
//! Raw HTML in the documents is well-formed and holds no Markdown delimiters inside
//! inline tags: raw HTML is passed through as written (as Python-Markdown does), so an
//! unclosed `<div>` in a template is the author's, and `*<b>*x*</b>*` nests badly in
//! CommonMark and Python-Markdown alike.

use gs_core::state::template::{markdown_to_html, render};
use proptest::prelude::*;

/// Elements that have no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Checks that every start tag in `html` is closed, innermost first. Comments are
/// skipped; `<script>`/`<style>` content is text.
fn check_balanced(html: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").ok_or("unclosed comment")?;
            rest = &comment[end + 3..];
            continue;
        }
        let end = rest
            .find('>')
            .ok_or_else(|| format!("unclosed tag at {rest:.40?}"))?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match open.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("`<` that is no tag: {tag:.40?}"));
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let end = rest
                .find(&close)
                .ok_or_else(|| format!("unclosed <{name}>"))?;
            rest = &rest[end + close.len()..];
            continue;
        }
        open.push(name);
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("left open: {open:?}"))
    }
}

#[test]
fn the_checker_finds_unbalanced_tags() {
    assert!(check_balanced("<p>a<br><em>b</em><!-- <x> --></p><hr/>").is_ok());
    assert!(check_balanced("<p><em>a</p></em>").is_err());
    assert!(check_balanced("<div><p>a</p>").is_err());
    assert!(check_balanced("a</b>").is_err());
    assert!(check_balanced("<script>if (a < b) x()</script>").is_ok());
}

/// Plain words: ASCII, CJK, emoji, combining marks, right-to-left text, odd spaces.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,8}",
        Just("文字".to_owned()),
        Just("提示：".to_owned()),
        Just("🦀".to_owned()),
        Just("👩\u{200d}💻".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("עברית".to_owned()),
        Just("a\u{a0}b".to_owned()),
        Just("ｆｕｌｌ".to_owned()),
    ]
}

/// Text that may hold Markdown punctuation that opens nothing by itself.
fn text() -> impl Strategy<Value = String> {
    let stray = prop_oneof![
        Just("*"),
        Just("_"),
        Just("**"),
        Just("`"),
        Just("|"),
        Just("["),
        Just("]"),
        Just("\\"),
        Just("\\*"),
        Just("#"),
        Just("1 < 2"),
        Just("a > b"),
        Just("&"),
        Just("&amp;"),
        Just("&copy;"),
        Just("&#x1F980;"),
        Just("~~"),
        Just("!"),
        Just(":"),
    ];
    prop::collection::vec(
        prop_oneof![4 => word(), 1 => stray.prop_map(str::to_owned)],
        1..6,
    )
    .prop_map(|parts| parts.join(" "))
}

/// Inline Markdown: emphasis, code spans, links, images, autolinks, raw inline HTML.
fn inline() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => text(),
        1 => word().prop_map(|w| format!("`{w}`")),
        1 => text().prop_map(|t| format!("`` {t} ``")),
        1 => word().prop_map(|w| format!("<https://{w}.example>")),
        1 => word().prop_map(|w| format!("![{w}](/img/{w}.png \"t\")")),
        1 => word().prop_map(|w| format!("<b>{w}</b>")),
        1 => word().prop_map(|w| format!("<span class=\"x\">{w}</span>")),
        1 => Just("<br>".to_owned()),
        1 => Just("a  \nb".to_owned()),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        let children = prop::collection::vec(inner, 1..4).prop_map(|c| c.join(" "));
        prop_oneof![
            children.clone().prop_map(|c| format!("*{c}*")),
            children.clone().prop_map(|c| format!("**{c}**")),
            children.clone().prop_map(|c| format!("_{c}_")),
            children
                .clone()
                .prop_map(|c| format!("[{c}](https://x.example/?a=1&b=2)")),
            children.clone().prop_map(|c| format!("[{c}](#anchor)")),
            children.prop_map(|c| format!("~~{c}~~")),
        ]
    })
}

/// Languages for code blocks: known ones, an unknown one, none.
fn lang() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("python"),
        Just("c"),
        Just("diff"),
        Just("nosuchlang"),
        Just("")
    ]
}

/// Code lines, with what would be Markdown or HTML outside a code block.
fn code() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            text(),
            Just("<div>*not markdown*</div>".to_owned()),
            Just("x = \"<b>b</b>\" & 1  # c".to_owned()),
            Just("+ added".to_owned()),
            Just("``` not a closing fence".to_owned()),
            Just(String::new()),
        ],
        1..5,
    )
    .prop_map(|lines| lines.join("\n"))
}

/// A Markdown block: paragraph, heading, rule, indented code, table.
fn leaf_block() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => inline(),
        1 => (1usize..8, inline()).prop_map(|(n, t)| format!("{} {t}", "#".repeat(n))),
        1 => inline().prop_map(|t| format!("{t}\n---")),
        1 => Just("* * *".to_owned()),
        1 => code().prop_map(|c| format!("    :::python\n    {}", c.replace('\n', "\n    "))),
        1 => (prop::collection::vec(inline(), 2..4), 1usize..4).prop_map(|(cells, rows)| {
            let row = format!("| {} |", cells.join(" | "));
            let delim = format!("|{}", ":---|".repeat(cells.len()));
            format!("{row}\n{delim}\n{}", vec![row.clone(); rows].join("\n"))
        }),
    ]
}

/// The list marker of item `index`.
fn marker(index: usize, ordered: bool) -> String {
    if ordered {
        format!("{}.", index + 1)
    } else {
        "-".to_owned()
    }
}

/// Markdown blocks nested in tight lists and in quotes.
fn markdown_block() -> impl Strategy<Value = String> {
    leaf_block().prop_recursive(3, 16, 4, |inner| {
        let items = prop::collection::vec(inner, 1..4);
        prop_oneof![
            (items.clone(), any::<bool>()).prop_map(|(items, ordered)| {
                let lines: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        // `-     code` is the text `code` in Python-Markdown but code in
                        // CommonMark: let a word open the item, the rest continues it.
                        let item = if item.starts_with(' ') {
                            format!("item\n{item}")
                        } else {
                            item.clone()
                        };
                        // Continuation lines and nested blocks are indented by four.
                        format!("{} {}", marker(i, ordered), item.replace('\n', "\n    "))
                    })
                    .collect();
                lines.join("\n")
            }),
            items.prop_map(|items| {
                items
                    .iter()
                    .map(|b| format!("> {}", b.replace('\n', "\n> ")))
                    .collect::<Vec<_>>()
                    .join("\n>\n")
            }),
        ]
    })
}

/// A loose list: items of a paragraph and, after a blank line, a block indented by four.
/// (Nested two levels deep, such item content is beyond what the Markdown stage models.)
fn loose_list() -> impl Strategy<Value = String> {
    let item = (inline(), leaf_block());
    (prop::collection::vec(item, 1..4), any::<bool>()).prop_map(|(items, ordered)| {
        let items: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, (first, block))| {
                let block = block.replace('\n', "\n    ");
                format!(
                    "{} {}\n\n    {block}",
                    marker(i, ordered),
                    first.replace('\n', " ")
                )
            })
            .collect();
        items.join("\n\n")
    })
}

/// Fenced code and raw HTML blocks. Python-Markdown cuts them out at the document level
/// (and inside `markdown` blocks) only: inside a list item or a quote a fence is a code
/// span and a `<div>` inline HTML.
fn raw_block() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => (lang(), code()).prop_map(|(l, c)| format!("```{l}\n{c}\n```")),
        1 => (lang(), code()).prop_map(|(l, c)| format!("~~~{{.{l} .x}}\n{c}\n~~~")),
        1 => word().prop_map(|w| format!("<div class=\"raw\">\n<p>{w} *{w}*</p>\n\n<b>x</b>\n</div>")),
        1 => Just("<table><tr><td>1</td></tr></table>".to_owned()),
        1 => Just("<script>\nif (a < b && c > d) { go(); }\n</script>".to_owned()),
        1 => Just("<!-- a comment with <tags> -->".to_owned()),
        1 => Just("<hr>".to_owned()),
    ]
}

/// Document-level blocks: Markdown, raw HTML, and `markdown` blocks holding more.
fn blocks() -> impl Strategy<Value = Vec<String>> {
    let block = prop_oneof![4 => markdown_block(), 1 => loose_list(), 1 => raw_block()];
    let block = block.prop_recursive(2, 16, 4, |inner| {
        prop::collection::vec(inner, 1..4).prop_map(|items| {
            format!(
                "<div class=\"well\" markdown=\"1\">\n{}\n</div>",
                items.join("\n\n")
            )
        })
    });
    prop::collection::vec(block, 1..8)
}

/// A document: blocks separated by one or two blank lines, some line endings `\r\n`.
fn document() -> impl Strategy<Value = String> {
    (blocks(), any::<bool>(), any::<bool>()).prop_map(|(blocks, loose, crlf)| {
        let doc = blocks.join(if loose { "\n\n\n" } else { "\n\n" });
        if crlf {
            doc.replace('\n', "\r\n")
        } else {
            doc
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn markdown_output_is_balanced(doc in document()) {
        let html = markdown_to_html(&doc);
        if let Err(problem) = check_balanced(&html) {
            prop_assert!(false, "{problem}\n--- source:\n{doc}\n--- html:\n{html}");
        }
    }

    #[test]
    fn templates_with_boxes_render_balanced(
        boxed in document(),
        tick in prop_oneof![Just(0i64), Just(5000)],
        staff in any::<bool>(),
    ) {
        let source = format!("Intro.\n\n{{% call box(1000) %}}\n{boxed}\n{{% endcall %}}\n");
        let group = if staff { Some("staff") } else { None };
        let html = render(&source, group, tick);
        prop_assert!(html.is_ok(), "{html:?}\n--- source:\n{source}");
        let html = html.unwrap_or_default();
        if let Err(problem) = check_balanced(&html) {
            prop_assert!(false, "{problem}\n--- source:\n{source}\n--- html:\n{html}");
        }
    }
}
