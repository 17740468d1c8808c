//! Keeping the monitor small: it is a fork of the CLI and lives as long as
//! its container, so after the start it hands back what the CLI had touched.

use std::fs::File;
use std::os::unix::fs::FileExt;

const PAGE: usize = 4096;
/// /proc/self/pagemap: the page is present / is a file page (not a private copy).
const PM_PRESENT: u64 = 1 << 63;
const PM_FILE: u64 = 1 << 61;

/// Drop clean file-backed pages (code, read-only data, never-written data)
/// from our page tables: they fault back in only where the relay loop needs
/// them. Pages made private by a write (relocations, globals) are kept; dead
/// stack below today's frame and free heap go back to the kernel.
pub fn shed() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let pagemap = File::open("/proc/self/pagemap").ok();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let path = f.nth(3).unwrap_or("");
        let Some((start, end)) = parse_range(range) else {
            continue;
        };
        if path == "[stack]" {
            drop_dead_stack(start);
        } else if path.starts_with('/') && perms.ends_with('p') {
            drop_clean_file_pages(pagemap.as_ref(), start, end);
        }
    }
    // SAFETY: returns free heap pages to the kernel.
    unsafe { libc::malloc_trim(0) };
    if crate::log::enabled(crate::log::Level::Debug) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap_or("");
        crate::debug!("monitor memory after shedding: {rss}");
    }
}

fn parse_range(range: &str) -> Option<(usize, usize)> {
    let (a, b) = range.split_once('-')?;
    Some((
        usize::from_str_radix(a, 16).ok()?,
        usize::from_str_radix(b, 16).ok()?,
    ))
}

/// Unmaps the runs of present file pages in a private file mapping. Without
/// a readable pagemap only wholly clean mappings could be judged, so none is.
fn drop_clean_file_pages(pagemap: Option<&File>, start: usize, end: usize) {
    let Some(pagemap) = pagemap else { return };
    let pages = (end - start) / PAGE;
    let mut entries = vec![0u8; pages * 8];
    let offset = (start / PAGE * 8) as u64;
    if pagemap.read_exact_at(&mut entries, offset).is_err() {
        return;
    }
    let clean = |i: usize| {
        let e = u64::from_ne_bytes(entries[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        e & PM_PRESENT != 0 && e & PM_FILE != 0
    };
    let mut i = 0;
    while i < pages {
        if !clean(i) {
            i += 1;
            continue;
        }
        let run = i;
        while i < pages && clean(i) {
            i += 1;
        }
        let addr = start + run * PAGE;
        // SAFETY: these pages are unmodified file pages of a private
        // mapping: dropping them only costs a page fault that maps the
        // same cached bytes back.
        unsafe {
            libc::madvise(
                addr as *mut libc::c_void,
                (i - run) * PAGE,
                libc::MADV_DONTNEED,
            )
        };
    }
}

/// The CLI's deep call chains left stack pages below today's stack pointer
/// that nothing will read again: they refault as zeroes if ever needed.
fn drop_dead_stack(low: usize) {
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    // A margin below this frame for the calls still to come from here.
    let end = sp.saturating_sub(16 * 1024) & !(PAGE - 1);
    if end > low {
        // SAFETY: [low, end) lies wholly below the live part of this
        // thread's stack, which grows down from above `sp`.
        unsafe { libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED) };
    }
}
