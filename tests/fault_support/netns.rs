//! Linux network namespaces joined by veth pairs, made for one test and deleted after
//! it (hosts on a network, on one machine). Needs root and `ip` (iproute2).

use std::process::Command;

/// Runs `ip ARGS`; the error is its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Whether namespaces can be made here: makes and deletes one.
pub fn probe() -> Result<(), String> {
    let name = format!("gsf{}-probe", std::process::id());
    ip(&["netns", "add", &name])?;
    ip(&["netns", "del", &name])
}

/// The namespaces and root-side interfaces of one test, deleted when dropped. Names carry
/// the test's pid, so that those a killed run left behind can be recognized and removed.
#[derive(Debug)]
pub struct Namespaces {
    tag: String,
    names: Vec<String>,
    root_links: Vec<String>,
}

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Namespaces {
    /// An empty set; first removes what runs no longer alive left behind.
    pub fn new() -> Namespaces {
        for line in ip_output(&["netns", "list"]).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if let Some(pid) = name.strip_prefix("gsf").and_then(|r| r.split('-').next()) {
                if !alive(pid) {
                    let _ = ip(&["netns", "del", name]);
                }
            }
        }
        for line in ip_output(&["-o", "link", "show"]).lines() {
            // "7: g1234-r0@if6: <...>"
            let name = line.split(": ").nth(1).unwrap_or("").split('@').next();
            let name = name.unwrap_or("");
            if let Some(pid) = name.strip_prefix('g').and_then(|r| r.split('-').next()) {
                if pid.chars().all(|c| c.is_ascii_digit()) && !pid.is_empty() && !alive(pid) {
                    let _ = ip(&["link", "del", name]);
                }
            }
        }
        Namespaces {
            tag: std::process::id().to_string(),
            names: Vec::new(),
            root_links: Vec::new(),
        }
    }

    /// Makes namespace `role` (with its loopback up); returns its full name.
    pub fn add(&mut self, role: &str) -> Result<String, String> {
        let name = format!("gsf{}-{role}", self.tag);
        ip(&["netns", "add", &name])?;
        self.names.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// The name of interface `short` (at most 3 characters) of this test.
    pub fn interface(&self, short: &str) -> String {
        format!("g{}-{short}", self.tag)
    }

    /// A veth pair: interface `a_if` in namespace `a` (`None`: the root namespace) with
    /// address `a_addr` (CIDR), and `b_if` in `b` with `b_addr`; both up.
    pub fn link(
        &mut self,
        (a, a_if, a_addr): (Option<&str>, &str, &str),
        (b, b_if, b_addr): (&str, &str, &str),
    ) -> Result<(), String> {
        let (a_if, b_if) = (self.interface(a_if), self.interface(b_if));
        let mut add = Vec::new();
        if let Some(a) = a {
            add.extend(["-n", a]);
        } else {
            self.root_links.push(a_if.clone());
        }
        add.extend([
            "link", "add", &a_if, "type", "veth", "peer", "name", &b_if, "netns", b,
        ]);
        ip(&add)?;
        set_address(a, &a_if, a_addr)?;
        set_address(Some(b), &b_if, b_addr)
    }
}

fn set_address(ns: Option<&str>, interface: &str, cidr: &str) -> Result<(), String> {
    let in_ns = |rest: &[&str]| -> Result<(), String> {
        let mut args = Vec::new();
        if let Some(ns) = ns {
            args.extend(["-n", ns]);
        }
        args.extend_from_slice(rest);
        ip(&args)
    };
    in_ns(&["addr", "add", cidr, "dev", interface])?;
    in_ns(&["link", "set", interface, "up"])
}

/// Sets interface `interface` of namespace `ns` up or down (a cable pulled).
pub fn set_up(ns: &str, interface: &str, up: bool) -> Result<(), String> {
    ip(&[
        "-n",
        ns,
        "link",
        "set",
        interface,
        if up { "up" } else { "down" },
    ])
}

/// A /28 of the benchmarking range (198.18.0.0/15, RFC 2544) that no local address uses:
/// returns its first three octets and the base of the last.
pub fn free_block() -> (String, u8) {
    let taken = ip_output(&["-o", "-4", "addr", "show"]);
    loop {
        let b = 18 + rand::random::<u8>() % 2;
        let c = rand::random::<u8>();
        let prefix = format!("198.{b}.{c}");
        if !taken.contains(&format!("{prefix}.")) {
            return (prefix, (rand::random::<u8>() % 16) * 16);
        }
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends, and with them their peers.
        for name in &self.names {
            let _ = ip(&["netns", "del", name]);
        }
        for link in &self.root_links {
            let _ = ip(&["link", "del", link]);
        }
    }
}
