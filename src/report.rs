//! `gs report`: the organizers' post-contest queries (the reference's `top_info.py`,
//! `active_players.py`, `category_board.py`, `check_which_flag.py` and
//! `export_player_wp_list.py`) as tab-separated text, from a game loaded from the database.

use crate::config::Config;
use crate::rules::ProfileField;
use crate::rules::{BoardKind, BOARDS};
use crate::state::Game;
use anyhow::{bail, Context as _, Result};
use serde_json::Value;
use std::fmt::Write as _;

/// One TSV field: tabs and line breaks would break the table.
fn field(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

fn line(out: &mut String, fields: &[String]) {
    let _ = writeln!(out, "{}", fields.join("\t"));
}

/// `top`: the first `n` of score board `board`, with what is needed to contact them
/// (login key and properties, every profile field).
pub fn top(game: &Game, board: &str, n: usize) -> Result<String> {
    let b = game.board(board).with_context(|| {
        format!(
            "no board `{board}`\n  help: score boards are {}",
            score_boards().join(", ")
        )
    })?;
    if !matches!(b.spec.kind, BoardKind::Score { .. }) {
        bail!(
            "`{board}` is not a score board\n  help: score boards are {}",
            score_boards().join(", ")
        );
    }
    let ranking = game.ranking(b);
    let mut out = String::new();
    let mut head: Vec<String> = [
        "rank",
        "uid",
        "score",
        "group",
        "login_key",
        "login_properties",
    ]
    .map(str::to_owned)
    .to_vec();
    head.extend(ProfileField::ALL.iter().map(|f| f.name().to_owned()));
    line(&mut out, &head);
    for (i, &(ui, score)) in ranking.entries.iter().take(n).enumerate() {
        let u = &game.users[ui as usize];
        let mut row = vec![
            (i + 1).to_string(),
            u.id().to_string(),
            score.to_string(),
            field(&u.row.group),
            field(&u.row.login_key),
            field(&u.row.login_properties.to_string()),
        ];
        row.extend(
            ProfileField::ALL
                .iter()
                .map(|&f| field(u.profile_value(f).unwrap_or(""))),
        );
        line(&mut out, &row);
    }
    Ok(out)
}

/// `active`: login keys of enabled users whose total score is above `min_score`.
pub fn active(game: &Game, min_score: i64) -> String {
    let mut out = String::new();
    for u in &game.users {
        if u.row.enabled && u.tot_score > min_score {
            let _ = writeln!(out, "{}", field(&u.row.login_key));
        }
    }
    out
}

/// `category`: the top 10 of each challenge category among the users of `group`.
pub fn category(game: &Game, group: &str) -> Result<String> {
    if !game.users.iter().any(|u| u.row.group == group) {
        bail!("no user is in group `{group}`");
    }
    let mut categories: Vec<&str> = Vec::new();
    for &ci in &game.chall_order {
        let c = game.challenges[ci as usize].row.category.as_str();
        if !categories.contains(&c) {
            categories.push(c);
        }
    }
    let mut out = String::new();
    line(
        &mut out,
        &["category", "rank", "uid", "nickname", "score"].map(str::to_owned),
    );
    for cat in categories {
        // Ties by the earlier last correct submission in the category, as on the boards.
        let mut ranked: Vec<(i64, i64, usize)> = game
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.row.group == group && u.row.enabled)
            .filter_map(|(i, u)| {
                let (score, last) = game.standing(u, Some(cat));
                (score > 0).then_some((score, game.submissions[last? as usize].id, i))
            })
            .collect();
        ranked.sort_by_key(|&(score, last, _)| (-score, last));
        for (rank, (score, _, i)) in ranked.into_iter().take(10).enumerate() {
            let u = &game.users[i];
            line(
                &mut out,
                &[
                    field(cat),
                    (rank + 1).to_string(),
                    u.id().to_string(),
                    field(u.nickname().unwrap_or("")),
                    score.to_string(),
                ],
            );
        }
    }
    Ok(out)
}

/// `which-flag`: the users whose own value of flag `flag_index` of `challenge` is `flag`
/// (a leaked per-user flag points at its owner).
pub fn which_flag(game: &Game, challenge: &str, flag_index: usize, flag: &str) -> Result<String> {
    let ch = game
        .challenge(challenge)
        .with_context(|| format!("no challenge `{challenge}`"))?;
    let f = ch.flags.get(flag_index).with_context(|| {
        format!(
            "challenge `{challenge}` has {} flags (indexes 0 to {})",
            ch.flags.len(),
            ch.flags.len().saturating_sub(1)
        )
    })?;
    let mut out = String::new();
    line(
        &mut out,
        &["uid", "nickname", "group", "login_key"].map(str::to_owned),
    );
    if !f.spec.may_match(flag) {
        return Ok(out);
    }
    for u in &game.users {
        let value = f.spec.correct_value(
            challenge,
            u.id(),
            game.dynamic_value(u.id(), challenge, flag_index),
        );
        if value.as_deref() == Ok(flag) {
            line(
                &mut out,
                &[
                    u.id().to_string(),
                    field(u.nickname().unwrap_or("")),
                    field(&u.row.group),
                    field(&u.row.login_key),
                ],
            );
        }
    }
    Ok(out)
}

/// `writeups`: the writeup of each chosen uid — who, score, and the uploaded file's
/// metadata (file name, size, sha256, publish and rights choices).
pub fn writeups(config: &Config, game: &Game, uids: &[i64]) -> Result<String> {
    let mut out = String::new();
    line(
        &mut out,
        &[
            "uid", "nickname", "group", "score", "filename", "size", "sha256", "publish", "rights",
            "path",
        ]
        .map(str::to_owned),
    );
    for &uid in uids {
        let u = game
            .user_by_id(uid)
            .with_context(|| format!("user {uid} does not exist"))?;
        let dir = config.paths.writeups.join(uid.to_string());
        let meta: Option<Value> = std::fs::read(dir.join("metadata.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let get = |k: &str| {
            meta.as_ref()
                .and_then(|m| m.get(k))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        let filename = get("filename");
        let path = if filename.is_empty() {
            String::new()
        } else {
            dir.join(&filename).display().to_string()
        };
        line(
            &mut out,
            &[
                uid.to_string(),
                field(u.nickname().unwrap_or("")),
                field(&u.row.group),
                u.tot_score.to_string(),
                field(&filename),
                get("size"),
                get("sha256"),
                get("publish"),
                get("rights"),
                field(&path),
            ],
        );
    }
    Ok(out)
}

/// The keys of the score boards, for help texts.
pub fn score_boards() -> Vec<&'static str> {
    BOARDS
        .iter()
        .filter(|b| matches!(b.kind, BoardKind::Score { .. }))
        .map(|b| b.key)
        .collect()
}
