//! Number flags with a range, for the examples' clap command lines.
//!
//! clap's own `value_parser!(u64).range(..)` covers only some integer
//! types and says "is not in 1..=4096"; these parsers cover the whole
//! numbers and the decimals the examples take, allow `_` as a digit
//! separator in whole numbers (`--draws 10_000_000`), and name the accepted
//! range in words. clap puts the flag in front of the message:
//!
//! ```text
//! error: invalid value '0' for '--workers <N>': expected a whole number from 1 to 4096
//! ```
//!
//! Shared by echo_server, echo_client and happycoin (examples/common/serve
//! says why shared code lives in this folder).

use std::fmt::Display;

/// A number type a flag can take.
pub trait Number: Copy + PartialOrd + Display + Send + Sync + 'static {
    /// How the accepted range is described: "a whole number", "a number".
    const KIND: &'static str;
    /// The value written as `text`, if it is one (ignoring the range).
    fn parse_flag(text: &str) -> Option<Self>;
}

/// Digits with optional single `_` separators between them: `10_000`.
fn whole_digits(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && !text.starts_with('_')
        && !text.ends_with('_')
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    ok.then(|| text.chars().filter(|&c| c != '_').collect())
}

macro_rules! whole_number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            const KIND: &'static str = "a whole number";
            fn parse_flag(text: &str) -> Option<Self> {
                whole_digits(text)?.parse().ok()
            }
        }
    )*};
}
whole_number!(u64, usize);

impl Number for f64 {
    const KIND: &'static str = "a number";
    fn parse_flag(text: &str) -> Option<Self> {
        // `NaN` parses, and then fails every range check.
        text.parse().ok()
    }
}

/// A clap value parser for a `T` in `min..=max`.
pub fn ranged<T: Number>(
    min: T,
    max: T,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| match T::parse_flag(text) {
        Some(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("expected {} from {min} to {max}", T::KIND)),
    }
}
