//! `gs archive OUT_DIR`: the contest's archive in the reference's layout — the problem
//! set, one writeup folder per challenge, the rankings (Markdown and one CSV per board)
//! and the announcements — built from the database through the same game as the API.

use crate::clock::TimeZone;
use crate::config::Config;
use crate::rules::{BoardKind, BOARDS};
use crate::state::user::FlagRef;
use crate::state::Game;
use anyhow::{bail, Context as _, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `gs archive` was asked.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// The folder to write.
    pub out_dir: PathBuf,
    /// Descriptions are rendered as this user sees them (their group).
    pub preview_uid: i64,
    /// Write into a non-empty folder.
    pub force: bool,
}

/// What was written, for the command's summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Challenges in the problem set.
    pub challenges: usize,
    /// Boards written as CSV.
    pub boards: usize,
    /// Attachments copied.
    pub attachments: usize,
}

/// Refuses a non-empty `dir` unless `force`; creates it when missing.
fn prepare(dir: &Path, force: bool) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                bail!(
                    "`{}` is not empty\n  help: choose an empty folder, or pass --force to write into it",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display())),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", dir.display())),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

/// A Markdown table cell: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Writes the archive of `game` (loaded at `now_s`) under `options.out_dir`.
pub fn write_archive(
    config: &Config,
    game: &Game,
    now_s: i64,
    options: &ArchiveOptions,
) -> Result<ArchiveSummary> {
    let preview = game.user_by_id(options.preview_uid).with_context(|| {
        format!(
            "the preview user {} does not exist\n  help: pass --preview-uid with a uid whose group sees the descriptions",
            options.preview_uid
        )
    })?;
    let group = preview.row.group.clone();
    prepare(&options.out_dir, options.force)?;
    let tz = TimeZone::configured(&config.admin.timezone);
    let out = &options.out_dir;
    let mut summary = ArchiveSummary::default();
    write(&out.join("problemset/README.md"), &problemset(game, &group))?;
    for &ci in &game.chall_order {
        let ch = &game.challenges[ci as usize];
        let dir = out.join("official_writeup").join(&ch.row.key);
        let (text, copied) = writeup(config, game, ci, &group, &dir)?;
        write(&dir.join("README.md"), &text)?;
        summary.attachments += copied;
        summary.challenges += 1;
    }
    let mut ranking = String::from("# 排行榜\n");
    for spec in BOARDS {
        let answer = game.answer_board(None, spec.key, now_s);
        let (csv, md) = match spec.kind {
            BoardKind::Score { .. } => score_board(game, &answer, &tz)?,
            BoardKind::FirstBlood => first_blood_board(&answer, &tz)?,
        };
        write(&out.join(format!("ranking/{}.csv", spec.key)), &csv)?;
        let _ = write!(ranking, "\n## {}\n\n", spec.name);
        if let Some(desc) = spec.desc {
            let _ = writeln!(ranking, "{desc}\n");
        }
        let _ = writeln!(ranking, "CSV: [{0}.csv]({0}.csv)\n\n{md}", spec.key);
        summary.boards += 1;
    }
    write(&out.join("ranking/README.md"), &ranking)?;
    write(
        &out.join("announcements/README.md"),
        &announcements(game, &group, &tz),
    )?;
    Ok(summary)
}

/// The phase a pass belongs to: the trigger in force at its time.
fn phase_of(game: &Game, ts: i64) -> (i64, String) {
    let tick = game.timeline.tick_at(ts);
    let name = game
        .timeline
        .at_tick(tick)
        .map_or_else(|| format!("tick {tick}"), |t| t.name.clone());
    (tick, name)
}

/// Passes of one flag: per group, and per phase (the tick of the trigger in force).
type Passes = (BTreeMap<String, usize>, BTreeMap<i64, usize>);

fn problemset(game: &Game, group: &str) -> String {
    // Passes of each flag per group and per phase.
    let mut groups: Vec<&str> = Vec::new();
    let mut phases: BTreeMap<i64, String> = BTreeMap::new();
    let mut passes: BTreeMap<(u32, u32), Passes> = BTreeMap::new();
    for u in &game.users {
        for &(f, s) in &u.passed_flags {
            let (tick, name) = phase_of(game, game.submissions[s as usize].timestamp_s());
            phases.insert(tick, name);
            if !groups.contains(&u.row.group.as_str()) {
                groups.push(&u.row.group);
            }
            let e = passes.entry((f.chall, f.flag)).or_default();
            *e.0.entry(u.row.group.clone()).or_default() += 1;
            *e.1.entry(tick).or_default() += 1;
        }
    }
    groups.sort_by_key(|g| crate::rules::group_display(g));
    let mut md = String::from("# 题目\n\n");
    let _ = write!(md, "| 题目 | 分类 | Flag | 基础分 |");
    for g in &groups {
        let _ = write!(md, " {} 通过 |", cell(&crate::rules::group_display(g)));
    }
    for name in phases.values() {
        let _ = write!(md, " {} 通过 |", cell(name));
    }
    md.push('\n');
    md.push_str(&"| --- ".repeat(4 + groups.len() + phases.len()));
    md.push_str("|\n");
    for &ci in &game.chall_order {
        let ch = &game.challenges[ci as usize];
        for (fi, f) in ch.flags.iter().enumerate() {
            let empty = Default::default();
            let (by_group, by_phase) = passes.get(&(ci, fi as u32)).unwrap_or(&empty);
            let _ = write!(
                md,
                "| {} | {} | {} | {} |",
                cell(&ch.row.title),
                cell(&ch.row.category),
                cell(&f.spec.name),
                f.spec.base_score
            );
            for g in &groups {
                let _ = write!(md, " {} |", by_group.get(*g).copied().unwrap_or(0));
            }
            for tick in phases.keys() {
                let _ = write!(md, " {} |", by_phase.get(tick).copied().unwrap_or(0));
            }
            md.push('\n');
        }
    }
    for &ci in &game.chall_order {
        let ch = &game.challenges[ci as usize];
        let _ = write!(
            md,
            "\n## [{}] {}\n\n{}\n",
            ch.row.category,
            ch.row.title,
            ch.render_desc(Some(group), game.cur_tick, &game.problem_log)
        );
    }
    md
}

/// One challenge's writeup page; copies its static attachments beside it.
fn writeup(
    config: &Config,
    game: &Game,
    ci: u32,
    group: &str,
    dir: &Path,
) -> Result<(String, usize)> {
    let ch = &game.challenges[ci as usize];
    let author = ch
        .row
        .chall_metadata
        .get("author")
        .and_then(Value::as_str)
        .unwrap_or("（未知）");
    let mut md = format!(
        "# [{}] {}\n\n- 命题人：{}\n",
        ch.row.category, ch.row.title, author
    );
    for (fi, f) in ch.flags.iter().enumerate() {
        let passed = game
            .users
            .iter()
            .filter(|u| {
                u.passed(FlagRef {
                    chall: ci,
                    flag: fi as u32,
                })
                .is_some()
            })
            .count();
        let name = if f.spec.name.is_empty() {
            "Flag".to_owned()
        } else {
            format!("Flag「{}」", f.spec.name)
        };
        let _ = writeln!(
            md,
            "- {name}：基础分 {}，最终分 {}，{passed} 人通过",
            f.spec.base_score, f.cur_score
        );
    }
    let _ = write!(
        md,
        "\n## 题目描述\n\n{}\n",
        ch.render_desc(Some(group), game.cur_tick, &game.problem_log)
    );
    let mut copied = 0;
    let actions = ch.row.actions.as_array().cloned().unwrap_or_default();
    if !actions.is_empty() {
        md.push_str("\n## 题目动作\n\n");
    }
    for a in &actions {
        let kind = a.get("type").and_then(Value::as_str).unwrap_or("?");
        let name = a.get("name").and_then(Value::as_str).unwrap_or("");
        match kind {
            "attachment" => {
                let filename = a.get("filename").and_then(Value::as_str).unwrap_or("");
                let file_path = a.get("file_path").and_then(Value::as_str).unwrap_or("");
                match copy_attachment(config, file_path, filename, dir) {
                    Ok(()) => {
                        copied += 1;
                        let _ =
                            writeln!(md, "- 附件「{name}」：[{filename}](attachments/{filename})");
                    }
                    Err(e) => {
                        tracing::warn!("archive: attachment of {}: {e}", ch.row.key);
                        let _ = writeln!(md, "- 附件「{name}」：{filename}（未能复制：{e}）");
                    }
                }
            }
            "dyn_attachment" => {
                let filename = a.get("filename").and_then(Value::as_str).unwrap_or("");
                let _ = writeln!(md, "- 附件「{name}」：{filename}（每位选手不同，未收录）");
            }
            _ => {
                let detail: Vec<String> = a
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| !["type", "name", "effective_after"].contains(&k.as_str()))
                    .map(|(k, v)| {
                        format!(
                            "{k}: {}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        )
                    })
                    .collect();
                let _ = writeln!(md, "- {kind}「{name}」：{}", detail.join("，"));
            }
        }
    }
    md.push_str("\n## 命题人解答\n\n（由命题人补充：解题思路、预期解法与 Flag。）\n");
    Ok((md, copied))
}

/// Copies an attachment (its path checked to stay inside `paths.attachments`) to
/// `dir/attachments/<filename>`.
fn copy_attachment(config: &Config, file_path: &str, filename: &str, dir: &Path) -> Result<()> {
    let source = crate::admin::resolve(&config.paths.attachments, file_path, true)
        .map_err(anyhow::Error::msg)?;
    let name = Path::new(filename);
    if filename.is_empty()
        || name.components().count() != 1
        || !matches!(
            name.components().next(),
            Some(std::path::Component::Normal(_))
        )
    {
        bail!("bad file name `{filename}`");
    }
    let target = dir.join("attachments").join(name);
    std::fs::create_dir_all(dir.join("attachments"))?;
    std::fs::copy(&source, &target)
        .with_context(|| format!("cannot copy `{}`", source.display()))?;
    Ok(())
}

fn time(tz: &TimeZone, ts: Option<i64>) -> String {
    ts.map(|t| tz.format(t)).unwrap_or_default()
}

/// The CSV and Markdown of a score board answer.
fn score_board(game: &Game, answer: &Value, tz: &TimeZone) -> Result<(String, String)> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "rank",
        "nickname",
        "group",
        "badges",
        "score",
        "last_correct_submission",
        "last_correct_submission_ts",
    ])?;
    let mut md = String::from(
        "| 排名 | 昵称 | 组别 | 分数 | 最后正确提交 |\n| --- | --- | --- | --- | --- |\n",
    );
    for e in answer["list"].as_array().into_iter().flatten() {
        let uid = e["uid"].as_i64().unwrap_or(0);
        let group = game
            .user_by_id(uid)
            .map(|u| u.group_display())
            .unwrap_or_default();
        let badges: Vec<&str> = e["badges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let ts = e["last_succ_submission_ts"].as_i64();
        let rank = e["rank"].to_string();
        let nickname = e["nickname"].as_str().unwrap_or("");
        let score = e["score"].to_string();
        csv.write_record([
            rank.as_str(),
            nickname,
            &group,
            &badges.join(" "),
            &score,
            &time(tz, ts),
            &ts.map(|t| t.to_string()).unwrap_or_default(),
        ])?;
        let shown_group = if badges.is_empty() {
            group.clone()
        } else {
            format!("{group} ({})", badges.join(", "))
        };
        let _ = writeln!(
            md,
            "| {rank} | {} | {} | {score} | {} |",
            cell(nickname),
            cell(&shown_group),
            time(tz, ts)
        );
    }
    Ok((String::from_utf8(csv.into_inner()?)?, md))
}

/// The CSV and Markdown of a first-blood board answer.
fn first_blood_board(answer: &Value, tz: &TimeZone) -> Result<(String, String)> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["challenge", "flag", "holder", "group", "time", "timestamp"])?;
    let mut md =
        String::from("| 题目 | Flag | 一血 | 组别 | 时间 |\n| --- | --- | --- | --- | --- |\n");
    for ch in answer["list"].as_array().into_iter().flatten() {
        let title = ch["title"].as_str().unwrap_or("");
        for f in ch["flags"].as_array().into_iter().flatten() {
            let flag = f["flag_name"].as_str().unwrap_or("（全部）");
            let holder = f["nickname"].as_str().unwrap_or("");
            let group = f["group_disp"].as_str().unwrap_or("");
            let ts = f["timestamp"].as_i64();
            csv.write_record([
                title,
                flag,
                holder,
                group,
                &time(tz, ts),
                &ts.map(|t| t.to_string()).unwrap_or_default(),
            ])?;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                cell(title),
                cell(flag),
                cell(holder),
                cell(group),
                time(tz, ts)
            );
        }
    }
    Ok((String::from_utf8(csv.into_inner()?)?, md))
}

fn announcements(game: &Game, group: &str, tz: &TimeZone) -> String {
    let mut md = String::from("# 公告\n");
    for a in &game.announcements {
        let d = a.describe(Some(group), game.cur_tick, &game.problem_log);
        let _ = write!(
            md,
            "\n## {}\n\n发布于 {}\n\n{}\n",
            a.row.title,
            tz.format(a.row.timestamp_s),
            d["content"].as_str().unwrap_or("")
        );
    }
    md
}
