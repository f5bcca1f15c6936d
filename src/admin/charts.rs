//! Server-side charts of the status page, as inline SVG (no scripts): submissions per
//! minute (correct and wrong) and solves per challenge over the contest.

use crate::state::Game;
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
/// At most this many points per line, whatever the contest's length.
const MAX_BUCKETS: i64 = 600;
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The time span of the submissions and a bucket width (≥ 60 s) giving ≤ MAX_BUCKETS.
fn span(game: &Game) -> Option<(i64, i64, i64)> {
    let first = game.submissions.iter().map(|s| s.timestamp_s()).min()?;
    let last = game.submissions.iter().map(|s| s.timestamp_s()).max()?;
    let width = ((last - first) / MAX_BUCKETS + 1).max(60);
    let n = (last - first) / width + 1;
    Some((first, width, n))
}

/// An SVG frame with a y axis up to `max` and a time axis from `t0` to `t1`.
fn frame(title: &str, max: f64, t0: i64, t1: i64, tz: &crate::clock::TimeZone) -> String {
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" style="max-width:100%;font:11px sans-serif"><title>{}</title>"##,
        escape(title)
    );
    let (x0, y0) = (LEFT, HEIGHT - BOTTOM);
    let _ = write!(
        svg,
        r##"<line x1="{x0}" y1="{y0}" x2="{WIDTH}" y2="{y0}" stroke="#999"/><line x1="{x0}" y1="4" x2="{x0}" y2="{y0}" stroke="#999"/><text x="{}" y="14" text-anchor="end">{}</text><text x="{}" y="{y0}" text-anchor="end">0</text><text x="{x0}" y="{}">{}</text><text x="{WIDTH}" y="{}" text-anchor="end">{}</text>"##,
        x0 - 4.0,
        format_number(max),
        x0 - 4.0,
        HEIGHT - 6.0,
        escape(&tz.format(t0)),
        HEIGHT - 6.0,
        escape(&tz.format(t1)),
    );
    svg
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn polyline(values: &[f64], max: f64, color: &str, label: &str) -> String {
    let n = values.len().max(2) as f64 - 1.0;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = LEFT + (WIDTH - LEFT) * i as f64 / n;
            let y = (HEIGHT - BOTTOM) - (HEIGHT - BOTTOM - 4.0) * v / max.max(1.0);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"><title>{}</title></polyline>"#,
        points.join(" "),
        escape(label)
    )
}

fn legend(items: &[(String, &str)]) -> String {
    let mut html = String::from(r#"<div class="legend" style="font-size:12px">"#);
    for (label, color) in items {
        let _ = write!(
            html,
            r#"<span style="margin-right:1em"><span style="display:inline-block;width:10px;height:10px;background:{color}"></span> {}</span>"#,
            escape(label)
        );
    }
    html.push_str("</div>");
    html
}

/// Submissions per minute, correct and wrong, over the contest (empty without submissions).
pub fn submissions_per_minute(game: &Game, tz: &crate::clock::TimeZone) -> String {
    let Some((t0, width, n)) = span(game) else {
        return String::new();
    };
    let mut correct = vec![0f64; n as usize];
    let mut wrong = vec![0f64; n as usize];
    for s in &game.submissions {
        let i = ((s.timestamp_s() - t0) / width) as usize;
        if s.matched.is_some() {
            correct[i] += 1.0;
        } else {
            wrong[i] += 1.0;
        }
    }
    let per_minute = 60.0 / width as f64;
    for v in correct.iter_mut().chain(wrong.iter_mut()) {
        *v *= per_minute;
    }
    let max = correct
        .iter()
        .chain(&wrong)
        .copied()
        .fold(1.0f64, f64::max)
        .ceil();
    let mut svg = frame("Submissions per minute", max, t0, t0 + width * n, tz);
    svg.push_str(&polyline(&wrong, max, PALETTE[3], "wrong"));
    svg.push_str(&polyline(&correct, max, PALETTE[2], "correct"));
    svg.push_str("</svg>");
    let minutes = width / 60;
    svg.push_str(&legend(&[
        (
            format!("correct (per minute, averaged over {minutes} min)"),
            PALETTE[2],
        ),
        ("wrong".to_owned(), PALETTE[3]),
    ]));
    svg
}

/// Solves (flags passed) per challenge, cumulative over the contest.
pub fn solves_per_challenge(game: &Game, tz: &crate::clock::TimeZone) -> String {
    let Some((t0, width, n)) = span(game) else {
        return String::new();
    };
    let mut lines: Vec<Vec<f64>> = vec![vec![0.0; n as usize]; game.challenges.len()];
    for s in &game.submissions {
        if let (Some(f), false) = (s.matched, s.duplicate) {
            let i = ((s.timestamp_s() - t0) / width) as usize;
            lines[f.chall as usize][i] += 1.0;
        }
    }
    for line in &mut lines {
        let mut total = 0.0;
        for v in line.iter_mut() {
            total += *v;
            *v = total;
        }
    }
    let max = lines
        .iter()
        .filter_map(|l| l.last().copied())
        .fold(1.0f64, f64::max);
    let mut svg = frame("Solves per challenge", max, t0, t0 + width * n, tz);
    let mut items = Vec::new();
    for (k, &ci) in game.chall_order.iter().enumerate() {
        let ch = &game.challenges[ci as usize];
        let color = PALETTE[k % PALETTE.len()];
        svg.push_str(&polyline(&lines[ci as usize], max, color, &ch.row.title));
        items.push((ch.row.title.clone(), color));
    }
    svg.push_str("</svg>");
    svg.push_str(&legend(&items));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_have_one_line_per_series_and_escape_titles() {
        let mut tables = crate::demo::generate(&crate::demo::ContestShape::default());
        tables.challenge[0].title = "<b>&".into();
        let game = Game::build(tables, 0, crate::state::GameOptions::default());
        let tz = crate::clock::TimeZone::utc();
        let rate = submissions_per_minute(&game, &tz);
        assert_eq!(rate.matches("<polyline").count(), 2, "{rate}");
        let solves = solves_per_challenge(&game, &tz);
        assert_eq!(solves.matches("<polyline").count(), game.challenges.len());
        assert!(solves.contains("&lt;b&gt;&amp;") && !solves.contains("<b>&"));
        let (_, width, n) = span(&game).unwrap();
        assert!(n <= MAX_BUCKETS + 1 && width >= 60);
        // The last point of each solves line is its challenge's total of passes.
        let passes = game
            .submissions
            .iter()
            .filter(|s| s.matched.is_some() && !s.duplicate)
            .count();
        assert!(passes > 0);
        let empty = Game::build(crate::rows::Tables::default(), 0, Default::default());
        assert_eq!(submissions_per_minute(&empty, &tz), "");
    }
}
