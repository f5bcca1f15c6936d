//! Syntax highlighting of code blocks as the reference's CodeHilite writes them: syntect
//! parses with Sublime Text grammars (bat's set, through two-face), and each token's scopes
//! map to the Pygments token type whose inline style (Pygments' `default`) is written.
//!
//! Coverage of the mapping: the share of visible characters styled as Pygments 2.14
//! styles them, over samples in 18 languages (tests/highlight_pygments.rs: 92% on the
//! samples not used to write the tables). The golden answers pin one Python line
//! (`print("hi")`), which is byte-equal. Beyond the reference: ~200 languages.

use std::sync::OnceLock;

use syntect::easy::ScopeRangeIterator;
use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};
use syntect::util::LinesWithEndings;

/// A character of a language name after a fence or `:::`, as Python-Markdown reads it.
pub(super) fn is_lang_char(ch: char) -> bool {
    ch.is_alphanumeric() || matches!(ch, '_' | '#' | '.' | '+' | '-')
}

/// Pygments token types that its `default` style colors.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
    Exception,
    Decorator,
    Variable,
    Constant,
    Entity,
    Attribute,
    Tag,
    Str,
    Doc,
    Interpol,
    Escape,
    Regex,
    Number,
    Heading,
    Subheading,
    Inserted,
    Deleted,
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
            Tok::Exception => "color: #CB3F38; font-weight: bold",
            Tok::Decorator => "color: #AA22FF",
            Tok::Variable => "color: #19177C",
            Tok::Constant => "color: #880000",
            Tok::Entity => "color: #717171; font-weight: bold",
            Tok::Attribute => "color: #687822",
            Tok::Str => "color: #BA2121",
            Tok::Doc => "color: #BA2121; font-style: italic",
            Tok::Interpol => "color: #A45A77; font-weight: bold",
            Tok::Escape => "color: #AA5D1F; font-weight: bold",
            Tok::Regex => "color: #A45A77",
            Tok::Heading => "color: #000080; font-weight: bold",
            Tok::Subheading => "color: #800080; font-weight: bold",
            Tok::Inserted => "color: #008400",
            Tok::Deleted => "color: #A00000",
        })
    }
}

/// What a scope says about a token: its type, or a choice the token's text makes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mapped {
    Tok(Tok),
    /// `keyword.operator`: a symbol is an operator, a word (`and`, `typeof`) an operator
    /// word or a keyword, as the language's Pygments lexer has it.
    Operator,
    /// `storage.type`: declaration words (`struct`, `let`) are keywords, others types.
    StorageType,
}

use Mapped::Tok as T;

/// A scope selector (a scope name that matches itself and the scopes below it, e.g.
/// `string` matches `string.quoted.double.python`) and what it maps to.
type Rule = (&'static str, Mapped);

/// Scopes that decide wherever they sit in a token's stack, checked in this order: what
/// is inside a comment or a preprocessor line is comment or preprocessor text.
#[rustfmt::skip]
const DOMINANT: &[Rule] = &[
    ("comment", T(Tok::Comment)),
    // `#include <file>`: Pygments' Comment.PreprocFile, styled as a comment.
    ("string.quoted.other.lt-gt.include", T(Tok::Comment)),
    ("string.quoted.double.include", T(Tok::Comment)),
    ("meta.preprocessor", T(Tok::Preproc)),
    ("string.regexp", T(Tok::Regex)),
    // A function's name, even a special one (`__init__` is also `support.function`).
    ("entity.name.function", T(Tok::Function)),
];

/// The scope → token type map, applied from the innermost scope outwards; at one scope
/// the longest matching selector wins. Unlisted scopes (punctuation, `meta.*`) pass to
/// the scope around them, and a token that no selector matches is plain text.
#[rustfmt::skip]
const BY_SCOPE: &[Rule] = &[
    ("constant.numeric", T(Tok::Number)),
    ("constant.language", T(Tok::Keyword)),
    ("constant.character.escape", T(Tok::Escape)),
    ("constant.character.entity", T(Tok::Entity)),
    ("constant.other.symbol", T(Tok::Variable)),
    ("keyword", T(Tok::Keyword)),
    ("keyword.operator", Mapped::Operator),
    ("storage.type", Mapped::StorageType),
    ("storage.type.numeric", T(Tok::Number)),
    ("storage.modifier", T(Tok::Keyword)),
    ("storage.modifier.array", T(Tok::Operator)),
    ("support.function", T(Tok::Text)),
    ("support.function.builtin", T(Tok::Builtin)),
    ("support.macro", T(Tok::Function)),
    ("support.type", T(Tok::Builtin)),
    ("support.type.exception", T(Tok::Exception)),
    ("support.type.sys-types", T(Tok::KeywordType)),
    ("support.type.primitive", T(Tok::KeywordType)),
    ("support.class", T(Tok::Text)),
    ("support.class.builtin", T(Tok::Builtin)),
    ("variable.language", T(Tok::Keyword)),
    ("variable.annotation", T(Tok::Decorator)),
    ("punctuation.definition.annotation", T(Tok::Decorator)),
    // Names stay plain, also inside an interpolation in a string.
    ("variable.other", T(Tok::Text)),
    ("variable.parameter", T(Tok::Text)),
    ("variable.function", T(Tok::Text)),
    ("entity.name.class", T(Tok::Class)),
    ("entity.name.struct", T(Tok::Class)),
    ("entity.name.enum", T(Tok::Class)),
    ("entity.name.trait", T(Tok::Class)),
    ("entity.name.union", T(Tok::Class)),
    ("entity.name.interface", T(Tok::Class)),
    ("entity.name.namespace", T(Tok::Class)),
    ("entity.name.tag", T(Tok::Tag)),
    ("entity.other.attribute-name", T(Tok::Attribute)),
    ("string", T(Tok::Str)),
    ("string.unquoted.plain", T(Tok::Text)),
    ("punctuation.section.interpolation", T(Tok::Interpol)),
    ("punctuation.definition.template-expression", T(Tok::Interpol)),
    ("punctuation.definition.generic", T(Tok::Operator)),
    ("punctuation.separator.key-value", T(Tok::Operator)),
    ("punctuation.section.generic", T(Tok::Operator)),
    ("markup.inserted", T(Tok::Inserted)),
    ("markup.deleted", T(Tok::Deleted)),
    ("markup.heading", T(Tok::Heading)),
    ("meta.diff.range", T(Tok::Subheading)),
    ("meta.diff.header.from-file", T(Tok::Deleted)),
    ("meta.diff.header.to-file", T(Tok::Inserted)),
    ("constant.language.doctype", T(Tok::Preproc)),
    ("keyword.declaration.doctype", T(Tok::Preproc)),
];

/// Words that `storage.type` scopes hold but Pygments calls keywords, not types.
#[rustfmt::skip]
const DECLARATION_WORDS: &[&str] = &[
    "async", "auto", "class", "const", "def", "enum", "extern", "fn", "func", "function",
    "impl", "interface", "let", "macro_rules", "mod", "module", "namespace", "package",
    "static", "struct", "template", "trait", "type", "typedef", "typename", "union", "val",
    "var",
];

/// Rules for one syntax, over the general ones: Pygments' lexers differ in what they mark.
struct SyntaxRules {
    /// The syntax's name in the syntax set.
    syntax: &'static str,
    /// Its Pygments lexer calls `and`, `in`, `typeof`, `new` Operator.Word; elsewhere an
    /// operator spelled as a word (`sizeof`, `as`) is a keyword.
    word_operators: bool,
    dominant: &'static [Rule],
    by_scope: &'static [Rule],
}

const NO_RULES: &[Rule] = &[];
const PLAIN: SyntaxRules = SyntaxRules {
    syntax: "",
    word_operators: false,
    dominant: NO_RULES,
    by_scope: NO_RULES,
};

#[rustfmt::skip]
const SYNTAX_RULES: &[SyntaxRules] = &[
    SyntaxRules {
        syntax: "Python",
        word_operators: true,
        dominant: &[("comment.block.documentation", T(Tok::Doc))],
        by_scope: &[
            ("variable.language", T(Tok::Builtin)),
            ("storage.type.string", T(Tok::Str)),
            ("storage.modifier.conversion", T(Tok::Interpol)),
            ("keyword.control.loop.for.in", T(Tok::OperatorWord)),
            ("punctuation.accessor.dot", T(Tok::Operator)),
        ],
    },
    SyntaxRules {
        syntax: "Rust",
        dominant: &[
            ("comment.line.documentation", T(Tok::Doc)),
            ("meta.annotation", T(Tok::Preproc)),
        ],
        by_scope: &[("variable.language", T(Tok::Builtin))],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "JavaScript",
        word_operators: true,
        // Pygments' lexer leaves function names plain.
        dominant: &[("entity.name.function", T(Tok::Text))],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "TypeScript",
        word_operators: true,
        dominant: &[("entity.name.function", T(Tok::Text))],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "Go",
        dominant: &[("entity.name.function", T(Tok::Text))],
        by_scope: &[("support.type.builtin", T(Tok::KeywordType))],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "Java",
        by_scope: &[
            ("support.type.package", T(Tok::Class)),
            ("support.class.import", T(Tok::Class)),
            ("variable.function", T(Tok::Attribute)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "Ruby",
        word_operators: true,
        by_scope: &[
            ("support.class", T(Tok::Constant)),
            ("keyword.other.special-method", T(Tok::Builtin)),
            ("keyword.control.import", T(Tok::Builtin)),
            ("variable.other.readwrite.instance", T(Tok::Variable)),
            ("punctuation.accessor.dot", T(Tok::Operator)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "Lua",
        word_operators: true,
        ..PLAIN
    },
    SyntaxRules {
        syntax: "PHP",
        // Pygments does not read SQL inside PHP strings.
        dominant: &[("source.sql", T(Tok::Str))],
        by_scope: &[
            ("variable.other", T(Tok::Variable)),
            ("variable.parameter", T(Tok::Variable)),
            ("punctuation.definition.variable", T(Tok::Variable)),
            ("punctuation.section.embedded", T(Tok::Preproc)),
            ("punctuation.accessor.arrow", T(Tok::Operator)),
            ("support.function.construct", T(Tok::Keyword)),
            ("support.class.builtin", T(Tok::Text)),
            ("variable.function", T(Tok::Attribute)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "Perl",
        by_scope: &[
            ("variable.other", T(Tok::Variable)),
            ("punctuation.definition.variable", T(Tok::Variable)),
            ("storage.type.variable", T(Tok::Keyword)),
            ("support.function", T(Tok::Keyword)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "Bourne Again Shell (bash)",
        by_scope: &[
            ("support.function", T(Tok::Builtin)),
            ("storage.modifier", T(Tok::Builtin)),
            ("variable.other.readwrite", T(Tok::Variable)),
            ("punctuation.definition.variable", T(Tok::Variable)),
            ("string.unquoted", T(Tok::Text)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "SQL",
        dominant: &[("entity.name.function", T(Tok::Text))],
        by_scope: &[
            ("storage.type", T(Tok::Builtin)),
            ("support.function", T(Tok::Keyword)),
            ("variable.language.star", T(Tok::Operator)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "JSON",
        dominant: &[("meta.mapping.key", T(Tok::Tag))],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "TOML",
        by_scope: &[
            ("entity.name.table", T(Tok::Keyword)),
            ("punctuation.definition.table", T(Tok::Keyword)),
            ("entity.name.tag", T(Tok::Text)),
            ("punctuation.definition.key-value", T(Tok::Operator)),
        ],
        ..PLAIN
    },
    SyntaxRules {
        syntax: "x86_64 Assembly",
        by_scope: &[
            ("keyword.operator.word.mnemonic", T(Tok::Function)),
            ("support.function.directive", T(Tok::Keyword)),
            ("constant.language.register", T(Tok::Builtin)),
            ("entity.name.constant", T(Tok::Variable)),
            ("support.constant.section", T(Tok::Variable)),
        ],
        ..PLAIN
    },
];

/// One syntax's rules parsed into syntect scopes, its own before the general ones.
struct Selectors {
    word_operators: bool,
    dominant: Vec<(Scope, Mapped)>,
    /// With whether the rule is the syntax's own (it then wins at its scope).
    by_scope: Vec<(Scope, Mapped, bool)>,
}

impl Selectors {
    fn new(rules: &SyntaxRules) -> Selectors {
        // Every selector is a valid scope name; the unit tests check that none is lost.
        let parse = |(name, mapped): &Rule| Some((Scope::new(name).ok()?, *mapped));
        let dominant = rules.dominant.iter().chain(DOMINANT);
        let own = rules.by_scope.iter().map(|rule| (rule, true));
        let by_scope = own.chain(BY_SCOPE.iter().map(|rule| (rule, false)));
        Selectors {
            word_operators: rules.word_operators,
            dominant: dominant.filter_map(parse).collect(),
            by_scope: by_scope
                .filter_map(|(rule, own)| parse(rule).map(|(scope, m)| (scope, m, own)))
                .collect(),
        }
    }

    /// The selectors for the syntax named `name`.
    fn for_syntax(name: &str) -> &'static Selectors {
        static ALL: OnceLock<Vec<(&'static str, Selectors)>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            std::iter::once(&PLAIN)
                .chain(SYNTAX_RULES)
                .map(|rules| (rules.syntax, Selectors::new(rules)))
                .collect()
        });
        let found = all.iter().find(|(syntax, _)| *syntax == name);
        &found.unwrap_or(&all[0]).1
    }

    /// The mapping for a token with these scopes (outermost first).
    fn classify(&self, stack: &[Scope]) -> Option<Mapped> {
        for (selector, mapped) in &self.dominant {
            if stack.iter().any(|scope| selector.is_prefix_of(*scope)) {
                return Some(*mapped);
            }
        }
        stack.iter().rev().find_map(|scope| {
            self.by_scope
                .iter()
                .filter(|(selector, _, _)| selector.is_prefix_of(*scope))
                .max_by_key(|(selector, _, own)| (*own, selector.len()))
                .map(|(_, mapped, _)| *mapped)
        })
    }

    /// The token type of `text` with these scopes.
    fn token_type(&self, stack: &[Scope], text: &str) -> Tok {
        let is_word = text.chars().all(|c| c.is_alphanumeric() || c == '_');
        match self.classify(stack) {
            None => Tok::Text,
            Some(Mapped::Tok(tok)) => tok,
            Some(Mapped::Operator) if !is_word => Tok::Operator,
            Some(Mapped::Operator) if self.word_operators => Tok::OperatorWord,
            Some(Mapped::Operator) => Tok::Keyword,
            // Not a word (`=>`), or a type of the program's own (`Point`).
            Some(Mapped::StorageType) if !is_word || text.starts_with(char::is_uppercase) => {
                Tok::Text
            }
            Some(Mapped::StorageType) if DECLARATION_WORDS.contains(&text) => Tok::Keyword,
            Some(Mapped::StorageType) => Tok::KeywordType,
        }
    }
}

/// What is wrong with the rule tables: selectors that are no scope name, syntaxes or
/// aliases that name no syntax (for the unit tests).
#[cfg(test)]
pub(super) fn table_problems() -> Vec<String> {
    let mut problems = Vec::new();
    let all_rules = std::iter::once(&PLAIN).chain(SYNTAX_RULES);
    for rules in all_rules {
        let rule_count = |own: &[Rule], general: &[Rule]| own.len() + general.len();
        let selectors = Selectors::new(rules);
        if selectors.dominant.len() != rule_count(rules.dominant, DOMINANT)
            || selectors.by_scope.len() != rule_count(rules.by_scope, BY_SCOPE)
        {
            problems.push(format!("{:?}: a selector is no scope name", rules.syntax));
        }
        if !rules.syntax.is_empty() && syntaxes().find_syntax_by_name(rules.syntax).is_none() {
            problems.push(format!("no syntax named {:?}", rules.syntax));
        }
    }
    for (alias, _) in PYGMENTS_ALIASES {
        if syntax_for(alias).is_none() {
            problems.push(format!("alias {alias:?} names no syntax"));
        }
    }
    problems
}

fn syntaxes() -> &'static SyntaxSet {
    static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
    SYNTAXES.get_or_init(two_face::syntax::extra_newlines)
}

/// Pygments lexer names that name no syntax directly (as a file extension or a syntax
/// name), with the token that does.
#[rustfmt::skip]
const PYGMENTS_ALIASES: &[(&str, &str)] = &[
    ("python2", "py"), ("py2", "py"), ("sage", "py"), ("pycon", "py"), ("ipython", "py"),
    ("ipython3", "py"), ("objc", "m"), ("cuda", "cpp"), ("arduino", "cpp"), ("golang", "go"),
    ("csharp", "cs"), ("node", "js"), ("nodejs", "js"), ("jsx", "js"), ("shell", "sh"),
    ("ksh", "sh"), ("console", "sh"), ("shell-session", "sh"), ("shellsession", "sh"),
    ("mysql", "sql"), ("postgresql", "sql"), ("postgres", "sql"), ("psql", "sql"),
    ("sqlite3", "sql"), ("plpgsql", "sql"), ("tsql", "sql"), ("json5", "json"),
    ("jsonld", "json"), ("jsonc", "json"), ("udiff", "diff"), ("docker", "Dockerfile"),
    ("nasm", "asm"), ("x86asm", "asm"), ("gas", "asm"), ("batch", "bat"), ("fsharp", "fs"),
    ("scheme", "scm"), ("hcl", "tf"), ("text", "txt"), ("plain", "txt"),
];

/// The syntax for a Pygments lexer name, if any.
fn syntax_for(lang: &str) -> Option<&'static SyntaxReference> {
    let lang = lang.to_ascii_lowercase();
    let token = PYGMENTS_ALIASES
        .iter()
        .find(|(alias, _)| *alias == lang)
        .map_or(lang.as_str(), |(_, token)| token);
    syntaxes().find_syntax_by_token(token)
}

/// The tokens of `code` with their types. A line the grammar fails on ends the
/// highlighting: it and the lines after it are plain text.
fn tokens<'c>(code: &'c str, syntax: &SyntaxReference) -> Vec<(Tok, &'c str)> {
    let set = syntaxes();
    let selectors = Selectors::for_syntax(&syntax.name);
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Vec::new();
    let mut done = 0;
    'lines: for line in LinesWithEndings::from(code) {
        let Ok(ops) = state.parse_line(line, set) else {
            break;
        };
        let mut line_tokens = Vec::new();
        for (range, op) in ScopeRangeIterator::new(&ops, line) {
            if stack.apply(op).is_err() {
                break 'lines;
            }
            let text = &line[range];
            if !text.is_empty() {
                line_tokens.push((selectors.token_type(stack.as_slice(), text), text));
            }
        }
        out.append(&mut line_tokens);
        done += line.len();
    }
    if done < code.len() {
        out.push((Tok::Text, &code[done..]));
    }
    out
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

/// Code longer than this is written unhighlighted: the grammars take 5 to 10 µs per
/// byte, so this bounds a block's highlighting at a few tenths of a second.
const MAX_HIGHLIGHTED_BYTES: usize = 32 * 1024;

/// Highlights `code` into Pygments' span markup; plain text if the language is unknown,
/// as the reference then falls back to Pygments' TextLexer.
fn highlight_spans(code: &str, lang: Option<&str>) -> String {
    let mut out = String::with_capacity(code.len() * 2);
    let syntax = lang
        .filter(|_| code.len() <= MAX_HIGHLIGHTED_BYTES)
        .and_then(syntax_for);
    let Some(syntax) = syntax else {
        escape_code(code, &mut out);
        return out;
    };
    // Neighbours that look the same share a span (`=` and `1` are both #666666).
    let mut merged: Vec<(Option<&str>, String)> = Vec::new();
    for (tok, text) in tokens(code, syntax) {
        match merged.last_mut() {
            Some((css, buf)) if *css == tok.css() => buf.push_str(text),
            _ => merged.push((tok.css(), text.to_owned())),
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
pub(super) fn highlight_block(code: &str, lang: Option<&str>, linenums: bool) -> String {
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
pub(super) fn highlight_indented(code: &str) -> String {
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
