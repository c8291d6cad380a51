//! A private network namespace for the sysctl experiments, and the kernel's views of it.
//!
//! The `net.ipv4.*` knobs the sysctl rules judge are per network namespace: in a namespace of
//! its own an experiment can set them, run servers and clients on its own loopback and read
//! its own `/proc/net/*` tables without touching the host. [`PrivateNamespace::enter`] is the
//! only way to get a handle that writes sysctls, and it checks that the namespace really
//! changed; writes are further limited to [`PER_NAMESPACE_KEYS`].

use lints::sysctl::SysctlFile;
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The keys the lab writes: TCP and local-port settings that every network namespace has its
/// own copy of (plus `tcp_tw_recycle`, whose absence is what one experiment shows). Any other
/// key of a fixture is reported as skipped: a key that is not per namespace would change the
/// host.
pub const PER_NAMESPACE_KEYS: &[&str] = &[
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_ecn",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_tw_recycle",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_tw_reuse_delay",
];

/// The message of every failure to get a private namespace; the lab's tests fail with it.
pub const NEEDS_ROOT: &str = "needs root for a private network namespace (unshare -n)";

/// Proof that this process runs in a network namespace of its own, with `lo` up.
#[derive(Debug)]
pub struct PrivateNamespace {
    _private: (),
}

/// What became of one assignment of a sysctl file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub key: String,
    pub value: String,
    /// `set`, `no such key`, `rejected: <error>` or `skipped: ...`.
    pub outcome: String,
}

impl PrivateNamespace {
    /// Moves this process into a new network namespace and brings its loopback up. Call it
    /// before any thread is started: `unshare` moves only the calling thread, and threads
    /// started afterwards inherit its namespace.
    pub fn enter() -> Result<PrivateNamespace, String> {
        let before = namespace_inode()?;
        // SAFETY: unshare takes a flag word and touches no memory of ours.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "{NEEDS_ROOT}: unshare(CLONE_NEWNET): {}",
                io::Error::last_os_error()
            ));
        }
        if namespace_inode()? == before {
            return Err(format!(
                "{NEEDS_ROOT}: unshare succeeded but /proc/self/ns/net did not change"
            ));
        }
        loopback_up().map_err(|e| format!("cannot bring lo up in the new namespace: {e}"))?;
        Ok(PrivateNamespace { _private: () })
    }

    /// Writes one of [`PER_NAMESPACE_KEYS`].
    pub fn write(&self, key: &str, value: &str) -> io::Result<()> {
        if !PER_NAMESPACE_KEYS.contains(&key) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{key} is not a key the lab writes"),
            ));
        }
        std::fs::write(proc_path(key), value)
    }

    /// Applies a sysctl file the way `sysctl -p` does, one assignment after the other, except
    /// that keys outside [`PER_NAMESPACE_KEYS`] (and globs) are skipped.
    pub fn apply(&self, file: &SysctlFile) -> Vec<Applied> {
        file.assignments
            .iter()
            .map(|a| {
                let value = a.value_text().into_owned();
                let outcome = if a.glob || !PER_NAMESPACE_KEYS.contains(&a.key.as_str()) {
                    "skipped: not a per-namespace key the lab writes".to_string()
                } else {
                    match self.write(&a.key, &value) {
                        Ok(()) => "set".to_string(),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => "no such key".to_string(),
                        Err(e) => format!("rejected: {e}"),
                    }
                };
                Applied {
                    key: a.key.clone(),
                    value,
                    outcome,
                }
            })
            .collect()
    }
}

/// Reads a sysctl of this namespace, trimmed (`32768\t60999` for the port range).
pub fn read(key: &str) -> io::Result<String> {
    Ok(std::fs::read_to_string(proc_path(key))?.trim().to_string())
}

fn proc_path(key: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(key.replace('.', "/"))
}

fn namespace_inode() -> Result<u64, String> {
    std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .map_err(|e| format!("cannot read /proc/self/ns/net: {e}"))
}

fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket call; the descriptor is closed below on every path.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write `request`, which outlives the calls.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) < 0 {
            Err(io::Error::last_os_error())
        } else {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    result
}

/// Clock ticks per second, the unit of the timers in `/proc/net/tcp`.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    }
}

/// The counters of one group (`TcpExt`, `Tcp`) in the text of `/proc/net/netstat` or
/// `/proc/net/snmp`, where each group is a line of names followed by a line of values.
pub fn counters(text: &str, group: &str) -> HashMap<String, i64> {
    let prefix = format!("{group}:");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = HashMap::new();
    for pair in lines.windows(2) {
        let (Some(names), Some(values)) =
            (pair[0].strip_prefix(&prefix), pair[1].strip_prefix(&prefix))
        else {
            continue;
        };
        // The names line has no numbers; the values line is all numbers.
        if names.split_whitespace().any(|n| n.parse::<i64>().is_ok()) {
            continue;
        }
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = value.parse() {
                out.insert(name.to_string(), v);
            }
        }
    }
    out
}

/// A `TcpExt` counter of this namespace (`TCPTimeWaitOverflow`), from `/proc/net/netstat`.
pub fn tcp_ext(name: &str) -> io::Result<i64> {
    counter("/proc/net/netstat", "TcpExt", name)
}

/// A `Tcp` MIB counter of this namespace (`OutRsts`), from `/proc/net/snmp`.
pub fn tcp_mib(name: &str) -> io::Result<i64> {
    counter("/proc/net/snmp", "Tcp", name)
}

fn counter(path: &str, group: &str, name: &str) -> io::Result<i64> {
    let text = std::fs::read_to_string(path)?;
    counters(&text, group).get(name).copied().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no {group} counter {name} in {path}"),
        )
    })
}

/// The object size of a kernel slab cache (`tw_sock_TCP`), from `/proc/slabinfo`, if readable.
pub fn slab_object_size(text: &str, cache: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        if fields.next()? != cache {
            return None;
        }
        // name active_objs num_objs objsize ...
        fields.nth(2)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counter_groups_by_name() {
        let text = "TcpExt: SyncookiesSent TCPTimeWaitOverflow TW\n\
                    TcpExt: 0 90 100\n\
                    IpExt: InNoRoutes TCPTimeWaitOverflow\n\
                    IpExt: 1 7\n";
        let ext = counters(text, "TcpExt");
        assert_eq!(ext.get("TCPTimeWaitOverflow"), Some(&90));
        assert_eq!(ext.get("TW"), Some(&100));
        assert_eq!(counters(text, "IpExt").get("TCPTimeWaitOverflow"), Some(&7));
        assert!(counters(text, "Tcp").is_empty());
    }

    #[test]
    fn reads_this_machines_counters() {
        assert!(tcp_mib("OutRsts").unwrap() >= 0);
        assert!(tcp_ext("TCPTimeWaitOverflow").unwrap() >= 0);
        assert!(tcp_ext("NoSuchCounter").is_err());
    }

    #[test]
    fn finds_a_slab_object_size() {
        let text = "# name <active_objs> <num_objs> <objsize> <objperslab>\n\
                    tw_sock_TCPv6 0 0 256 16 1\n\
                    tw_sock_TCP 96 176 248 16 1\n";
        assert_eq!(slab_object_size(text, "tw_sock_TCP"), Some(248));
        assert_eq!(slab_object_size(text, "TCP"), None);
    }

    #[test]
    fn keys_map_to_proc_paths() {
        assert_eq!(
            proc_path("net.ipv4.tcp_tw_reuse"),
            PathBuf::from("/proc/sys/net/ipv4/tcp_tw_reuse")
        );
    }
}
