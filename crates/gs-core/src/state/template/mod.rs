//! Renders challenge descriptions, announcements and site pages as the reference does:
//! Jinja (`% ` line statements, autoescape, `box`), then Markdown in Python-Markdown's dialect.
//!
//! The stages, each in a file of its own (imports go down this list, never up):
//! `jinja` (the template language), `markdown` (Python-Markdown's preprocessors around
//! pulldown-cmark), `dialect` (its block rules as rewrites of the CommonMark input),
//! `html` (the lenient tag parser, stash markers and the HTML writer) and `highlight`
//! (code blocks as CodeHilite writes them).

mod dialect;
mod highlight;
mod html;
mod jinja;
mod markdown;
#[cfg(test)]
mod tests;

use std::fmt;

use minijinja::Error;

pub use jinja::render_jinja;
pub use markdown::markdown_to_html;

/// Prepares the highlighter for every language a fenced code block of `sources` names
/// (` ```lang ` or `:::lang`): its grammar is compiled on first use, which takes up to
/// seconds for a big one, so a worker does it after loading rather than in a request.
pub fn warm_up<'a>(sources: impl IntoIterator<Item = &'a str>) {
    let mut seen = std::collections::HashSet::new();
    for source in sources {
        for line in source.lines() {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("```")
                .or_else(|| line.strip_prefix("~~~"))
                .or_else(|| line.strip_prefix(":::"));
            let Some(rest) = rest else { continue };
            let lang: String = rest
                .trim_start_matches(['`', '~', '{', '.', ' '])
                .chars()
                .take_while(|&c| highlight::is_lang_char(c))
                .collect();
            if !lang.is_empty() && seen.insert(lang.to_ascii_lowercase()) {
                highlight::highlight_block("x\n", Some(&lang), false);
            }
        }
    }
}

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
