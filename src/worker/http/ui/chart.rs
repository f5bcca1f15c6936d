//! The score-history chart of a score board drawn as inline SVG on the server: one step
//! line per top player over the board's time range, no script needed.

use serde_json::Value;
use std::fmt::Write;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 24.0;

/// Line colours, distinguishable in light and dark themes.
const COLORS: &[&str] = &[
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46a0c8", "#c8329b", "#8a9a00",
    "#b07a00", "#7a7a7a",
];

/// One player's cumulative score over time: (unix seconds, total score) steps.
fn steps(history: &Value) -> Vec<(i64, i64)> {
    let (mut ts, mut score) = (0i64, 0i64);
    history
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| Some((p.get(0)?.as_i64()?, p.get(1)?.as_i64()?)))
                .map(|(dt, ds)| {
                    ts += dt;
                    score += ds;
                    (ts, score)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The SVG of `topstars` (`[{"nickname","history"}]` as the board answers them) over
/// `time_range` `[begin, end]`; `None` when there is nothing to draw.
pub fn score_history_svg(topstars: &Value, time_range: &Value, title: &str) -> Option<String> {
    let players: Vec<(String, Vec<(i64, i64)>)> = topstars
        .as_array()?
        .iter()
        .map(|p| {
            let name = p.get("nickname").and_then(Value::as_str).unwrap_or("--");
            (
                name.to_owned(),
                steps(p.get("history").unwrap_or(&Value::Null)),
            )
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if players.is_empty() {
        return None;
    }
    let first_ts = players
        .iter()
        .filter_map(|(_, s)| s.first())
        .map(|p| p.0)
        .min()?;
    let last_ts = players
        .iter()
        .filter_map(|(_, s)| s.last())
        .map(|p| p.0)
        .max()?;
    let begin = time_range
        .get(0)
        .and_then(Value::as_i64)
        .unwrap_or(first_ts)
        .min(first_ts);
    let end = time_range
        .get(1)
        .and_then(Value::as_i64)
        .unwrap_or(last_ts)
        .max(last_ts);
    let span = (end - begin).max(1) as f64;
    let max_score = players
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |ts: i64| LEFT + (ts - begin) as f64 / span * (WIDTH - LEFT - RIGHT);
    let y = |score: i64| TOP + (1.0 - score as f64 / max_score) * (HEIGHT - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"chart-title\" preserveAspectRatio=\"none\"><title id=\"chart-title\">{}</title>",
        super::escape_html(title)
    );
    // Axes and four horizontal score lines with their values.
    for i in 0..=4 {
        let score = (max_score * f64::from(i) / 4.0).round() as i64;
        let yy = y(score);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{score}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            yy + 4.0
        );
    }
    for (i, (name, s)) in players.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut points = format!("{:.1},{:.1}", x(begin), y(0));
        let mut prev = 0;
        for &(ts, score) in s {
            let _ = write!(
                points,
                " {:.1},{:.1} {:.1},{:.1}",
                x(ts),
                y(prev),
                x(ts),
                y(score)
            );
            prev = score;
        }
        let _ = write!(points, " {:.1},{:.1}", x(end), y(prev));
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" vector-effect=\"non-scaling-stroke\" points=\"{points}\"><title>{}: {prev}</title></polyline>",
            super::escape_html(name)
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// The legend entries (colour, nickname) in the chart's order.
pub fn legend(topstars: &Value) -> Vec<(&'static str, String)> {
    topstars
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|p| !steps(p.get("history").unwrap_or(&Value::Null)).is_empty())
                .enumerate()
                .map(|(i, p)| {
                    let name = p.get("nickname").and_then(Value::as_str).unwrap_or("--");
                    (COLORS[i % COLORS.len()], name.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn histories_are_cumulative_steps() {
        assert_eq!(
            steps(&json!([[100, 10], [5, 20], [0, -3]])),
            vec![(100, 10), (105, 30), (105, 27)]
        );
    }

    #[test]
    fn chart_has_a_line_per_player_and_escapes_names() {
        let stars = json!([
            {"nickname": "<b>", "history": [[100, 10], [50, 5]]},
            {"nickname": "b", "history": [[120, 20]]},
            {"nickname": "none", "history": []},
        ]);
        let svg = score_history_svg(&stars, &json!([90, 200]), "t").expect("svg");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("&lt;b&gt;: 15"));
        assert!(!svg.contains("<b>"));
        assert_eq!(legend(&stars).len(), 2);
        assert!(score_history_svg(&json!([]), &json!([0, 1]), "t").is_none());
    }
}
