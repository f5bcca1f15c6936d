//! Benchmarks of template rendering (Jinja, then Markdown with highlighted code): every
//! challenge description and announcement of the golden contests as a guest, a player and
//! staff, and one code-heavy description that the highlighter dominates.
//!
//! Run: `cargo bench -p gs-core --bench templates`

use criterion::{criterion_group, criterion_main, Criterion};
use gs_core::state::template::render;
use serde_json::Value;

/// A template with the tick its contest is at.
struct Golden {
    source: String,
    tick: i64,
}

/// Every `desc_template` and `content_template` of the two golden contest dumps.
fn golden_templates() -> Vec<Golden> {
    let mut templates = Vec::new();
    for (name, tick) in [("running", 2000), ("ended", 9000)] {
        let path = gs_core::testing::golden_dir().join(format!("{name}.contest.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let dump: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (table, column) in [
            ("challenge", "desc_template"),
            ("announcement", "content_template"),
        ] {
            for row in dump["tables"][table].as_array().into_iter().flatten() {
                if let Some(source) = row[column].as_str() {
                    templates.push(Golden {
                        source: source.to_owned(),
                        tick,
                    });
                }
            }
        }
    }
    assert!(!templates.is_empty(), "no golden templates found");
    templates
}

/// Viewer groups the golden answers were asked as: guest, player, staff.
const GROUPS: [Option<&str>; 3] = [None, Some("pku"), Some("staff")];

fn golden(c: &mut Criterion) {
    let templates = golden_templates();
    let renders = templates.len() * GROUPS.len();
    c.bench_function(
        &format!("render all golden templates ({renders} renders)"),
        |b| {
            b.iter(|| {
                let mut bytes = 0;
                for t in &templates {
                    for group in GROUPS {
                        bytes += render(&t.source, group, t.tick).map_or(0, |html| html.len());
                    }
                }
                bytes
            })
        },
    );
}

/// A long description: prose, a hint box, a table and 154 lines of code in eight languages.
fn code_heavy_source() -> String {
    let mut source = String::from("# Title\n\n");
    source.push_str(
        &"Some *text* with `code`, **bold** and a [link](https://example.com). ".repeat(20),
    );
    source.push_str(
        "\n\n{% call box(2000) %}\n**提示：**\n\n- a [l](https://x.example)\n- b\n{% endcall %}\n\n\
         | a | b |\n|---|---|\n| 1 | 2 |\n\n",
    );
    let snippets = [
        ("python", "def f(x):\n    return x * 2  # double\n"),
        (
            "c",
            "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }\n",
        ),
        ("rust", "fn main() {\n    let v: Vec<u8> = vec![1, 2];\n}\n"),
        (
            "javascript",
            "const f = (x) => x + 1; // inc\nconsole.log(f(1));\n",
        ),
        ("bash", "for i in $(seq 3); do\n  echo \"$i\"\ndone\n"),
        ("sql", "SELECT id, name FROM users WHERE id = 1;\n"),
        ("html", "<div class=\"a\"><!-- c --><b>x</b></div>\n"),
        ("diff", "@@ -1 +1 @@\n-old\n+new\n"),
    ];
    for (lang, code) in snippets {
        let lines = code.lines().count();
        source.push_str(&format!("```{lang}\n"));
        source.push_str(&code.repeat(20 / lines));
        source.push_str("```\n\n");
    }
    source
}

fn code_heavy(c: &mut Criterion) {
    let source = code_heavy_source();
    c.bench_function("render a code-heavy description (8 languages)", |b| {
        b.iter(|| render(&source, Some("staff"), 2000).map_or(0, |html| html.len()))
    });
}

criterion_group!(benches, golden, code_heavy);
criterion_main!(benches);
