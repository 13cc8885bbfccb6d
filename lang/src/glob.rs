//! Glob patterns on paths and strings.
//!
//! `*` matches any run of bytes except `/`, `**` any run including `/`, `?` one byte except
//! `/`, `[a-z]` / `[!a-z]` one byte of (not of) a class, never `/`, and `{a,b}` one of the
//! alternatives. As in gitignore and bash's globstar, `/**/` also matches a single `/` and a
//! leading `**/` also matches nothing, so `/etc/**/shadow` covers `/etc/shadow`. Patterns match
//! whole strings. Braces and those globstar readings are expanded here, so the evaluator and
//! the compiler see one list of alternatives made of the simple tokens only.

/// Alternatives beyond this come from brace products (`{a,b}{c,d}...`) too large to be meant.
pub const MAX_ALTERNATIVES: usize = 64;
/// How deep braces may nest. Expanding recurses once a level, so the depth must be bounded
/// (30,000 nested braces overflowed the stack); and each level deeper either adds an
/// alternative, so that this many reach [`MAX_ALTERNATIVES`] anyway, or holds one
/// alternative alone, which the braces around it do not change.
pub const MAX_BRACE_DEPTH: usize = 64;

/// A glob test's share of its program, in [`Glob::cost`] units (about one BPF instruction
/// each): the final state's accept set compared with the few that hold the glob, or a bit of
/// a bitmap; the scan itself is counted once per string by the checker.
pub const GLOB_TEST_COST: u32 = 12;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Token {
    Byte(u8),
    /// `?`
    AnyByte,
    /// `[...]`: inclusive byte ranges.
    Class {
        ranges: Vec<(u8, u8)>,
        negated: bool,
    },
    /// `*`
    Star,
    /// `**`
    DoubleStar,
    /// `*` inside one argument of an exec's argument block ([`crate::cmdline`]): a run of
    /// bytes except `/` and the NUL that ends the argument. Never parsed; built by
    /// [`crate::cmdline::argument_glob`].
    ArgStar,
    /// `**` inside one argument: a run of bytes except the NUL that ends the argument.
    ArgDoubleStar,
}

impl Token {
    /// Whether this single-byte token accepts `byte`. Stars answer for one step of their run.
    pub fn accepts(&self, byte: u8) -> bool {
        match self {
            Token::Byte(b) => *b == byte,
            Token::AnyByte | Token::Star => byte != b'/',
            Token::Class { ranges, negated } => {
                byte != b'/'
                    && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&byte)) != *negated
            }
            Token::DoubleStar => true,
            Token::ArgStar => byte != b'/' && byte != 0,
            Token::ArgDoubleStar => byte != 0,
        }
    }

    pub fn is_star(&self) -> bool {
        matches!(
            self,
            Token::Star | Token::DoubleStar | Token::ArgStar | Token::ArgDoubleStar
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glob {
    pub pattern: String,
    pub alternatives: Vec<Vec<Token>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobError {
    pub message: String,
    /// Byte offset into the pattern (the string's value, not its source text).
    pub offset: usize,
}

fn error(message: impl Into<String>, offset: usize) -> GlobError {
    GlobError {
        message: message.into(),
        offset,
    }
}

impl Glob {
    pub fn parse(pattern: &str) -> Result<Glob, GlobError> {
        let bytes = pattern.as_bytes();
        let mut alternatives = Vec::new();
        for alternative in expand_braces(bytes, 0)? {
            for tokens in globstar_readings(tokenize(&alternative)?) {
                if !alternatives.contains(&tokens) {
                    alternatives.push(tokens);
                }
            }
        }
        if alternatives.len() > MAX_ALTERNATIVES {
            return Err(error(
                format!(
                    "braces and `/**/` together expand to more than {MAX_ALTERNATIVES} patterns"
                ),
                0,
            ));
        }
        let glob = Glob {
            pattern: pattern.to_string(),
            alternatives,
        };
        Ok(glob)
    }

    /// About how many BPF instructions a test of the pattern compiles to: every glob on a
    /// string runs in one automaton (see [`crate::automaton`]), so a test only asks whether
    /// the automaton's final state accepts this glob.
    pub fn cost(&self) -> u32 {
        GLOB_TEST_COST
    }

    /// The reference meaning: does the pattern match all of `text`?
    pub fn matches(&self, text: &[u8]) -> bool {
        self.alternatives.iter().any(|a| matches_tokens(a, text))
    }
}

/// Position-set simulation, the same algorithm the compiler emits, kept obviously correct.
fn matches_tokens(tokens: &[Token], text: &[u8]) -> bool {
    let mut states = vec![false; tokens.len() + 1];
    states[0] = true;
    close(tokens, &mut states);
    for &byte in text {
        let mut next = vec![false; tokens.len() + 1];
        for (i, token) in tokens.iter().enumerate() {
            if states[i] && token.accepts(byte) {
                if token.is_star() {
                    next[i] = true;
                } else {
                    next[i + 1] = true;
                }
            }
        }
        close(tokens, &mut next);
        states = next;
    }
    states[tokens.len()]
}

/// A star may match the empty run: being before it means being after it too.
fn close(tokens: &[Token], states: &mut [bool]) {
    for (i, token) in tokens.iter().enumerate() {
        if states[i] && token.is_star() {
            states[i + 1] = true;
        }
    }
}

/// The alternatives one tokenized pattern stands for: itself, and every pattern obtained by
/// letting some of its `/**/` match a single `/` and its leading `**/` match nothing. Each
/// reading drops tokens, so the closure is finite: `k` such places give at most `2^k`.
fn globstar_readings(tokens: Vec<Token>) -> Vec<Vec<Token>> {
    const SLASH: Token = Token::Byte(b'/');
    let mut readings = vec![tokens];
    let mut next = 0;
    while next < readings.len() && readings.len() <= MAX_ALTERNATIVES {
        let tokens = readings[next].clone();
        next += 1;
        let mut shorter = Vec::new();
        if tokens.starts_with(&[Token::DoubleStar, SLASH]) {
            shorter.push(tokens[2..].to_vec());
        }
        for (i, window) in tokens.windows(3).enumerate() {
            if window == [SLASH, Token::DoubleStar, SLASH] {
                let mut reading = tokens[..=i].to_vec();
                reading.extend_from_slice(&tokens[i + 3..]);
                shorter.push(reading);
            }
        }
        for reading in shorter {
            if !readings.contains(&reading) {
                readings.push(reading);
            }
        }
    }
    readings
}

fn tokenize(pattern: &[u8]) -> Result<Vec<Token>, GlobError> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        let token = match pattern[i] {
            b'*' => {
                // A run of stars is one token, `**` from two on. The run is taken whole, so
                // no star token ever follows another.
                let run = pattern[i..].iter().take_while(|b| **b == b'*').count();
                i += run;
                tokens.push(if run >= 2 {
                    Token::DoubleStar
                } else {
                    Token::Star
                });
                continue;
            }
            b'?' => Token::AnyByte,
            b'[' => {
                let (token, len) = class(pattern, i)?;
                i += len;
                tokens.push(token);
                continue;
            }
            b']' => return Err(error("unmatched `]`", i)),
            b'\\' => {
                i += 1;
                match pattern.get(i) {
                    Some(b) => Token::Byte(*b),
                    None => {
                        return Err(error(
                            "`\\` at the end of the pattern escapes nothing",
                            i - 1,
                        ))
                    }
                }
            }
            b => Token::Byte(b),
        };
        tokens.push(token);
        i += 1;
    }
    Ok(tokens)
}

/// Parses `[...]` starting at `start`; returns the token and the bytes consumed.
fn class(pattern: &[u8], start: usize) -> Result<(Token, usize), GlobError> {
    let mut i = start + 1;
    let negated = matches!(pattern.get(i), Some(b'!') | Some(b'^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let Some(&b) = pattern.get(i) else {
            return Err(error("unclosed `[`", start));
        };
        if b == b']' && !ranges.is_empty() {
            break;
        }
        if b == b']' {
            return Err(error("empty class `[]`", start));
        }
        let lo = if b == b'\\' {
            i += 1;
            *pattern.get(i).ok_or_else(|| error("unclosed `[`", start))?
        } else {
            b
        };
        i += 1;
        let hi = if pattern.get(i) == Some(&b'-') && pattern.get(i + 1).is_some_and(|b| *b != b']')
        {
            let dash = i;
            // An escape works at the high end of a range as at the low end: `[\1-\3]`.
            let hi = if pattern[i + 1] == b'\\' {
                i += 1;
                *pattern
                    .get(i + 1)
                    .ok_or_else(|| error("unclosed `[`", start))?
            } else {
                pattern[i + 1]
            };
            i += 2;
            if hi < lo {
                return Err(error(
                    format!("range `{}-{}` is backwards", lo as char, hi as char),
                    dash - 1,
                ));
            }
            hi
        } else {
            lo
        };
        if (lo..=hi).contains(&b'/') {
            return Err(error(
                "a class never matches `/`; `/` cannot appear in one",
                i - 1,
            ));
        }
        ranges.push((lo, hi));
    }
    Ok((Token::Class { ranges, negated }, i + 1 - start))
}

/// Expands `{a,b}` (nested too, `depth` braces around `pattern`) into plain patterns, keeping
/// escapes for the tokenizer.
fn expand_braces(pattern: &[u8], depth: usize) -> Result<Vec<Vec<u8>>, GlobError> {
    let mut results = vec![Vec::new()];
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' => {
                let end = (i + 2).min(pattern.len());
                for r in &mut results {
                    r.extend_from_slice(&pattern[i..end]);
                }
                i = end;
            }
            b'{' => {
                if depth == MAX_BRACE_DEPTH {
                    return Err(error(
                        format!("braces nested more than {MAX_BRACE_DEPTH} deep"),
                        i,
                    ));
                }
                let close = matching_brace(pattern, i)?;
                let mut options = Vec::new();
                // Where the part starts in `pattern`: parts are separated by one `,` each, and
                // an error inside one is reported at its place in the whole pattern.
                let mut part_start = i + 1;
                for part in split_top_level(&pattern[i + 1..close]) {
                    options.extend(expand_braces(part, depth + 1).map_err(|e| GlobError {
                        offset: e.offset + part_start,
                        ..e
                    })?);
                    part_start += part.len() + 1;
                }
                if options.len() < 2 && options.iter().all(|o| o.is_empty()) {
                    return Err(error("empty alternatives `{}`", i));
                }
                let mut product = Vec::new();
                for r in &results {
                    for o in &options {
                        let mut joined = r.clone();
                        joined.extend_from_slice(o);
                        product.push(joined);
                    }
                }
                if product.len() > MAX_ALTERNATIVES {
                    return Err(error(
                        format!("braces expand to more than {MAX_ALTERNATIVES} patterns"),
                        i,
                    ));
                }
                results = product;
                i = close + 1;
            }
            b'}' => return Err(error("unmatched `}`", i)),
            b => {
                for r in &mut results {
                    r.push(b);
                }
                i += 1;
            }
        }
    }
    Ok(results)
}

fn matching_brace(pattern: &[u8], open: usize) -> Result<usize, GlobError> {
    let mut depth = 0usize;
    let mut i = open;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(error("unclosed `{`", open))
}

fn split_top_level(inner: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0, 0);
    while i < inner.len() {
        match inner[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&inner[start.min(inner.len())..]);
    parts
}

/// The literal prefix of a glob alternative that is that prefix and a final `**` (a directory
/// rule, `/etc/**`); `None` for any other shape. The code generator compiles such a test as a
/// prefix compare (or a place in a literal tree), never as part of an automaton.
pub fn directory_prefix(tokens: &[Token]) -> Option<Vec<u8>> {
    let (last, prefix) = tokens.split_last()?;
    if *last != Token::DoubleStar || prefix.is_empty() {
        return None;
    }
    prefix
        .iter()
        .map(|t| match t {
            Token::Byte(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// Whether every alternative of a glob is a directory rule ([`directory_prefix`]).
pub fn is_directory_rule(alternatives: &[Vec<Token>]) -> bool {
    alternatives.iter().all(|a| directory_prefix(a).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        match Glob::parse(pattern) {
            Ok(g) => g.matches(text.as_bytes()),
            Err(e) => panic!("{pattern}: {e:?}"),
        }
    }

    /// The error `pattern` is refused with, asserted to point at byte `offset`.
    fn refused_at(pattern: &str, offset: usize) -> GlobError {
        let error = Glob::parse(pattern).expect_err(pattern);
        assert_eq!(error.offset, offset, "{pattern}: {error:?}");
        error
    }

    #[test]
    fn stars() {
        assert!(m("/tmp/*", "/tmp/a"));
        assert!(!m("/tmp/*", "/tmp/a/b"));
        assert!(m("/tmp/**", "/tmp/a/b"));
        assert!(m("/tmp/**", "/tmp/"));
        assert!(!m("/tmp/**", "/tmp"));
        assert!(m("**/.ssh/**", "/home/u/.ssh/id"));
        assert!(m("/usr/lib/*.so", "/usr/lib/libc.so"));
        assert!(!m("/usr/lib/*.so", "/usr/lib/x/libc.so"));
        assert!(m("/a/*/c", "/a//c"));
    }

    #[test]
    fn classes_and_alternatives() {
        assert!(m("/dev/tty[0-9]", "/dev/tty3"));
        assert!(!m("/dev/tty[0-9]", "/dev/ttyS"));
        assert!(m("/dev/tty[!0-9]", "/dev/ttyS"));
        assert!(m("/bin/{ba,z,}sh", "/bin/zsh"));
        assert!(m("/bin/{ba,z,}sh", "/bin/sh"));
        assert!(m("/x/{a,{b,c}d}", "/x/cd"));
        assert!(m("/x/?", "/x/y"));
        assert!(!m("/x/?", "/x//"));
        assert!(m("/x/\\*", "/x/*"));
        assert!(!m("/x/\\*", "/x/y"));
    }

    /// A comma after nested braces parts the outer ones: the inner braces' close ends their
    /// depth.
    #[test]
    fn a_comma_after_nested_braces_parts_the_outer_ones() {
        let glob = Glob::parse("/x/{{a,b},c}").unwrap();
        assert_eq!(glob.alternatives.len(), 3);
        for text in ["/x/a", "/x/b", "/x/c"] {
            assert!(glob.matches(text.as_bytes()), "{text}");
        }
        assert!(!glob.matches(b"/x/a,c"));
    }

    /// A class that holds `/`, alone or inside a range, is refused at the member's last byte.
    #[test]
    fn a_slash_in_a_class_is_reported_where_its_member_ends() {
        for (pattern, offset) in [
            ("/x/[/]", 4),
            ("/x/[ab/]", 6),
            ("/x/[.-0]", 6),
            ("/x/[a!-/]", 7),
        ] {
            let error = refused_at(pattern, offset);
            assert!(
                error.message.contains("never matches `/`"),
                "{pattern}: {error:?}"
            );
        }
        assert!(m("/x/[--.]", "/x/."), "a range that ends below `/`");
        assert!(m("/x/[0-9]", "/x/5"), "a range that begins above it");
    }

    /// Every range of printable bytes, against a rule computed apart: refused exactly when it
    /// runs backwards or holds `/`; else it matches its ends and nothing just outside them.
    #[test]
    fn every_printable_range_is_refused_exactly_when_backwards_or_holding_a_slash() {
        // Less the bytes that end a class or escape, and the braces', which expand first.
        let printable = (b'!'..=b'~').filter(|b| !b"]\\-{},".contains(b));
        for lo in printable.clone() {
            for hi in printable.clone() {
                let pattern = format!("[a{}-{}]", lo as char, hi as char);
                let refused = hi < lo || (lo <= b'/' && b'/' <= hi);
                match Glob::parse(&pattern) {
                    Err(_) => assert!(refused, "{pattern} refused"),
                    Ok(glob) => {
                        assert!(!refused, "{pattern} taken");
                        assert!(glob.matches(&[lo]) && glob.matches(&[hi]), "{pattern}");
                        for outside in [lo.wrapping_sub(1), hi.wrapping_add(1)] {
                            let member = outside == b'a' || (lo..=hi).contains(&outside);
                            assert_eq!(glob.matches(&[outside]), member, "{pattern} on {outside}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_negation_mark_is_not_a_member_of_its_class() {
        for class in ["[!a]", "[^a]"] {
            assert!(m(class, "!"), "{class}");
            assert!(m(class, "^"), "{class}");
            assert!(!m(class, "a"), "{class}");
        }
        // Past the first place, `!` and `^` are members like any other byte.
        assert!(m("[a!]", "!"));
        assert!(!m("[!a^]", "^"));
    }

    #[test]
    fn an_error_inside_braces_points_at_its_place_in_the_pattern() {
        for (pattern, offset) in [
            ("/x/{a,{}}", 6),
            ("/x/{{},a}", 4),
            ("/x/{a,b,{c,{}}}", 11),
            // A `\` that escapes nothing: at the backslash itself.
            ("/x/ab\\", 5),
        ] {
            refused_at(pattern, offset);
        }
    }

    #[test]
    fn globstar_matches_zero_directories() {
        assert!(m("/etc/**/shadow", "/etc/shadow"));
        assert!(m("/etc/**/shadow", "/etc/a/shadow"));
        assert!(m("/etc/**/shadow", "/etc/a/b/shadow"));
        assert!(m("/etc/**/shadow", "/etc//shadow"));
        assert!(!m("/etc/**/shadow", "/etcshadow"));
        assert!(!m("/etc/**/shadow", "/etc/ashadow"));
        assert!(m("**/x", "x"));
        assert!(m("**/x", "/x"));
        assert!(m("**/x", "a/b/x"));
        assert!(!m("**/x", "ax"));
        assert!(m("/a/**/**/b", "/a/b"));
        assert!(m("/a/**/**/b", "/a/x/b"));
        assert!(m("**/**/b", "b"));
        // Only `**` between slashes (or leading, before one) reads as directories.
        assert!(!m("/a**/b", "/ab"));
        assert!(!m("/a/**b", "/ab"));
        assert!(!m("/a/\\*\\*/b", "/a/b"));
        // `/**` at the end still needs the `/`: the directory itself is not inside it.
        assert!(!m("/tmp/**", "/tmp"));
        let readings = Glob::parse("/a/**/b/**/c").map(|g| g.alternatives.len());
        assert_eq!(readings, Ok(4));
    }

    #[test]
    fn escapes_at_both_ends_of_a_range() {
        assert!(m("[\\1-\\3]", "1"));
        assert!(m("[\\1-\\3]", "2"));
        assert!(m("[\\1-\\3]", "3"));
        for outside in ["4", "A", "\\", "0"] {
            assert!(!m("[\\1-\\3]", outside), "{outside}");
        }
        assert!(m("[A-\\]]", "]"));
        assert!(!m("[A-\\]]", "^"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        assert!(Glob::parse("[\\3-\\1]").is_err());
        assert!(Glob::parse("[a-\\").is_err());
    }

    #[test]
    fn globstar_readings_are_bounded() {
        let many = "/a/**/b".to_string() + &"/**/b".repeat(7);
        assert!(Glob::parse(&many).is_err());
    }

    /// A `-` just before the closing `]` is a byte of the class, not a range up to `]`.
    #[test]
    fn a_dash_before_the_closing_bracket_is_a_byte() {
        assert!(m("/x/[a-]", "/x/-"));
        assert!(m("/x/[a-]", "/x/a"));
        assert!(!m("/x/[a-]", "/x/b"));
        assert!(m("/x/[!a-]", "/x/b"));
        assert!(!m("/x/[!a-]", "/x/-"));
    }

    /// A backwards range's error points at its low end, where the reader starts reading it.
    #[test]
    fn a_backwards_range_is_reported_at_its_start() {
        let error = refused_at("/x/[az-a]", 5);
        assert_eq!(error.message, "range `z-a` is backwards");
    }

    /// Braces may expand to [`MAX_ALTERNATIVES`] patterns, not one more.
    #[test]
    fn alternatives_up_to_the_limit() {
        let braces = |n: usize| {
            let names: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
            format!("/x/{{{}}}", names.join(","))
        };
        let most = Glob::parse(&braces(MAX_ALTERNATIVES)).expect("the limit parses");
        assert_eq!(most.alternatives.len(), MAX_ALTERNATIVES);
        assert!(Glob::parse(&braces(MAX_ALTERNATIVES + 1)).is_err());
    }

    /// A backslash inside braces escapes the next byte there too: an escaped comma does not
    /// split the alternatives, and an escaped brace neither opens nor closes one.
    #[test]
    fn escapes_inside_braces_are_bytes() {
        let cases: [(&str, &[&str], &[&str]); 3] = [
            (r"/x/{a\,b,c}", &["/x/a,b", "/x/c"], &["/x/a", "/x/b"]),
            (r"/x/{a\}b,c}", &["/x/a}b", "/x/c"], &["/x/a", "/x/b,c"]),
            (r"/x/{a\{,c}", &["/x/a{", "/x/c"], &["/x/a", "/x/{a"]),
        ];
        for (pattern, matched, missed) in cases {
            let glob = Glob::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e:?}"));
            assert_eq!(glob.alternatives.len(), 2, "{pattern}");
            for text in matched {
                assert!(glob.matches(text.as_bytes()), "{pattern} on {text}");
            }
            for text in missed {
                assert!(!glob.matches(text.as_bytes()), "{pattern} on {text}");
            }
        }
    }

    /// Braces need an alternative that is not empty, or two: `{,}` is the empty string twice,
    /// `{}` nothing to choose from.
    #[test]
    fn empty_alternatives_beside_another_are_kept() {
        let twice = Glob::parse("/x{,}").expect("two empty alternatives parse");
        assert!(twice.matches(b"/x"));
        assert!(!twice.matches(b"/x,"));
        assert!(Glob::parse("/x{a,}").expect("parses").matches(b"/x"));
        assert!(Glob::parse("/x{}").is_err());
    }

    /// Braces nest [`MAX_BRACE_DEPTH`] deep, not one more, and the error points at the brace
    /// one too deep; far deeper nesting is refused the same way (it once overflowed the stack).
    #[test]
    fn braces_nest_up_to_the_limit() {
        let nested = |depth: usize| format!("/x{}a{}", "{".repeat(depth), "}".repeat(depth));
        let deepest = Glob::parse(&nested(MAX_BRACE_DEPTH)).expect("the limit parses");
        assert!(deepest.matches(b"/xa"));
        let too_deep = Glob::parse(&nested(MAX_BRACE_DEPTH + 1)).expect_err("one more");
        assert_eq!(too_deep.offset, 2 + MAX_BRACE_DEPTH);
        assert!(Glob::parse(&nested(30_000)).is_err());
    }

    #[test]
    fn malformed() {
        for bad in [
            "/x/[a", "/x/[]", "/x/{a", "/x/a}", "/x/]", "/x/\\", "/x/[z-a]", "/x/[/]", "{}",
        ] {
            assert!(Glob::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
