//! SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), server side, without channel binding:
//! the stored verifier (what the broker keeps of a password) and the exchange as a state
//! machine. Pure: the server nonce is a parameter.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::method::{AuthExchange, AuthMethod, MethodStep};
use super::store::UserStore;
use crate::limits::{
    AUTH_ENTROPY_BYTES, SCRAM_ITERATIONS_DEFAULT, SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN,
    SCRAM_SALT_BYTES, SCRAM_SALT_BYTES_MAX,
};
use crate::protocol::ReasonCode;

/// The method's name, as a client puts it in Authentication Method.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// Bytes of a SHA-256 output: StoredKey, ServerKey, proofs and signatures.
const KEY_BYTES: usize = 32;

type Key = [u8; KEY_BYTES];

fn hmac(key: &[u8], data: &[u8]) -> Key {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn sha256(data: &[u8]) -> Key {
    Sha256::digest(data).into()
}

/// What the broker keeps of one password (RFC 5802 §3): never the password, only the
/// salt, the iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
/// ServerKey = HMAC(SaltedPassword, "Server Key"). Written as PostgreSQL writes it:
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: Key,
    server_key: Key,
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCRAM_SHA_256}${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

impl ScramVerifier {
    /// The verifier of `password` with `salt` and `iterations` (PBKDF2-HMAC-SHA-256:
    /// costs `iterations` times two SHA-256 blocks, milliseconds at the default).
    pub fn new(password: &[u8], salt: &[u8], iterations: u32) -> ScramVerifier {
        let mut salted = [0u8; KEY_BYTES];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted);
        ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&hmac(&salted, b"Client Key")),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// A new verifier for `password` with the default iterations and the given random
    /// salt (what `coremq passwd` writes).
    pub fn with_salt(password: &[u8], salt: &[u8; SCRAM_SALT_BYTES]) -> ScramVerifier {
        ScramVerifier::new(password, salt, SCRAM_ITERATIONS_DEFAULT)
    }

    /// Whether `password` is the one this verifier was made from: recomputes StoredKey
    /// (PBKDF2, as costly as [`ScramVerifier::new`]) and compares in constant time.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        let other = ScramVerifier::new(password, &self.salt, self.iterations);
        other.stored_key.ct_eq(&self.stored_key).into()
    }

    /// A verifier no password matches, for a user who does not exist: verifying against
    /// it costs what a real one costs.
    pub(super) fn unknown(salt: &[u8]) -> ScramVerifier {
        ScramVerifier {
            iterations: SCRAM_ITERATIONS_DEFAULT,
            salt: salt.to_vec(),
            // No SHA-256 output is known to be all zeros.
            stored_key: [0; KEY_BYTES],
            server_key: [0; KEY_BYTES],
        }
    }

    /// PBKDF2 iterations.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`; the error
    /// says what is wrong.
    pub fn parse(text: &str) -> Result<ScramVerifier, String> {
        let Some(rest) = text
            .strip_prefix(SCRAM_SHA_256)
            .and_then(|r| r.strip_prefix('$'))
        else {
            return Err(format!("the verifier must start with \"{SCRAM_SHA_256}$\""));
        };
        let Some((params, keys)) = rest.split_once('$') else {
            return Err(
                "the verifier needs \"$\" between <iterations>:<salt> and <StoredKey>:<ServerKey>"
                    .into(),
            );
        };
        let (Some((iterations, salt)), Some((stored_key, server_key))) =
            (params.split_once(':'), keys.split_once(':'))
        else {
            return Err(
                "the verifier must be SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
                    .into(),
            );
        };
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|n| (SCRAM_ITERATIONS_MIN..=SCRAM_ITERATIONS_MAX).contains(n))
            .ok_or_else(|| {
                format!(
                    "iterations {iterations:?} is not a number in {SCRAM_ITERATIONS_MIN}..={SCRAM_ITERATIONS_MAX}"
                )
            })?;
        let salt = BASE64
            .decode(salt)
            .ok()
            .filter(|s| !s.is_empty() && s.len() <= SCRAM_SALT_BYTES_MAX)
            .ok_or_else(|| {
                format!("the salt must be base64 of 1..={SCRAM_SALT_BYTES_MAX} bytes")
            })?;
        let key = |text: &str, name: &str| -> Result<Key, String> {
            BASE64
                .decode(text)
                .ok()
                .and_then(|k| Key::try_from(k.as_slice()).ok())
                .ok_or_else(|| format!("{name} must be base64 of {KEY_BYTES} bytes"))
        };
        Ok(ScramVerifier {
            iterations,
            salt,
            stored_key: key(stored_key, "StoredKey")?,
            server_key: key(server_key, "ServerKey")?,
        })
    }
}

/// The SCRAM-SHA-256 method: one [`ScramExchange`] per authentication. Shared by every
/// shard (it holds nothing).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScramSha256;

impl AuthMethod for ScramSha256 {
    fn name(&self) -> &str {
        SCRAM_SHA_256
    }

    fn start(&self, entropy: &[u8; AUTH_ENTROPY_BYTES]) -> Box<dyn AuthExchange> {
        Box::new(ScramExchange::new(BASE64.encode(entropy)))
    }
}

/// One SCRAM-SHA-256 exchange, server side (RFC 5802 §5): client-first in, server-first
/// out; client-final in, server-final (`v=`) out or failure. On the shard of the
/// connection it authenticates.
#[derive(Debug)]
pub struct ScramExchange {
    server_nonce: String,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Waiting for client-first-message.
    ClientFirst,
    /// Server-first sent; waiting for client-final-message.
    ClientFinal(Box<Pending>),
    /// Succeeded or failed: nothing more to take.
    Done,
}

#[derive(Debug)]
struct Pending {
    username: String,
    /// `None` for an unknown user: the exchange goes on with a made-up salt so that the
    /// answer does not tell which users exist (RFC 5802 §5.1), and fails at the proof.
    verifier: Option<ScramVerifier>,
    /// The gs2 header as sent, which `c=` must repeat.
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

fn fail(why: impl Into<String>) -> MethodStep {
    MethodStep::Failure {
        reason_code: ReasonCode::NotAuthorized,
        why: why.into(),
    }
}

impl ScramExchange {
    /// An exchange whose server nonce part is `server_nonce` (printable, no comma).
    pub fn new(server_nonce: String) -> ScramExchange {
        debug_assert!(is_printable(&server_nonce));
        ScramExchange {
            server_nonce,
            state: State::ClientFirst,
        }
    }

    fn client_first(
        &self,
        users: &UserStore,
        data: &str,
    ) -> Result<(Box<Pending>, String), String> {
        // gs2-header = gs2-cbind-flag "," [ authzid ] ","; we offer no channel binding.
        let (gs2_header, bare) = if let Some(bare) = data.strip_prefix("n,,") {
            ("n,,", bare)
        } else if let Some(bare) = data.strip_prefix("y,,") {
            // The client could bind but thinks we cannot: right (RFC 5802 §6).
            ("y,,", bare)
        } else if data.starts_with("p=") {
            return Err("channel binding is not supported".into());
        } else {
            return Err("client-first-message must start with \"n,,\" (no authzid)".into());
        };
        let mut attributes = bare.split(',');
        let username = match attributes.next().and_then(|a| a.strip_prefix("n=")) {
            Some(name) => decode_saslname(name).ok_or("bad user name in n=")?,
            None if bare.starts_with("m=") => {
                return Err("mandatory extension m= not supported".into())
            }
            None => return Err("client-first-message-bare must start with n=".into()),
        };
        let client_nonce = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && is_printable(n))
            .ok_or("client-first-message-bare needs r=<nonce> after n=")?;
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let verifier = users.get(&username).cloned();
        let (salt, iterations) = match &verifier {
            Some(v) => (v.salt.clone(), v.iterations),
            None => (
                users.mock_salt(&username).to_vec(),
                SCRAM_ITERATIONS_DEFAULT,
            ),
        };
        let server_first = format!("r={nonce},s={},i={iterations}", BASE64.encode(salt));
        let pending = Box::new(Pending {
            username,
            verifier,
            gs2_header: gs2_header.to_string(),
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        });
        Ok((pending, server_first))
    }

    fn client_final(pending: &Pending, data: &str) -> Result<String, String> {
        // client-final-message = c=... "," r=... ["," extensions] "," p=...
        let (without_proof, proof) = data
            .rsplit_once(",p=")
            .ok_or("client-final-message must end with p=<proof>")?;
        let mut attributes = without_proof.split(',');
        let binding = attributes
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .and_then(|c| BASE64.decode(c).ok())
            .ok_or("client-final-message must start with c=<base64>")?;
        if binding != pending.gs2_header.as_bytes() {
            return Err("c= does not repeat the gs2 header".into());
        }
        if attributes.next().and_then(|a| a.strip_prefix("r=")) != Some(pending.nonce.as_str()) {
            return Err("r= is not the nonce of this exchange".into());
        }
        let proof = BASE64
            .decode(proof)
            .ok()
            .and_then(|p| Key::try_from(p.as_slice()).ok())
            .ok_or("p= must be base64 of 32 bytes")?;
        let Some(verifier) = &pending.verifier else {
            return Err(format!("unknown user {:?}", pending.username));
        };
        let auth_message = format!(
            "{},{},{without_proof}",
            pending.client_first_bare, pending.server_first
        );
        let client_signature = hmac(&verifier.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        for (k, s) in client_key.iter_mut().zip(client_signature) {
            *k ^= s;
        }
        if !bool::from(sha256(&client_key).ct_eq(&verifier.stored_key)) {
            return Err(format!("wrong password for user {:?}", pending.username));
        }
        let server_signature = hmac(&verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(server_signature)))
    }
}

impl AuthExchange for ScramExchange {
    fn step(&mut self, users: &UserStore, client_data: &[u8]) -> MethodStep {
        let Ok(data) = std::str::from_utf8(client_data) else {
            self.state = State::Done;
            return fail("SCRAM message is not UTF-8");
        };
        match std::mem::replace(&mut self.state, State::Done) {
            State::ClientFirst => match self.client_first(users, data) {
                Ok((pending, server_first)) => {
                    self.state = State::ClientFinal(pending);
                    MethodStep::Continue(server_first.into_bytes())
                }
                Err(why) => fail(why),
            },
            State::ClientFinal(pending) => match Self::client_final(&pending, data) {
                Ok(server_final) => MethodStep::Success {
                    username: pending.username,
                    data: server_final.into_bytes(),
                },
                Err(why) => fail(why),
            },
            State::Done => fail("SCRAM exchange already ended"),
        }
    }
}

/// `printable` of RFC 5802 §7: `%x21-2B / %x2D-7E` (no comma).
fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, 0x21..=0x2B | 0x2D..=0x7E))
}

/// A `saslname` with `=2C` and `=3D` for `,` and `=` (RFC 5802 §5.1); any other `=` is
/// an error.
fn decode_saslname(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 §3: user "user", password "pencil".
    const SALT_B64: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_store() -> UserStore {
        let salt = BASE64.decode(SALT_B64).unwrap();
        let verifier = ScramVerifier::new(b"pencil", &salt, 4096);
        let line = format!("user:{verifier}\n");
        UserStore::parse(std::path::Path::new("users"), &line, [7; 32]).unwrap()
    }

    fn step(exchange: &mut ScramExchange, users: &UserStore, data: &str) -> MethodStep {
        exchange.step(users, data.as_bytes())
    }

    #[test]
    fn rfc_7677_test_vector() {
        let users = rfc_store();
        let mut exchange = ScramExchange::new(SERVER_NONCE.to_string());
        assert_eq!(
            step(&mut exchange, &users, CLIENT_FIRST),
            MethodStep::Continue(SERVER_FIRST.as_bytes().to_vec())
        );
        assert_eq!(
            step(&mut exchange, &users, CLIENT_FINAL),
            MethodStep::Success {
                username: "user".into(),
                data: SERVER_FINAL.as_bytes().to_vec()
            }
        );
        // Nothing after the end.
        assert!(matches!(
            step(&mut exchange, &users, CLIENT_FINAL),
            MethodStep::Failure { .. }
        ));
    }

    #[test]
    fn verifier_round_trips_and_checks_passwords() {
        let salt = BASE64.decode(SALT_B64).unwrap();
        let verifier = ScramVerifier::new(b"pencil", &salt, 4096);
        let text = verifier.to_string();
        assert!(
            text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"),
            "{text}"
        );
        assert_eq!(ScramVerifier::parse(&text).unwrap(), verifier);
        assert!(verifier.verify_password(b"pencil"));
        assert!(!verifier.verify_password(b"pencil "));
        assert!(!format!("{verifier:?}").contains(&BASE64.encode(verifier.stored_key)));
    }

    #[test]
    fn bad_verifiers_say_what_is_wrong() {
        let key = BASE64.encode([0u8; 32]);
        for (text, wanted) in [
            ("md5$abc".to_string(), "must start with"),
            (format!("SCRAM-SHA-256$4096:{SALT_B64}"), "needs \"$\""),
            (
                format!("SCRAM-SHA-256$100:{SALT_B64}${key}:{key}"),
                "iterations \"100\"",
            ),
            (format!("SCRAM-SHA-256$4096:!!${key}:{key}"), "salt"),
            (
                format!("SCRAM-SHA-256$4096:{SALT_B64}$AAAA:{key}"),
                "StoredKey",
            ),
        ] {
            let e = ScramVerifier::parse(&text).unwrap_err();
            assert!(e.contains(wanted), "{text}: {e}");
        }
    }

    fn failure(first: &str, last: Option<&str>) -> String {
        let users = rfc_store();
        let mut exchange = ScramExchange::new(SERVER_NONCE.to_string());
        let mut got = step(&mut exchange, &users, first);
        if let (MethodStep::Continue(_), Some(last)) = (&got, last) {
            got = step(&mut exchange, &users, last);
        }
        match got {
            MethodStep::Failure { reason_code, why } => {
                assert_eq!(reason_code, ReasonCode::NotAuthorized);
                why
            }
            other => panic!("{first} / {last:?}: expected failure, got {other:?}"),
        }
    }

    #[test]
    fn refusals() {
        assert!(failure("p=tls-unique,,n=user,r=abc", None).contains("channel binding"));
        assert!(failure("n,a=admin,n=user,r=abc", None).contains("n,,"));
        assert!(failure("n,,m=ext,n=user,r=abc", None).contains("m="));
        assert!(failure("n,,n=user", None).contains("r="));
        assert!(failure("n,,n=us=3Xr,r=abc", None).contains("user name"));
        // Wrong password: the proof of "pencil" against another salt's keys fails.
        let wrong = CLIENT_FINAL.replace("p=dHzb", "p=eHzb");
        assert!(failure(CLIENT_FIRST, Some(&wrong)).contains("wrong password"));
        let other_nonce = CLIENT_FINAL.replace("hNlF$k0", "hNlF$k1");
        assert!(failure(CLIENT_FIRST, Some(&other_nonce)).contains("nonce"));
        let other_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        assert!(failure(CLIENT_FIRST, Some(&other_binding)).contains("gs2"));
    }

    #[test]
    fn unknown_user_gets_a_stable_made_up_salt_then_fails() {
        let users = rfc_store();
        let first = "n,,n=nobody,r=abc";
        let server_first = |users: &UserStore| {
            let mut exchange = ScramExchange::new("xyz".into());
            match step(&mut exchange, users, first) {
                MethodStep::Continue(data) => String::from_utf8(data).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        let a = server_first(&users);
        assert_eq!(a, server_first(&users));
        assert!(
            a.starts_with("r=abcxyz,s=") && a.ends_with(",i=4096"),
            "{a}"
        );
        let final_ = format!("c=biws,r=abc{SERVER_NONCE},p={}", BASE64.encode([0u8; 32]));
        assert!(failure(first, Some(&final_)).contains("unknown user"));
    }

    #[test]
    fn saslnames() {
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(decode_saslname("a=2"), None);
        assert_eq!(decode_saslname(""), None);
    }
}
