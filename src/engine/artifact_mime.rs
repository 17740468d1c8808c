//! A file's media type from its first 512 bytes, as Go's
//! `http.DetectContentType` sniffs it (podman types an artifact's layer
//! this way when `--file-type` is not given). The signatures are the
//! WHATWG sniffing table Go follows; audio and video containers other than
//! Ogg and WebM are left to `application/octet-stream`.

const SNIFF_LEN: usize = 512;

/// HTML tags Go recognizes at the start (after white space), each to be
/// followed by a space or `>`.
const HTML_TAGS: &[&[u8]] = &[
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
];

/// Exact prefixes and their types.
const PREFIXES: &[(&[u8], &str)] = &[
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xFE\xFF", "text/plain; charset=utf-16be"),
    (b"\xFF\xFE", "text/plain; charset=utf-16le"),
    (b"\xEF\xBB\xBF", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    (b"\xFF\xD8\xFF", "image/jpeg"),
    (b"OggS\x00", "application/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\x1A\x45\xDF\xA3", "video/webm"),
    (b"\x00\x01\x00\x00", "font/ttf"),
    (b"OTTO", "font/otf"),
    (b"ttcf", "font/collection"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"\x1F\x8B\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00\x61\x73\x6D", "application/wasm"),
];

pub fn detect(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(SNIFF_LEN)];
    let text = {
        let start = data
            .iter()
            .position(|b| !matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' '))
            .unwrap_or(data.len());
        &data[start..]
    };
    for tag in HTML_TAGS {
        if text.len() > tag.len()
            && text[..tag.len()].eq_ignore_ascii_case(tag)
            && matches!(text[tag.len()], b' ' | b'>')
        {
            return "text/html; charset=utf-8";
        }
    }
    if text.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    for (prefix, mime) in PREFIXES {
        if data.starts_with(prefix) {
            return mime;
        }
    }
    if data.len() >= 14 && data.starts_with(b"RIFF") && &data[8..14] == b"WEBPVP" {
        return "image/webp";
    }
    if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WAVE" {
        return "audio/wave";
    }
    // Text unless a byte no text has appears.
    if data.iter().any(|&b| {
        b <= 0x08 || b == 0x0B || (0x0E..=0x1A).contains(&b) || (0x1C..=0x1F).contains(&b)
    }) {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn sniffs_as_go_does() {
        assert_eq!(detect(b""), "text/plain; charset=utf-8");
        assert_eq!(detect(b"hello\n"), "text/plain; charset=utf-8");
        assert_eq!(detect(b"\x00\x01binary"), "application/octet-stream");
        assert_eq!(detect(b"\x1F\x8B\x08\x00rest"), "application/x-gzip");
        assert_eq!(detect(b"  <html><body>"), "text/html; charset=utf-8");
        assert_eq!(detect(b"<?xml version"), "text/xml; charset=utf-8");
        assert_eq!(detect(b"%PDF-1.7"), "application/pdf");
    }
}
