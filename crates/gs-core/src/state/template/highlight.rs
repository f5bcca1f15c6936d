//! Syntax highlighting of code blocks as the reference's CodeHilite writes it.

//
// A small Pygments-like lexer instead of a grammar engine: TextMate grammars on a
// backtracking regex engine cost ~75 µs per code line here, this costs ~1 µs. Tokens
// get Pygments' token types and the inline styles of its `default` style, which is what
// the reference's CodeHilite (`noclasses=True`) writes.

/// A character of a language name after a fence or `:::`, as Python-Markdown reads it.
pub(super) fn is_lang_char(ch: char) -> bool {
    ch.is_alphanumeric() || matches!(ch, '_' | '#' | '.' | '+' | '-')
}

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
