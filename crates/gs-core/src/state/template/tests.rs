//! Unit tests of template rendering: the golden texts, Jinja and Markdown behaviour.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::html::PARA_MARK;
use super::*;

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
    // Floats as Python prints them (shortest digits, its exponent form), also in lists;
    // dict keys that are numbers stay numbers.
    assert_eq!(
        render_jinja(
            "{{ 1e16 }} {{ 1.5e-5 }} {{ 0.1 + 0.2 }} {{ 2.0 }} {{ [1e16, -0.0] }} {{ {1: 2.5} }}",
            None,
            0
        )
        .ok()
        .as_deref(),
        Some("1e+16 1.5e-05 0.30000000000000004 2.0 [1e+16, -0.0] {1: 2.5}")
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
    let forged = markdown_to_html("```\nx\n```\n\n<div>\n<!--\u{2}gs-md-stash-0\u{3}-->\n</div>");
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
        markdown_to_html("- a\n\n    para in a\n\n        code in a").contains("<code>code in a\n")
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

/// Cases the property tests (tests/markdown_fuzz.rs) found unbalanced: Python-Markdown
/// cuts raw HTML blocks out at a line's start only, so after a list marker, and after a
/// code block in a quote, a block-level tag is inline HTML.
#[test]
fn tags_after_list_markers_are_inline() {
    assert_eq!(
        markdown_to_html("- <div class=\"x\">\n    <https://a.example>\n    </div>"),
        "<ul>\n<li><div class=\"x\">\n<a target=\"_blank\" rel=\"noopener noreferrer\" \
         href=\"https://a.example\">https://a.example</a>\n</div></li>\n</ul>"
    );
    assert_eq!(
        markdown_to_html("1. <span>\n*x*\n</span>"),
        "<ol>\n<li><span>\n<em>x</em>\n</span></li>\n</ol>"
    );
    // On an item's indented continuation line too (found by tests/markdown_fuzz.rs; as
    // Python-Markdown 3 renders it but for the continuation lines' indentation, which it
    // keeps).
    assert_eq!(
        markdown_to_html("- item\n    <div>*x*</div>\n    1 < 2\n"),
        "<ul>\n<li>item\n<div><em>x</em></div>\n1 &lt; 2</li>\n</ul>"
    );
    let nested = markdown_to_html("- - <br>\n    - <https://a.example>");
    assert!(nested.contains("<li><br><ul>"), "{nested}");
    assert!(!nested.contains("<https:"), "{nested}");
    let quoted = markdown_to_html("> a\n>\n>     code\n> <div>\n> *x*");
    assert!(
        quoted.ends_with("</code></pre></div>\n<p><div>\n<em>x</em></p>\n</blockquote>"),
        "{quoted}"
    );
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
fn highlight_tables_are_consistent() {
    let problems = super::highlight::table_problems();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The inline style of the first span around `text` in `html`, if any.
fn style_of<'h>(html: &'h str, text: &str) -> Option<&'h str> {
    let at = html.find(&format!("\">{text}</span>"))?;
    let open = html[..at].rfind("<span style=\"")?;
    Some(&html[open + "<span style=\"".len()..at])
}

#[test]
fn highlighting_of_more_languages() {
    let c = markdown_to_html("```c\n#include <stdio.h>\nint x; // note: if\n```");
    // The preprocessor line is preprocessor text, its file name styled as a comment.
    assert_eq!(style_of(&c, "#include "), Some("color: #9C6500"), "{c}");
    assert_eq!(
        style_of(&c, "&lt;stdio.h&gt;"),
        Some("color: #3D7B7B; font-style: italic")
    );
    assert_eq!(style_of(&c, "int"), Some("color: #B00040"));
    // A keyword inside a comment is comment text.
    assert_eq!(
        style_of(&c, "// note: if"),
        Some("color: #3D7B7B; font-style: italic")
    );
    let keyword = Some("color: #008000; font-weight: bold");
    for (lang, code, word) in [
        ("typescript", "interface P { x: number }", "interface"),
        ("kotlin", "fun main() { val x = 1 }", "fun"),
        ("solidity", "contract Token { }", "contract"),
        ("toml", "[package]\nname = \"x\"", "[package]"),
        ("lua", "local function f() end", "local"),
    ] {
        let html = markdown_to_html(&format!("```{lang}\n{code}\n```"));
        assert_eq!(style_of(&html, word), keyword, "{lang}: {html}");
    }
    let asm = markdown_to_html("```nasm\nmov rax, 60\n```");
    assert_eq!(style_of(&asm, "mov"), Some("color: #0000FF"), "{asm}");
    // Pygments names that are no syntax's name or extension go through the alias table.
    let shell = markdown_to_html("```shell\necho $HOME\n```");
    assert_eq!(style_of(&shell, "echo"), Some("color: #008000"), "{shell}");
    // A block too long to highlight quickly is written plain, like an unknown language.
    let long = format!("```python\n{}```", "print(1)\n".repeat(4000));
    let html = markdown_to_html(&long);
    assert!(html.contains("print(1)") && !html.contains("<span style"));
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
    // Bars per render: the golden description (one line of Python) and the long one
    // (41 lines): syntect's grammars take roughly 100 to 300 µs per line of code.
    let bars = [("golden", &golden, 1), ("long", &long, 25)];
    for (name, source, bar_ms) in bars {
        let _ = render(source, Some("staff"), 2000);
        let runs = 100u32;
        let started = std::time::Instant::now();
        for i in 0..runs {
            let group = if i % 2 == 0 { Some("staff") } else { None };
            let _ = render(source, group, 2000);
        }
        let each = started.elapsed() / runs;
        println!("render {name} ({} bytes): {each:?}", source.len());
        assert!(
            each < std::time::Duration::from_millis(bar_ms),
            "{name}: {each:?}"
        );
    }
}
