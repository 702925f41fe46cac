//! Pluggable authentication methods (MQTT 5.0 §4.12) and the broker's [`Authenticator`]:
//! the registry of methods by name, the user store, and the check of a plain CONNECT's
//! user name and password. Pure: randomness comes in as `entropy`.

use std::fmt;

use bytes::Bytes;

use super::cache::PasswordCache;
use super::scram::{ScramSha256, ScramVerifier};
use super::store::UserStore;
use crate::limits::{AUTH_DATA_BYTES_MAX, AUTH_ENTROPY_BYTES, AUTH_STEPS_MAX};
use crate::protocol::{MqttString, ReasonCode};

/// What a method answers to one message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodStep {
    /// Send this Authentication Data (AUTH 0x18) and wait for the client's next message.
    Continue(Vec<u8>),
    /// `username` is authenticated; send this final Authentication Data (may be empty).
    Success {
        /// The user the client proved to be.
        username: String,
        /// Authentication Data for CONNACK or AUTH 0x00.
        data: Vec<u8>,
    },
    /// Refuse with this reason code; `why` is for the log, never for the client.
    Failure {
        /// CONNACK or DISCONNECT reason code.
        reason_code: ReasonCode,
        /// For the log.
        why: String,
    },
}

/// One authentication exchange of a method under way, sans-IO: the client's
/// Authentication Data in, the answer out. On the shard of the connection it
/// authenticates.
pub trait AuthExchange {
    /// Takes the client's next Authentication Data (empty when the packet had none).
    fn step(&mut self, users: &UserStore, client_data: &[u8]) -> MethodStep;
}

/// A method the broker offers, by name: makes one [`AuthExchange`] per authentication.
/// Shared, read-only, by every shard.
pub trait AuthMethod: Send + Sync {
    /// The Authentication Method a client names to use it.
    fn name(&self) -> &str;
    /// A new exchange; `entropy` is fresh randomness (for nonces).
    fn start(&self, entropy: &[u8; AUTH_ENTROPY_BYTES]) -> Box<dyn AuthExchange>;
}

/// Who may connect, and how: anonymous clients or not, the user store, and the
/// enhanced authentication methods offered. Made once at start-up and shared, read-only,
/// by every shard.
pub struct Authenticator {
    allow_anonymous: bool,
    /// `None`: no password file, user names are not checked.
    users: Option<UserStore>,
    methods: Vec<Box<dyn AuthMethod>>,
    empty: UserStore,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("allow_anonymous", &self.allow_anonymous)
            .field("users", &self.users.as_ref().map(UserStore::len))
            .field(
                "methods",
                &self.methods.iter().map(|m| m.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for Authenticator {
    /// Today's behaviour without an `[auth]` section: everyone may connect.
    fn default() -> Self {
        Authenticator::new(true, None)
    }
}

/// Why a CONNECT is refused: the reason code, and for the log why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// CONNACK reason code (the codec maps it to the 3.x return code).
    pub reason_code: ReasonCode,
    /// For the log.
    pub why: String,
}

impl Authenticator {
    /// An authenticator; with a user store, SCRAM-SHA-256 is offered and user names are
    /// checked.
    pub fn new(allow_anonymous: bool, users: Option<UserStore>) -> Authenticator {
        let mut methods: Vec<Box<dyn AuthMethod>> = Vec::new();
        if users.is_some() {
            methods.push(Box::new(ScramSha256));
        }
        Authenticator {
            allow_anonymous,
            users,
            methods,
            empty: UserStore::default(),
        }
    }

    /// Offers one more method (replacing one of the same name).
    pub fn register(&mut self, method: Box<dyn AuthMethod>) {
        self.methods.retain(|m| m.name() != method.name());
        self.methods.push(method);
    }

    /// Whether `method` is offered.
    pub fn offers(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.name() == method)
    }

    /// The user store (empty without a password file).
    pub fn users(&self) -> &UserStore {
        self.users.as_ref().unwrap_or(&self.empty)
    }

    /// Checks a CONNECT without Authentication Method: anonymous (no user name) if
    /// allowed; a user name against the store. A password the `cache` does not remember
    /// needs PBKDF2 (milliseconds): then the answer is [`PasswordCheck::Verify`], for the
    /// caller to run off the shard. Without a password file any user name is accepted.
    pub fn check_password(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
        cache: &PasswordCache,
    ) -> PasswordCheck {
        let refuse =
            |reason_code, why: String| PasswordCheck::Done(Err(Refusal { reason_code, why }));
        let Some(username) = username else {
            if self.allow_anonymous {
                return PasswordCheck::Done(Ok(()));
            }
            return refuse(
                ReasonCode::NotAuthorized,
                "no user name and allow_anonymous = false".into(),
            );
        };
        let Some(users) = &self.users else {
            return PasswordCheck::Done(Ok(()));
        };
        let Some(password) = password else {
            return refuse(
                ReasonCode::BadUserNameOrPassword,
                format!("user {username:?} sent no password"),
            );
        };
        let (verifier, known) = match users.get(username) {
            Some(_) if cache.contains(username, password) => return PasswordCheck::Done(Ok(())),
            Some(verifier) => (verifier.clone(), true),
            // Verified all the same, so the time taken does not tell which users exist.
            None => (ScramVerifier::unknown(&users.mock_salt(username)), false),
        };
        PasswordCheck::Verify(Verification {
            username: username.to_string(),
            password: password.to_vec(),
            verifier,
            known,
        })
    }

    /// [`Authenticator::check_password`] with the verification run here and now.
    pub fn check_password_now(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
        cache: &mut PasswordCache,
    ) -> Result<(), Refusal> {
        match self.check_password(username, password, cache) {
            PasswordCheck::Done(result) => result,
            PasswordCheck::Verify(verification) => {
                let matches = verification.run();
                verification.finish(matches, cache)
            }
        }
    }

    /// Starts an exchange of `method`, or `None` when it is not offered (0x8C).
    pub fn start(
        &self,
        method: &MqttString,
        entropy: &[u8; AUTH_ENTROPY_BYTES],
    ) -> Option<Exchange> {
        let found = self.methods.iter().find(|m| m.name() == method.as_str())?;
        Some(Exchange {
            method: method.clone(),
            inner: found.start(entropy),
            steps: 0,
        })
    }
}

/// The answer to a plain CONNECT's user name and password.
#[derive(Debug)]
pub enum PasswordCheck {
    /// Decided without PBKDF2.
    Done(Result<(), Refusal>),
    /// PBKDF2 is needed: [`Verification::run`] it where it may take milliseconds, then
    /// [`Verification::finish`] on the shard.
    Verify(Verification),
}

/// A password to verify against a verifier: [`Verification::run`] may run on any
/// thread (it is `Send`), [`Verification::finish`] on the shard that asked.
pub struct Verification {
    username: String,
    password: Vec<u8>,
    verifier: ScramVerifier,
    /// Whether the user exists (an unknown one is verified against a made-up verifier).
    known: bool,
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verification")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Verification {
    /// PBKDF2 and the comparison: milliseconds of CPU, no I/O.
    pub fn run(&self) -> bool {
        self.verifier.verify_password(&self.password)
    }

    /// The answer, given what [`Verification::run`] found; remembers a good password.
    pub fn finish(self, matches: bool, cache: &mut PasswordCache) -> Result<(), Refusal> {
        let why = match (self.known, matches) {
            (true, true) => {
                cache.insert(&self.username, &self.password);
                return Ok(());
            }
            (true, false) => format!("wrong password for user {:?}", self.username),
            (false, _) => format!("unknown user {:?}", self.username),
        };
        Err(Refusal {
            reason_code: ReasonCode::BadUserNameOrPassword,
            why,
        })
    }
}

/// An exchange under way with its method's name and a bound on its steps. On the shard
/// of the connection it authenticates.
pub struct Exchange {
    method: MqttString,
    inner: Box<dyn AuthExchange>,
    steps: usize,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("method", &self.method)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// What to answer, in MQTT terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// AUTH 0x18 Continue Authentication with this data.
    Continue(Bytes),
    /// Authenticated: CONNACK 0x00 (or AUTH 0x00) with this data, if any.
    Success {
        /// The user the client proved to be.
        username: String,
        /// Final Authentication Data; `None` when the method had nothing to say.
        data: Option<Bytes>,
    },
    /// Refused.
    Failure(Refusal),
}

impl Exchange {
    /// The Authentication Method of this exchange.
    pub fn method(&self) -> &MqttString {
        &self.method
    }

    /// Takes the client's Authentication Data (`None`: the packet had none). Refuses
    /// past [`AUTH_DATA_BYTES_MAX`] or [`AUTH_STEPS_MAX`].
    pub fn step(&mut self, users: &UserStore, data: Option<&[u8]>) -> Step {
        let data = data.unwrap_or_default();
        self.steps += 1;
        let refuse = |why: String| {
            Step::Failure(Refusal {
                reason_code: ReasonCode::NotAuthorized,
                why,
            })
        };
        if data.len() > AUTH_DATA_BYTES_MAX {
            return refuse(format!(
                "{} bytes of Authentication Data (at most {AUTH_DATA_BYTES_MAX})",
                data.len()
            ));
        }
        if self.steps > AUTH_STEPS_MAX {
            return refuse(format!("more than {AUTH_STEPS_MAX} authentication steps"));
        }
        match self.inner.step(users, data) {
            MethodStep::Continue(data) => Step::Continue(Bytes::from(data)),
            MethodStep::Success { username, data } => Step::Success {
                username,
                data: (!data.is_empty()).then(|| Bytes::from(data)),
            },
            MethodStep::Failure { reason_code, why } => Step::Failure(Refusal { reason_code, why }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn store() -> UserStore {
        let verifier = ScramVerifier::new(b"secret", b"0123456789abcdef", 4096);
        UserStore::parse(Path::new("users"), &format!("alice:{verifier}\n"), [1; 32]).unwrap()
    }

    #[test]
    fn plain_connect_rules() {
        let mut cache = PasswordCache::new([9; 32]);
        let code = |auth: &Authenticator,
                    user: Option<&str>,
                    pass: Option<&[u8]>,
                    cache: &mut PasswordCache| {
            auth.check_password_now(user, pass, cache)
                .err()
                .map(|r| r.reason_code)
        };
        let open = Authenticator::default();
        assert_eq!(code(&open, None, None, &mut cache), None);
        assert_eq!(code(&open, Some("anyone"), None, &mut cache), None);

        let closed = Authenticator::new(false, Some(store()));
        assert_eq!(
            code(&closed, None, None, &mut cache),
            Some(ReasonCode::NotAuthorized)
        );
        assert_eq!(
            code(&closed, Some("alice"), Some(b"secret"), &mut cache),
            None
        );
        assert!(cache.contains("alice", b"secret"));
        // Served from the cache the second time (no PBKDF2), and still exact.
        assert!(matches!(
            closed.check_password(Some("alice"), Some(b"secret"), &cache),
            PasswordCheck::Done(Ok(()))
        ));
        assert_eq!(
            code(&closed, Some("alice"), Some(b"secret"), &mut cache),
            None
        );
        for (user, pass) in [
            ("alice", Some(&b"Secret"[..])),
            ("alice", None),
            ("bob", Some(&b"secret"[..])),
        ] {
            assert_eq!(
                code(&closed, Some(user), pass, &mut cache),
                Some(ReasonCode::BadUserNameOrPassword),
                "{user} {pass:?}"
            );
        }
        // Anonymous allowed beside a store: a user name is still checked.
        let mixed = Authenticator::new(true, Some(store()));
        assert_eq!(code(&mixed, None, None, &mut cache), None);
        assert_eq!(
            code(&mixed, Some("alice"), Some(b"nope"), &mut cache),
            Some(ReasonCode::BadUserNameOrPassword)
        );
    }

    #[test]
    fn registry_offers_scram_only_with_a_store() {
        assert!(!Authenticator::default().offers("SCRAM-SHA-256"));
        let auth = Authenticator::new(true, Some(store()));
        assert!(auth.offers("SCRAM-SHA-256"));
        assert!(auth
            .start(&MqttString::new("PLAIN").unwrap(), &[0; 18])
            .is_none());
        let mut exchange = auth
            .start(&MqttString::new("SCRAM-SHA-256").unwrap(), &[0; 18])
            .unwrap();
        assert_eq!(exchange.method().as_str(), "SCRAM-SHA-256");
        // Bounded data.
        let big = vec![b'a'; AUTH_DATA_BYTES_MAX + 1];
        assert!(matches!(
            exchange.step(auth.users(), Some(&big)),
            Step::Failure(Refusal {
                reason_code: ReasonCode::NotAuthorized,
                ..
            })
        ));
    }
}
