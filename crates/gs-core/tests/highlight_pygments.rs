//! How closely code highlighting follows the reference's Pygments: per visible character,
//! whether our inline style is the one Pygments 2.14 writes (`tests/data/pygments.json`,
//! made by `scripts/pygments-fixture.py`). The `tuning` samples were looked at while the
//! scope map was written; the `held-out` ones were not. Run with `--nocapture` for the
//! table per language.

use gs_core::state::template::markdown_to_html;
use serde_json::Value;
use std::collections::BTreeMap;

/// Characters with their inline style ("" for unstyled text) from `<span style>` markup.
fn styled_chars(markup: &str) -> Vec<(char, String)> {
    const OPEN: &str = "<span style=\"";
    let mut out = Vec::new();
    let mut rest = markup;
    while !rest.is_empty() {
        let (style, text, after) = match rest.strip_prefix(OPEN) {
            Some(span) => {
                let (style, body) = span.split_once("\">").expect("span start");
                let (text, after) = body.split_once("</span>").expect("span end");
                (style, text, after)
            }
            None => {
                let end = rest.find(OPEN).unwrap_or(rest.len());
                ("", &rest[..end], &rest[end..])
            }
        };
        out.extend(unescape(text).chars().map(|c| (c, style.to_owned())));
        rest = after;
    }
    out
}

/// The entities Pygments and our highlighter write.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Our highlighting of `code`: the inside of the `<code>` element of a fenced block.
fn ours(lang: &str, code: &str) -> String {
    let html = markdown_to_html(&format!("```{lang}\n{code}```\n"));
    let start = html.find("<code>").expect("code element") + "<code>".len();
    let end = html.rfind("</code>").expect("code element");
    html[start..end].to_owned()
}

#[test]
fn highlighting_agrees_with_pygments() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pygments.json");
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    // (set, language) → (characters styled alike, visible characters)
    let mut tally: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for sample in data["samples"].as_array().expect("samples") {
        let (set, lang) = (
            sample["set"].as_str().unwrap(),
            sample["lang"].as_str().unwrap(),
        );
        let code = sample["code"].as_str().unwrap();
        let mut expected = Vec::new();
        for run in sample["runs"].as_array().unwrap() {
            let style = run[0].as_str().unwrap();
            expected.extend(
                run[1]
                    .as_str()
                    .unwrap()
                    .chars()
                    .map(|c| (c, style.to_owned())),
            );
        }
        let got = styled_chars(&ours(lang, code));
        let text = |chars: &[(char, String)]| chars.iter().map(|(c, _)| *c).collect::<String>();
        assert_eq!(
            text(&got).trim_end(),
            text(&expected).trim_end(),
            "{set} {lang}: the text itself differs"
        );
        let entry = tally.entry((set.to_owned(), lang.to_owned())).or_default();
        // White space carries no visible style (Pygments colors some of it #bbbbbb).
        for ((c, want), (_, have)) in expected.iter().zip(&got) {
            if !c.is_whitespace() {
                entry.1 += 1;
                entry.0 += usize::from(want == have);
            }
        }
    }
    let mut per_set: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((set, lang), (same, all)) in &tally {
        println!(
            "{set:9} {lang:12} {same:4}/{all:4} = {:5.1}%",
            pct(*same, *all)
        );
        let total = per_set.entry(set).or_default();
        total.0 += same;
        total.1 += all;
        assert!(
            pct(*same, *all) >= 70.0,
            "{set} {lang}: only {:.1}% styled as Pygments does",
            pct(*same, *all)
        );
    }
    for (set, (same, all)) in &per_set {
        println!(
            "{set:9} {:12} {same:4}/{all:4} = {:5.1}%",
            "all",
            pct(*same, *all)
        );
        assert!(pct(*same, *all) >= 90.0, "{set}: {:.1}%", pct(*same, *all));
    }
}

fn pct(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}
