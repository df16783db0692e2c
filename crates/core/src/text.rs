//! Untrusted text in messages: field values, titles, headers and paths come
//! from files anyone may have written, so an error line shows them escaped
//! (no terminal control sequence reaches the terminal) and cut (a 200 MB
//! header is not a 200 MB error line).

/// `text` with every control character escaped (`\u{1b}`, `\0`, `\n`...) and
/// cut after `max_chars` characters, marked by `...`.
///
/// ```
/// use movierec_core::text::shown;
/// assert_eq!(shown("\u{1b}[2Jhi", 40), "\\u{1b}[2Jhi");
/// assert_eq!(shown("abcdef", 3), "abc...");
/// ```
pub fn shown(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(
        text.len()
            .min(max_chars.saturating_mul(4).saturating_add(3)),
    );
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`shown`] for bytes that may not be UTF-8 (invalid sequences become
/// U+FFFD); only the first `4 * max_chars` bytes are looked at.
pub fn shown_bytes(bytes: &[u8], max_chars: usize) -> String {
    let head = &bytes[..bytes
        .len()
        .min(max_chars.saturating_mul(4).saturating_add(4))];
    let mut s = shown(&String::from_utf8_lossy(head), max_chars);
    if head.len() < bytes.len() && !s.ends_with("...") {
        s.push_str("...");
    }
    s
}

/// One line of at most `max_bytes` bytes (cut on a character boundary and
/// marked by `...`), with control characters escaped: the form of every
/// error line the CLI prints.
pub fn one_line_cut(text: &str, max_bytes: usize) -> String {
    let escaped = shown(text, usize::MAX);
    if escaped.len() <= max_bytes {
        return escaped;
    }
    let mut end = max_bytes.saturating_sub(3);
    while !escaped.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &escaped[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_cuts() {
        assert_eq!(shown("a\0b\x7f", 10), "a\\u{0}b\\u{7f}");
        assert_eq!(shown("é€", 1), "é...");
        assert_eq!(shown_bytes(b"\xff\x1b[31mX", 40), "\u{fffd}\\u{1b}[31mX");
        assert_eq!(shown_bytes(&[b'a'; 1000], 5), "aaaaa...");
    }

    #[test]
    fn one_line_is_bounded_and_clean() {
        let long = "é\n".repeat(1000);
        let line = one_line_cut(&long, 300);
        assert!(line.len() <= 300, "{}", line.len());
        assert!(!line.chars().any(char::is_control));
        assert!(line.ends_with("..."));
        assert_eq!(one_line_cut("short", 300), "short");
    }
}
