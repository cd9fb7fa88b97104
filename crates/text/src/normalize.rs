//! Canonical text normalisation of the `mycel-text/v1` profile.
//!
//! Steps, in order: NFKD; drop combining marks (accents); lowercase; fold confusable Cyrillic and
//! Greek letters to the Latin letter they look like; drop invisible format characters (zero-width
//! spaces, soft hyphens, BOM); turn every other non-alphanumeric character into a space; collapse
//! runs of whitespace to one space and trim. The result is NFKC-stable for Latin-script text.
//! ASCII input takes a fast path with the same result.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Normalises `text` into `out` (cleared first).
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    };
    if text.is_ascii() {
        return normalize_ascii(text.as_bytes(), out);
    }
    for c in text.nfkd() {
        if is_combining_mark(c) || is_invisible(c) {
            continue;
        }
        if c.is_ascii() {
            push(c.to_ascii_lowercase(), out);
        } else {
            for l in c.to_lowercase() {
                push(fold_confusable(l), out);
            }
        }
    }
}

/// The ASCII path of [`normalize_into`], byte by byte into a buffer the length of the input (the
/// output is never longer: a space is written only in place of at least one dropped byte).
fn normalize_ascii(text: &[u8], out: &mut String) {
    let mut v = std::mem::take(out).into_bytes();
    v.clear();
    v.resize(text.len(), 0);
    let (mut n, mut pending_space) = (0usize, false);
    for &b in text {
        if b.is_ascii_alphanumeric() {
            if pending_space && n > 0 {
                v[n] = b' ';
                n += 1;
            }
            pending_space = false;
            v[n] = b.to_ascii_lowercase();
            n += 1;
        } else {
            pending_space = true;
        }
    }
    v.truncate(n);
    *out = String::from_utf8(v).expect("ASCII in, ASCII out");
}

/// Normalises `text` into a new string.
pub fn normalize(text: &str) -> String {
    let mut s = String::new();
    normalize_into(text, &mut s);
    s
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Folds lowercase Cyrillic and Greek homoglyphs of Latin letters (confusables v1 table).
fn fold_confusable(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_punctuation_and_whitespace() {
        assert_eq!(
            normalize("  Hello,   WORLD!\n\tFoo-bar "),
            "hello world foo bar"
        );
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("!!!"), "");
    }

    #[test]
    fn unicode_reencodings_are_equal() {
        // NFC vs NFD, fullwidth, ligature, accent, zero-width space, non-breaking space.
        let base = normalize("cafe office ABC a b");
        assert_eq!(
            normalize("caf\u{e9} o\u{fb03}ce \u{ff21}\u{ff22}\u{ff23} a\u{a0}b"),
            base
        );
        assert_eq!(normalize("cafe\u{301} of\u{200b}fice ABC a b"), base);
    }

    #[test]
    fn confusables_fold_to_latin() {
        // Cyrillic а, е, о, р, с in "paceo"-like spelling.
        assert_eq!(normalize("\u{440}\u{430}\u{441}\u{435}\u{43e}"), "paceo");
        assert_eq!(normalize("Ηello"), "ηello"); // Greek capital eta stays a distinct letter
    }

    #[test]
    fn ascii_fast_path_matches_general_path_on_every_byte_mix() {
        // Every printable and control ASCII byte, in runs and alone, against the general path.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..300 {
            let text: String = (0..len)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((s >> 33) % 128) as u8 as char
                })
                .collect();
            let mut general = String::new();
            normalize_into(&format!("{text}\u{200b}"), &mut general);
            assert_eq!(normalize(&text), general, "{text:?}");
        }
    }

    #[test]
    fn ascii_fast_path_matches_general_path() {
        let s = "The Quick, brown fox: jumps over 13 lazy dogs.";
        let mut general = String::new();
        // Force the general path by appending a non-ASCII char that normalises away.
        normalize_into(&format!("{s}\u{200b}"), &mut general);
        assert_eq!(normalize(s), general);
    }
}
