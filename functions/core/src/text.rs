//! Text as the event log shows it: values quoted and escaped, reasons cut to size, digests in
//! hex. Leaves: nothing here knows of CloudFormation or AWS.

use sha2::{Digest, Sha256};

/// Text from the event as it appears in a reason: quoted, at most 60 bytes (so one long value
/// cannot crowd out the others), with control and bidirectional characters escaped (so it
/// cannot break or disguise the event log's line).
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", escaped(&clip(text, 60)))
}

/// `text` with control and bidirectional characters escaped.
pub fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` cut to at most `max` bytes on a character boundary, marked with `...` when cut.
pub fn clip(text: &str, max: usize) -> String {
    truncate_with(text, max, "...")
}

/// The first `max` bytes of `text`, cut at a character boundary, marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    truncate_with(text, max, " [...]")
}

/// The first `max` bytes of `text`, cut at a character boundary, ending in `marker` when cut.
pub fn truncate_with(text: &str, max: usize, marker: &str) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max.saturating_sub(marker.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{marker}", &text[..cut])
}

/// The SHA-256 digest of `text`, as 64 lowercase hex digits (tokens, names and suffixes are
/// its prefixes).
pub fn sha256_hex(text: impl AsRef<[u8]>) -> String {
    Sha256::digest(text.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_sixty_four_hex_digits() {
        let digest = sha256_hex("abc");
        assert_eq!(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_quoted_value_is_cut_at_sixty_bytes_and_escaped() {
        assert_eq!(quoted("a\nb"), "\"a\\u{a}b\"");
        let long = quoted(&"x".repeat(100));
        assert!(long.ends_with("...\"") && long.len() == 62, "{long}");
        let cut = truncate("héllo wörld, and more", 12);
        assert!(cut.starts_with("hé") && cut.ends_with(" [...]") && cut.len() <= 12, "{cut}");
        assert_eq!(truncate("short", 12), "short");
    }
}
