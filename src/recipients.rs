//! Recipient lists: tokens from an alarm's `data.recipients`, with `@team`
//! tokens expanded from the team rows.

use std::collections::{HashMap, HashSet};

/// Splits a user-typed list on commas, semicolons and white space.
pub(crate) fn split_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The addresses an alarm mails, the team tokens nobody could resolve,
/// and the tokens that are not addresses (dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub addresses: Vec<String>,
    pub unresolved_teams: Vec<String>,
    /// Tokens (from the row or a team) that are not email addresses,
    /// such as `Bcc:` from a pasted header: one of them must not fail
    /// every send of the alarm, so it is left out and reported.
    pub not_addresses: Vec<String>,
}

/// Whether `token` is one email address (`local@domain`, nothing else).
pub(crate) fn is_address(token: &str) -> bool {
    token.parse::<lettre::Address>().is_ok()
}

/// Expands `@team` tokens, drops tokens that are not addresses, and
/// removes duplicates case-insensitively, keeping the first spelling and
/// the order. Linear in the number of tokens.
pub(crate) fn resolve(tokens: &[String], teams: &HashMap<String, Vec<String>>) -> Resolved {
    let mut out = Resolved::default();
    let mut seen = HashSet::new();
    let mut add = |address: &str, out: &mut Resolved| {
        if !is_address(address) {
            out.not_addresses.push(address.to_owned());
        } else if seen.insert(address.to_lowercase()) {
            out.addresses.push(address.to_owned());
        }
    };
    for token in tokens {
        if token.starts_with('@') {
            match teams.get(token).filter(|members| !members.is_empty()) {
                Some(members) => members.iter().for_each(|m| add(m, &mut out)),
                None => out.unresolved_teams.push(token.clone()),
            }
        } else {
            add(token, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_every_separator() {
        assert_eq!(
            split_tokens(" a@x, b@y;c@z\n\t@ops  "),
            ["a@x", "b@y", "c@z", "@ops"]
        );
    }

    #[test]
    fn expands_teams_dedupes_and_reports_unknown() {
        let teams = HashMap::from([
            (
                "@ops".to_string(),
                vec!["A@x".to_string(), "b@y".to_string()],
            ),
            ("@empty".to_string(), vec![]),
        ]);
        let tokens = split_tokens("a@x @ops c@z @nobody B@Y @empty");
        let got = resolve(&tokens, &teams);
        assert_eq!(got.addresses, ["a@x", "b@y", "c@z"]);
        assert_eq!(got.unresolved_teams, ["@nobody", "@empty"]);
    }

    #[test]
    fn tokens_that_are_not_addresses_are_dropped_and_named() {
        let teams = HashMap::from([("@ops".to_string(), split_tokens("c@z.org To: <d@z.org>"))]);
        let tokens = split_tokens("a@x.org\r\nBcc: evil@y.org, @ops plainword");
        let got = resolve(&tokens, &teams);
        assert_eq!(got.addresses, ["a@x.org", "evil@y.org", "c@z.org"]);
        assert_eq!(got.not_addresses, ["Bcc:", "To:", "<d@z.org>", "plainword"]);
    }
}
