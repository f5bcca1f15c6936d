//! One generator run: a child process in its own process group, fed JSON on stdin, with a
//! timeout and bounded output; a clean environment so that no secret of ours leaks into it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Most bytes read from a generator's stdout (a flag or a path needs far less).
pub const MAX_STDOUT_BYTES: u64 = 64 * 1024;
/// Most bytes of a generator's stderr kept for the log.
pub const MAX_STDERR_BYTES: u64 = 16 * 1024;

/// Variables a generator inherits; everything else (our `GS_*` secrets included) is dropped.
const KEPT_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// What a finished run printed.
#[derive(Debug)]
pub struct Output {
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error (at most [`MAX_STDERR_BYTES`]), as text.
    pub stderr: String,
}

/// Reads everything (so that the child never blocks on a full pipe) and keeps at most
/// `limit` bytes; the flag says whether there was more.
async fn read_capped(mut from: impl AsyncRead + Unpin, limit: u64) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut over = false;
    let mut chunk = [0u8; 8192];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return (kept, over),
            Ok(n) => {
                let room = (limit as usize).saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
                over |= n > room;
            }
        }
    }
}

/// Kills the whole process group of a generator that ran too long (a shell script's
/// children included), so that nothing it started keeps running.
fn kill_group(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `program args…` in `dir` with `input` on stdin. `Err` says what went wrong
/// (start, exit status, timeout, output over the limit), with the stderr when there is one.
pub async fn run(
    program: &Path,
    args: &[&str],
    dir: &Path,
    input: &[u8],
    timeout: Duration,
) -> Result<Output, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(
            KEPT_ENV
                .iter()
                .filter_map(|k| Some((k, std::env::var_os(k)?))),
        )
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let pid = child.id();
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("the generator's pipes could not be opened".into());
    };
    let input = input.to_vec();
    let feed = async move {
        // A generator that does not read its input closes the pipe: not an error.
        let _ = stdin.write_all(&input).await;
        drop(stdin);
    };
    let work = async {
        let (_, out, err, status) = tokio::join!(
            feed,
            read_capped(stdout, MAX_STDOUT_BYTES),
            read_capped(stderr, MAX_STDERR_BYTES),
            child.wait()
        );
        (out, err, status)
    };
    let Ok((out, err, status)) = tokio::time::timeout(timeout, work).await else {
        if let Some(pid) = pid {
            kill_group(pid);
        }
        return Err(format!("timed out after {} s", timeout.as_secs_f64()));
    };
    let stderr = String::from_utf8_lossy(&err.0).into_owned();
    let with_stderr = |msg: String| {
        if stderr.trim().is_empty() {
            msg
        } else {
            format!("{msg}; stderr: {}", stderr.trim())
        }
    };
    let status = status.map_err(|e| format!("waiting for it: {e}"))?;
    if !status.success() {
        return Err(with_stderr(format!("it exited with {status}")));
    }
    let (stdout, over) = out;
    if over {
        return Err(format!(
            "its standard output is over the limit of {MAX_STDOUT_BYTES} bytes"
        ));
    }
    let stdout = String::from_utf8(stdout)
        .map_err(|_| with_stderr("its standard output is not UTF-8".into()))?;
    Ok(Output { stdout, stderr })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh() -> &'static Path {
        Path::new("/bin/sh")
    }

    #[tokio::test]
    async fn input_reaches_the_program_and_env_is_clean() {
        std::env::set_var("GS_SECRET_FOR_TEST", "x");
        let dir = std::env::temp_dir();
        let out = run(
            sh(),
            &[
                "-c",
                "cat; echo \"[${GS_SECRET_FOR_TEST:-none}]\"; echo oops >&2",
            ],
            &dir,
            b"hello ",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(out.stdout, "hello [none]\n");
        assert_eq!(out.stderr, "oops\n");
    }

    #[tokio::test]
    async fn failures_say_why() {
        let dir = std::env::temp_dir();
        let t = Duration::from_secs(5);
        let e = run(sh(), &["-c", "echo bad >&2; exit 3"], &dir, b"", t)
            .await
            .unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("bad"), "{e}");
        let e = run(sh(), &["-c", "head -c 70000 /dev/zero"], &dir, b"", t)
            .await
            .unwrap_err();
        assert!(e.contains("over the limit"), "{e}");
        let started = std::time::Instant::now();
        let e = run(
            sh(),
            &["-c", "sleep 20; echo late"],
            &dir,
            b"",
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let e = run(Path::new("/nonexistent/gen"), &[], &dir, b"", t)
            .await
            .unwrap_err();
        assert!(e.contains("cannot start"), "{e}");
    }
}
