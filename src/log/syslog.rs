//! `--syslog`: coracle's own log lines also sent to the system log, as
//! syslog(3) sends them: one RFC 3164 datagram per line,
//! `<PRI>Mmm dd hh:mm:ss coracle[PID]: message` (facility user), to the
//! unix datagram socket /dev/log. Without a listener there (no syslog
//! daemon), nothing is sent and nothing is said: the console has it all.

use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;

const SOCKET: &str = "/dev/log";
/// LOG_USER, shifted as the priority carries it.
const FACILITY_USER: u8 = 1 << 3;

/// The connected socket; unset without `--syslog`, None when /dev/log
/// could not be reached.
static SOCK: OnceLock<Option<UnixDatagram>> = OnceLock::new();

/// Connect to /dev/log (the first call does; a failure is silent).
pub fn open() {
    SOCK.get_or_init(|| {
        let sock = UnixDatagram::unbound().ok()?;
        sock.connect(SOCKET).ok()?;
        Some(sock)
    });
}

/// Send `msg` at `severity` (0 emerg .. 7 debug) if `open` reached a
/// listener; an error sending (the daemon gone, a full queue) is dropped.
pub fn send(severity: u8, msg: &dyn std::fmt::Display) {
    let Some(Some(sock)) = SOCK.get() else {
        return;
    };
    let line = datagram(severity, &timestamp(), std::process::id(), msg);
    let _ = sock.send(line.as_bytes());
}

/// The datagram syslog(3) writes.
fn datagram(severity: u8, stamp: &str, pid: u32, msg: &dyn std::fmt::Display) -> String {
    format!(
        "<{}>{stamp} coracle[{pid}]: {msg}",
        FACILITY_USER | severity
    )
}

/// Now, in local time, as RFC 3164 has it: `Mmm dd hh:mm:ss`, the day
/// padded with a space.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: time with a null pointer only returns the time; localtime_r
    // fills the tm it is given from a valid time_t.
    let tm = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return "Jan  1 00:00:00".to_string();
        }
        tm
    };
    let month = MONTHS[tm.tm_mon.clamp(0, 11) as usize];
    format!(
        "{month} {:>2} {:02}:{:02}:{:02}",
        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_are_what_syslog3_sends() {
        assert_eq!(
            datagram(6, "Dec  4 05:40:01", 42, &"hello"),
            "<14>Dec  4 05:40:01 coracle[42]: hello"
        );
        assert_eq!(
            datagram(3, "Jan 10 00:00:00", 1, &"x"),
            "<11>Jan 10 00:00:00 coracle[1]: x"
        );
        assert_eq!(timestamp().len(), "Dec  4 05:40:01".len());
    }
}
