//! The broker's user store, read from a password file at start: one user a line,
//! `username:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (PostgreSQL's
//! verifier format), `#` comments and blank lines. No password is stored. A bad line
//! stops the start with the file, the line and the fix.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::scram::ScramVerifier;
use crate::limits::SCRAM_SALT_BYTES;

/// Users and their SCRAM verifiers. Made at start-up and shared, read-only, by every
/// shard.
#[derive(Default)]
pub struct UserStore {
    users: HashMap<String, ScramVerifier>,
    /// Key of the made-up salts for unknown users (random per process).
    mock_key: [u8; 32],
}

impl fmt::Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserStore")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// A password file that cannot be used: where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when the error is on one.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for PasswordFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for PasswordFileError {}

const FIX: &str =
    "write username:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> as printed by `coremq passwd USER`";

impl UserStore {
    /// Reads the password file at `path`; `mock_key` should be random.
    pub fn load(path: &Path, mock_key: [u8; 32]) -> Result<UserStore, PasswordFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| PasswordFileError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read the password file: {e}"),
        })?;
        UserStore::parse(path, &text, mock_key)
    }

    /// Parses `text`, the contents of `path`.
    pub fn parse(
        path: &Path,
        text: &str,
        mock_key: [u8; 32],
    ) -> Result<UserStore, PasswordFileError> {
        let mut users = HashMap::new();
        let mut first_line = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let error = |message: String| PasswordFileError {
                path: path.to_path_buf(),
                line: Some(number),
                message,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((username, verifier)) = line.split_once(':') else {
                return Err(error(format!("no ':' after the user name; {FIX}")));
            };
            check_username(username).map_err(|e| error(format!("{e}; {FIX}")))?;
            let verifier = ScramVerifier::parse(verifier)
                .map_err(|e| error(format!("user {username:?}: {e}; {FIX}")))?;
            if let Some(first) = first_line.insert(username.to_string(), number) {
                return Err(error(format!(
                    "user {username:?} is already on line {first}; keep one line per user"
                )));
            }
            users.insert(username.to_string(), verifier);
        }
        Ok(UserStore { users, mock_key })
    }

    /// The verifier of `username`.
    pub fn get(&self, username: &str) -> Option<&ScramVerifier> {
        self.users.get(username)
    }

    /// Users in the store.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the store has no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// A salt for `username` when it is not in the store: the same for the same name
    /// during this process, unpredictable without the process's key.
    pub fn mock_salt(&self, username: &str) -> [u8; SCRAM_SALT_BYTES] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.mock_key).expect("HMAC takes any key length");
        mac.update(username.as_bytes());
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        let mut salt = [0u8; SCRAM_SALT_BYTES];
        salt.copy_from_slice(&tag[..SCRAM_SALT_BYTES]);
        salt
    }
}

/// A user name a password file can hold: a valid MQTT string, no `:`, no surrounding
/// white space, not empty.
pub fn check_username(username: &str) -> Result<(), String> {
    if username.is_empty() {
        return Err("empty user name".into());
    }
    if username.contains(':') {
        return Err(format!("user name {username:?} contains ':'"));
    }
    if username.trim() != username || username.contains(['\n', '\r']) {
        return Err(format!(
            "user name {username:?} starts or ends with white space"
        ));
    }
    crate::protocol::MqttString::new(username)
        .map(drop)
        .map_err(|_| format!("user name {username:?} is not a valid MQTT string"))
}

/// The password file `text` with `username`'s line set to `verifier`: replaced where it
/// was, appended otherwise; every other line (comments included) kept.
pub fn set_user(text: &str, username: &str, verifier: &ScramVerifier) -> String {
    let entry = format!("{username}:{verifier}");
    let mut out = String::with_capacity(text.len() + entry.len() + 1);
    let mut replaced = false;
    for line in text.lines() {
        let is_user = line
            .trim()
            .split_once(':')
            .is_some_and(|(name, _)| name == username && !line.trim().starts_with('#'));
        if is_user && !replaced {
            out.push_str(&entry);
            replaced = true;
        } else if !is_user {
            out.push_str(line);
        } else {
            continue;
        }
        out.push('\n');
    }
    if !replaced {
        out.push_str(&entry);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(password: &str) -> ScramVerifier {
        ScramVerifier::new(password.as_bytes(), b"0123456789abcdef", 4096)
    }

    fn parse(text: &str) -> Result<UserStore, PasswordFileError> {
        UserStore::parse(Path::new("users.txt"), text, [3; 32])
    }

    fn error_of(text: &str) -> String {
        parse(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn comments_blank_lines_and_users() {
        let v = verifier("pw");
        let store = parse(&format!("# users\n\n  alice:{v}\nbob:{v}  \n")).unwrap();
        assert_eq!(store.len(), 2);
        assert!(store.get("alice").unwrap().verify_password(b"pw"));
        assert!(store.get("carol").is_none());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_lines_name_the_line_and_the_fix() {
        let v = verifier("pw");
        let e = error_of(&format!("# c\nalice:{v}\nbob\n"));
        assert!(e.starts_with("users.txt:3: no ':'"), "{e}");
        assert!(e.contains("coremq passwd"), "{e}");
        let e = error_of(&format!("alice:{v}\n\nbob:plaintext\n"));
        assert!(
            e.starts_with("users.txt:3: user \"bob\": the verifier must start with"),
            "{e}"
        );
        let e = error_of(&format!(":{v}\n"));
        assert!(e.starts_with("users.txt:1: empty user name"), "{e}");
        let e = error_of(&format!("alice:{v}\nalice:{v}\n"));
        assert!(
            e.starts_with("users.txt:2: user \"alice\" is already on line 1"),
            "{e}"
        );
        let text = v.to_string().replace("$4096:", "$10:");
        let e = error_of(&format!("alice:{text}\n"));
        assert!(
            e.starts_with("users.txt:1: user \"alice\": iterations \"10\""),
            "{e}"
        );
    }

    #[test]
    fn mock_salts_are_stable_per_key() {
        let a = parse("").unwrap();
        let b = UserStore::parse(Path::new("u"), "", [4; 32]).unwrap();
        assert_eq!(a.mock_salt("x"), a.mock_salt("x"));
        assert_ne!(a.mock_salt("x"), a.mock_salt("y"));
        assert_ne!(a.mock_salt("x"), b.mock_salt("x"));
    }

    #[test]
    fn set_user_replaces_or_appends() {
        let (old, new) = (verifier("old"), verifier("new"));
        let text = format!("# keep\nalice:{old}\nbob:{old}\n");
        let out = set_user(&text, "alice", &new);
        assert_eq!(out, format!("# keep\nalice:{new}\nbob:{old}\n"));
        let out = set_user(&out, "carol", &new);
        assert!(out.ends_with(&format!("bob:{old}\ncarol:{new}\n")), "{out}");
        assert_eq!(parse(&out).unwrap().len(), 3);
        assert_eq!(set_user("", "dave", &new), format!("dave:{new}\n"));
    }

    #[test]
    fn usernames() {
        assert!(check_username("alice").is_ok());
        for bad in ["", "a:b", " a", "a\u{0}"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }
}
