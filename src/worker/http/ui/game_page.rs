//! The game page's content (`GET /`), the most visited page: written straight from the
//! borrowed `game` answer (the same `Game::answer_game` as the wish endpoint) into the
//! page, with no JSON or template values built per request. The frame around it is
//! `base.html`, rendered once per [`super::FrameKey`] and cached.

use super::i18n::{text, Lang};
use crate::state::answers::{GameChallenge, GameView};
use minijinja::HtmlEscape;
use serde_json::Value;
use std::fmt::Write;

/// The texts of the game page in one language, looked up once.
#[derive(Debug)]
pub(super) struct GameTexts {
    nav_login: &'static str,
    phase: &'static str,
    next_phase: &'static str,
    countdown: &'static str,
    my_score: &'static str,
    points: &'static str,
    my_rank: &'static str,
    no_rank: &'static str,
    announcements: &'static str,
    all_announcements: &'static str,
    none: &'static str,
    challenges: &'static str,
    no_challenges: &'static str,
    solved_by: &'static str,
    status_passed: &'static str,
    status_partial: &'static str,
    status_untouched: &'static str,
    status_deducted: &'static str,
}

impl GameTexts {
    /// The texts in `lang`.
    pub(super) fn new(lang: Lang) -> GameTexts {
        let t = |key| text(lang, key);
        GameTexts {
            nav_login: t("nav_login"),
            phase: t("phase"),
            next_phase: t("next_phase"),
            countdown: t("countdown"),
            my_score: t("my_score"),
            points: t("points"),
            my_rank: t("my_rank"),
            no_rank: t("no_rank"),
            announcements: t("announcements"),
            all_announcements: t("all_announcements"),
            none: t("none"),
            challenges: t("challenges"),
            no_challenges: t("no_challenges"),
            solved_by: t("solved_by"),
            status_passed: t("status_passed"),
            status_partial: t("status_partial"),
            status_untouched: t("status_untouched"),
            status_deducted: t("status_deducted"),
        }
    }

    /// The words for a status without its `-deducted` suffix (empty for an unknown one).
    fn status(&self, status: &str) -> &'static str {
        match status.strip_suffix("-deducted").unwrap_or(status) {
            "passed" => self.status_passed,
            "partial" => self.status_partial,
            "untouched" => self.status_untouched,
            _ => "",
        }
    }
}

/// HTML being written: raw markup, escaped text (as the templates escape it) and numbers.
struct Html<'a>(&'a mut String);

impl Html<'_> {
    fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    fn text(&mut self, s: &str) -> &mut Self {
        // Writing into a String cannot fail.
        let _ = write!(self.0, "{}", HtmlEscape(s));
        self
    }

    fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    /// A JSON scalar as a template prints it: strings escaped, numbers as they are.
    fn value(&mut self, v: &Value) -> &mut Self {
        match v {
            Value::String(s) => self.text(s),
            Value::Null => self.raw("none"),
            other => self.num(other),
        }
    }
}

/// Challenges grouped by category in the game's order: (category, colour, challenges).
pub(super) fn by_category<'a, 'g>(
    list: &'a [GameChallenge<'g>],
) -> Vec<(&'g str, &'static str, Vec<&'a GameChallenge<'g>>)> {
    let mut groups: Vec<(&str, &str, Vec<&GameChallenge>)> = Vec::new();
    for ch in list {
        match groups.iter_mut().find(|(c, _, _)| *c == ch.category) {
            Some((_, _, l)) => l.push(ch),
            None => groups.push((ch.category, ch.category_color, vec![ch])),
        }
    }
    groups
}

/// Writes the page's content into `out`: phase, score, announcements (the `list` of the
/// `announcements` answer) and the challenges by category.
pub(super) fn write_content(
    out: &mut String,
    t: &GameTexts,
    logged_in: bool,
    game: &GameView,
    announcements: &[Value],
) {
    let mut h = Html(out);
    h.raw("\n");
    if !logged_in {
        h.raw("\n<section class=\"card\"><p><a class=\"button\" href=\"/login\">")
            .text(t.nav_login)
            .raw("</a></p></section>\n");
    }
    h.raw("\n<div class=\"game-top\" id=\"live-top\" data-live>\n  ");
    if let Some(trigger) = &game.trigger {
        h.raw("\n  <section class=\"card phase\" aria-labelledby=\"phase-h\">\n    <h2 id=\"phase-h\">")
            .text(t.phase)
            .raw("</h2>\n    <p class=\"big\" id=\"phase-name\">")
            .text(&trigger.current_name)
            .raw("</p>\n    ");
        if let Some(next_s) = trigger.next_timestamp_s.filter(|&s| s != 0) {
            h.raw("\n    <p>")
                .text(t.next_phase)
                .raw(": <strong>")
                .text(trigger.next_name.as_deref().unwrap_or("none"))
                .raw("</strong><br>\n      ")
                .text(t.countdown)
                .raw(" <span class=\"countdown\" data-countdown=\"")
                .num(next_s)
                .raw("\">…</span>\n      (<time data-ts=\"")
                .num(next_s)
                .raw("\"></time>)</p>\n    ");
        }
        h.raw("\n  </section>\n  ");
    }
    h.raw("\n  ");
    if let Some(info) = &game.user_info {
        h.raw("\n  <section class=\"card score\" aria-labelledby=\"score-h\">\n    <h2 id=\"score-h\">")
            .text(t.my_score)
            .raw("</h2>\n    <p class=\"big\"><span id=\"my-score\">")
            .num(info.tot_score)
            .raw("</span> ")
            .text(t.points)
            .raw("</p>\n    <p>")
            .text(t.my_rank)
            .raw(" · <a href=\"/board/")
            .text(info.board_key)
            .raw("\">")
            .text(info.board_name)
            .raw("</a>:\n      <strong id=\"my-rank\">");
        match info.board_rank.filter(|&r| r != 0) {
            Some(rank) => h.raw("#").num(rank),
            None => h.text(t.no_rank),
        };
        h.raw("</strong></p>\n    ");
        if let Some(cats) = info.tot_score_by_cat.as_array().filter(|c| !c.is_empty()) {
            h.raw("\n    <ul class=\"cats\">");
            for c in cats {
                h.raw("<li>")
                    .value(&c[0])
                    .raw(": ")
                    .value(&c[1])
                    .raw("</li>");
            }
            h.raw("</ul>\n    ");
        }
        h.raw("\n  </section>\n  ");
    }
    h.raw("\n</div>\n<section class=\"card\" aria-labelledby=\"ann-h\" id=\"live-ann\" data-live>\n  <h2 id=\"ann-h\">")
        .text(t.announcements)
        .raw("</h2>\n  ");
    if let Some((first, older)) = announcements.split_first() {
        h.raw("\n  \n  <article class=\"announcement\" id=\"ann-")
            .value(&first["id"])
            .raw("\">\n    <h3>")
            .value(&first["title"])
            .raw("</h3> <time data-ts=\"")
            .value(&first["timestamp_s"])
            .raw("\"></time>\n    <div class=\"md\">")
            .raw(first["content"].as_str().unwrap_or(""))
            .raw("</div>\n  </article>\n  ");
        if !older.is_empty() {
            h.raw("\n  <details><summary>")
                .text(t.all_announcements)
                .raw(" (")
                .num(announcements.len())
                .raw(")</summary>\n  ");
            for a in older {
                h.raw("\n  <article class=\"announcement\" id=\"ann-")
                    .value(&a["id"])
                    .raw("\"><h3>")
                    .value(&a["title"])
                    .raw("</h3> <time data-ts=\"")
                    .value(&a["timestamp_s"])
                    .raw("\"></time><div class=\"md\">")
                    .raw(a["content"].as_str().unwrap_or(""))
                    .raw("</div></article>\n  ");
            }
            h.raw("\n  </details>\n  ");
        }
        h.raw("\n  ");
    } else {
        h.raw("<p>").text(t.none).raw("</p>");
    }
    h.raw("\n</section>\n<section aria-labelledby=\"chall-h\" id=\"live-challenges\" data-live>\n  <h2 id=\"chall-h\">")
        .text(t.challenges)
        .raw("</h2>\n  ");
    let list = game.challenge_list.as_deref();
    if list.is_none() {
        h.raw("\n  <p class=\"alert\">")
            .text(t.no_challenges)
            .raw("</p>\n  ");
    }
    h.raw("\n  ");
    for (category, color, challenges) in by_category(list.unwrap_or(&[])) {
        h.raw("\n  <section class=\"category\" aria-label=\"")
            .text(category)
            .raw("\">\n    <h3><span class=\"dot\" style=\"background:")
            .text(color)
            .raw("\"></span>")
            .text(category)
            .raw("</h3>\n    <ul class=\"challenges\">\n    ");
        for ch in challenges {
            write_challenge(&mut h, t, ch);
        }
        h.raw("\n    </ul>\n  </section>\n  ");
    }
    h.raw("\n</section>\n");
}

fn write_challenge(h: &mut Html, t: &GameTexts, ch: &GameChallenge) {
    h.raw("\n      <li class=\"chall st-")
        .text(&ch.status)
        .raw("\" id=\"c-")
        .text(ch.key)
        .raw("\">\n        <a class=\"title\" href=\"/challenge/")
        .text(&crate::web::urlencode(ch.key))
        .raw("\">")
        .text(&ch.title)
        .raw("</a>\n        <span class=\"meta\"><span class=\"pts\">")
        .num(ch.tot_cur_score)
        .raw(" ")
        .text(t.points)
        .raw("</span> · ")
        .num(ch.passed_users_count)
        .raw(" ")
        .text(t.solved_by)
        .raw("</span>\n        <span class=\"status\">")
        .text(t.status(&ch.status));
    if ch.status.contains("deducted") {
        h.raw(" ").text(t.status_deducted);
    }
    h.raw("</span>\n        ");
    if ch.flags.len() > 1 {
        h.raw("\n        <ul class=\"flags\">");
        for f in &ch.flags {
            h.raw("<li class=\"st-")
                .text(&f.status)
                .raw("\">")
                .text(f.name)
                .raw(": ")
                .num(f.cur_score)
                .raw(" ")
                .text(t.points)
                .raw(" · ")
                .num(f.passed_users_count)
                .raw(" ")
                .text(t.solved_by)
                .raw(" · ")
                .text(t.status(&f.status))
                .raw("</li>");
        }
        h.raw("</ul>\n        ");
    }
    h.raw("\n      </li>\n    ");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{generate, ContestShape};
    use crate::state::answers::GameAnswer;
    use crate::state::{Game, GameOptions};

    /// The demo contest in its first phase, with `<` and `&` in a challenge title.
    fn demo_game() -> Game {
        let mut tables = generate(&ContestShape::default());
        tables.challenge[0].title = "<b>&".into();
        Game::build(tables, 1000, GameOptions::default())
    }

    #[test]
    fn challenges_are_grouped_by_category_in_order() {
        let game = demo_game();
        let GameAnswer::Game(view) = game.answer_game(None) else {
            panic!("guests see the demo's challenges");
        };
        let list = view.challenge_list.expect("visible");
        let groups = by_category(&list);
        let mut seen = Vec::new();
        for ch in &list {
            if !seen.contains(&ch.category) {
                seen.push(ch.category);
            }
        }
        let order: Vec<&str> = groups.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(
            order, seen,
            "categories in the order of their first challenge"
        );
        assert_eq!(groups.iter().map(|g| g.2.len()).sum::<usize>(), list.len());
        for (category, color, challenges) in &groups {
            assert!(challenges.iter().all(|c| c.category == *category));
            assert_eq!(*color, challenges[0].category_color);
        }
    }

    #[test]
    fn the_page_shows_each_challenge_and_the_players_status_in_both_languages() {
        let game = demo_game();
        // A player with a solve, so that score, categories and a "passed" show.
        let ui = (0..game.users.len() as u32)
            .find(|&ui| {
                let u = &game.users[ui as usize];
                u.tot_score > 0 && u.check_play_game().is_ok()
            })
            .expect("a player who scored");
        let GameAnswer::Game(view) = game.answer_game(Some(ui)) else {
            panic!("the player may play");
        };
        let announcements = game.answer_announcements(Some(ui));
        let list = announcements["list"].as_array().expect("a list");
        for lang in [Lang::Zh, Lang::En] {
            let t = GameTexts::new(lang);
            let mut html = String::new();
            write_content(&mut html, &t, true, &view, list);
            for ch in view.challenge_list.as_deref().expect("visible") {
                assert!(html.contains(&format!("id=\"c-{}\"", ch.key)), "{}", ch.key);
                assert!(html.contains(&format!("<li class=\"chall st-{}\"", ch.status)));
            }
            assert!(html.contains("&lt;b&gt;&amp;") && !html.contains("<b>&"));
            let score = view.user_info.as_ref().expect("a player").tot_score;
            assert!(html.contains(&format!("<span id=\"my-score\">{score}</span>")));
            assert!(html.contains(t.status_passed));
            // Every text was found in this language (an unknown key reads as itself).
            for key in [
                "my_score",
                "my_rank",
                "status_passed",
                "solved_by",
                "points",
                "next_phase",
            ] {
                assert!(!html.contains(key), "{key} untranslated in {lang:?}");
            }
            assert!(!html.contains(&format!("<p>{}</p>", t.none)) || list.is_empty());
        }
        // A guest gets the login button instead of a score.
        let GameAnswer::Game(view) = game.answer_game(None) else {
            panic!("guests see the demo's challenges");
        };
        let t = GameTexts::new(Lang::En);
        let mut html = String::new();
        write_content(&mut html, &t, false, &view, &[]);
        assert!(html.contains("href=\"/login\">Log in</a>"));
        assert!(!html.contains("my-score"));
        assert!(html.contains("<p>Nothing yet</p>"), "no announcements");
    }
}
