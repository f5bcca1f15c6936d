//! `gs archive` on the golden contests (the layout, and CSVs equal to the boards'
//! answers row for row) and every `gs report` on a generated contest, run as the real
//! binary against a SQLite database.

mod common;
mod http_support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const GS: &str = env!("CARGO_BIN_EXE_gs");

struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    /// A configuration on a fresh SQLite database, loaded with `dump`.
    fn with_dump(dump: &Path) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().display();
        let config = dir.path().join("gs.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"sqlite://{d}/gs.db\"\n[paths]\ndata = \"{d}/data\"\ntemplates = \"{d}/templates\"\nattachments = \"{d}/attachments\"\nwriteups = \"{d}/writeups\"\nmedia = \"{d}/media\"\nanticheat_log = \"{d}/anticheat\"\n"
            ),
        )
        .unwrap();
        let site = Site { dir, config };
        let out = site.gs(&["db", "import", &dump.display().to_string()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        site
    }

    fn gs(&self, args: &[&str]) -> std::process::Output {
        Command::new(GS)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .output()
            .expect("run gs")
    }

    /// Runs `gs args…` and returns its standard output; fails the test on an error.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.gs(args);
        assert!(
            out.status.success(),
            "gs {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }
}

fn read_csv(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records().map(|x| x.expect("a CSV record")).collect()
}

fn opt_ts(v: &Value) -> String {
    v.as_i64().map(|t| t.to_string()).unwrap_or_default()
}

#[test]
fn archive_of_the_golden_contests_matches_their_boards() {
    for contest in ["ended", "running"] {
        let site = Site::with_dump(&common::golden_dir().join(format!("{contest}.contest.json")));
        let out = site.dir.path().join("archive");
        site.ok(&["archive", &out.display().to_string()]);
        for file in [
            "problemset/README.md",
            "ranking/README.md",
            "announcements/README.md",
            "official_writeup/tutorial/README.md",
        ] {
            assert!(out.join(file).is_file(), "{contest}: {file} missing");
        }
        let problemset = std::fs::read_to_string(out.join("problemset/README.md")).unwrap();
        assert!(
            problemset.contains("| 题目 | 分类 | Flag | 基础分 |"),
            "{problemset}"
        );
        assert!(problemset.contains("Challenge Bin Three"));
        let writeup =
            std::fs::read_to_string(out.join("official_writeup/bin_three/README.md")).unwrap();
        assert!(
            writeup.contains("## 命题人解答") && writeup.contains("基础分"),
            "{writeup}"
        );

        let answers = common::golden_json(&format!("{contest}.answers.json"));
        let mut boards = 0;
        for q in answers["static"].as_array().unwrap() {
            let endpoint = q["endpoint"].as_str().unwrap();
            let Some(key) = endpoint.strip_prefix("board/") else {
                continue;
            };
            if !q["auth_token"].is_null() || q["answer"]["error"] != Value::Null {
                continue;
            }
            let rows = read_csv(&out.join(format!("ranking/{key}.csv")));
            let a = &q["answer"];
            if a["type"] == "score" {
                let list = a["list"].as_array().unwrap();
                assert_eq!(rows.len(), list.len(), "{contest} {key}");
                for (row, e) in rows.iter().zip(list) {
                    assert_eq!(row[0], e["rank"].to_string(), "{contest} {key}");
                    assert_eq!(&row[1], e["nickname"].as_str().unwrap(), "{contest} {key}");
                    let badges: Vec<&str> = e["badges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b.as_str().unwrap())
                        .collect();
                    assert_eq!(row[3], badges.join(" "), "{contest} {key}");
                    assert_eq!(row[4], e["score"].to_string(), "{contest} {key}");
                    assert_eq!(
                        row[6],
                        opt_ts(&e["last_succ_submission_ts"]),
                        "{contest} {key}"
                    );
                }
            } else {
                let expected: Vec<(String, String, String, String)> = a["list"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|c| {
                        c["flags"].as_array().unwrap().iter().map(move |f| {
                            (
                                c["title"].as_str().unwrap().to_owned(),
                                f["flag_name"].as_str().unwrap_or("（全部）").to_owned(),
                                f["nickname"].as_str().unwrap_or("").to_owned(),
                                opt_ts(&f["timestamp"]),
                            )
                        })
                    })
                    .collect();
                let got: Vec<(String, String, String, String)> = rows
                    .iter()
                    .map(|r| (r[0].into(), r[1].into(), r[2].into(), r[5].into()))
                    .collect();
                assert_eq!(got, expected, "{contest} {key}");
            }
            boards += 1;
        }
        assert!(boards >= 8, "{contest}: only {boards} boards compared");

        // A non-empty folder is refused unless --force.
        let refused = site.gs(&["archive", &out.display().to_string()]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
        site.ok(&["archive", &out.display().to_string(), "--force"]);
    }
}

#[test]
fn reports_on_a_generated_contest() {
    let tables = gs::demo::generate(&gs::demo::ContestShape {
        seed: 11,
        users: 120,
        submissions: 3000,
        ..gs::demo::ContestShape::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("contest.json");
    std::fs::write(
        &dump,
        serde_json::to_vec(&gs::rows::Dump {
            tables: tables.clone(),
        })
        .unwrap(),
    )
    .unwrap();
    let site = Site::with_dump(&dump);
    let game = http_support::build_game(tables);

    // top: the board's first N, in order, with login key and profile fields.
    let top = site.ok(&["report", "top", "--board", "score_all", "-n", "5"]);
    let lines: Vec<Vec<&str>> = top.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        lines[0][..5],
        ["rank", "uid", "score", "group", "login_key"]
    );
    assert!(lines[0].contains(&"tel") && lines[0].contains(&"email"));
    let ranking = game.ranking(game.board("score_all").unwrap());
    assert_eq!(lines.len(), 6, "{top}");
    for (i, l) in lines[1..].iter().enumerate() {
        let (ui, score) = ranking.entries[i];
        let u = &game.users[ui as usize];
        assert_eq!(l[0], (i + 1).to_string());
        assert_eq!(l[1], u.id().to_string());
        assert_eq!(l[2], score.to_string());
        assert_eq!(l[4], u.row.login_key);
        assert_eq!(l.len(), lines[0].len());
    }

    // active: exactly the enabled users with a score.
    let active = site.ok(&["report", "active", "--min-score", "0"]);
    let mut got: Vec<&str> = active.lines().collect();
    let mut want: Vec<&str> = game
        .users
        .iter()
        .filter(|u| u.row.enabled && u.tot_score > 0)
        .map(|u| u.row.login_key.as_str())
        .collect();
    got.sort_unstable();
    want.sort_unstable();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // category: at most 10 per category, best first, only the group's users.
    let cat = site.ok(&["report", "category", "--group", "pku"]);
    let mut per: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for l in cat.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        let uid: i64 = f[2].parse().unwrap();
        assert_eq!(game.user_by_id(uid).unwrap().row.group, "pku", "{l}");
        per.entry(f[0].to_owned())
            .or_default()
            .push(f[4].parse().unwrap());
    }
    assert!(!per.is_empty(), "{cat}");
    for (c, scores) in &per {
        assert!(scores.len() <= 10, "{c}");
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{c}: {scores:?}");
    }
    let unknown = site.gs(&["report", "category", "--group", "nobody"]);
    assert!(!unknown.status.success());

    // which-flag: a per-user (leet) flag points at its owner only.
    let (key, fi) = game
        .challenges
        .iter()
        .find_map(|c| {
            c.flags
                .iter()
                .position(|f| f.spec.raw["type"] == "leet")
                .map(|fi| (c.row.key.clone(), fi))
        })
        .expect("a leet flag in the generated contest");
    let owner = &game.users[7];
    let flag = game.challenge(&key).unwrap().flags[fi]
        .spec
        .correct_value(&key, fi, owner.id(), game.options().dynamic_flags.as_ref())
        .unwrap();
    let which = site.ok(&[
        "report",
        "which-flag",
        "--challenge",
        &key,
        "--flag-index",
        &fi.to_string(),
        &flag,
    ]);
    let uids: Vec<&str> = which
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(uids, [owner.id().to_string().as_str()], "{which}");
    let nobody = site.ok(&["report", "which-flag", "--challenge", &key, "flag{nobody}"]);
    assert_eq!(nobody.lines().count(), 1);

    // writeups: the uploaded file's metadata per chosen uid.
    let uid = game.users[3].id();
    let wdir = site.dir.path().join("writeups").join(uid.to_string());
    std::fs::create_dir_all(&wdir).unwrap();
    std::fs::write(
        wdir.join("metadata.json"),
        r#"{"filename": "wp.pdf", "size": 1234, "sha256": "ab12", "publish": true, "rights": "CC0"}"#,
    )
    .unwrap();
    let other = game.users[4].id();
    let wp = site.ok(&["report", "writeups", "--uids", &format!("{uid},{other}")]);
    let rows: Vec<Vec<&str>> = wp.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{wp}");
    assert_eq!(rows[1][0], uid.to_string());
    assert_eq!(rows[1][4], "wp.pdf");
    assert_eq!(rows[1][5], "1234");
    assert_eq!(rows[1][8], "CC0");
    assert_eq!(rows[2][4], "", "no writeup for {other}");
    let missing = site.gs(&["report", "writeups", "--uids", "999999"]);
    assert!(!missing.status.success());
}
