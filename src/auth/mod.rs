//! Authentication: the broker's user store (a password file of SCRAM verifiers), the
//! check of a CONNECT's user name and password, and enhanced authentication (MQTT 5.0
//! §4.12) with pluggable methods, SCRAM-SHA-256 (RFC 5802, RFC 7677) first. Pure and
//! sans-IO: data and randomness are parameters; `broker::auth` carries out the decisions
//! on the owner shard. It may import `protocol` and `limits`, never glommio or `shard`.

mod cache;
mod method;
mod scram;
mod store;

pub use cache::PasswordCache;
pub use method::{
    AuthExchange, AuthMethod, Authenticator, Exchange, MethodStep, PasswordCheck, Refusal, Step,
    Verification,
};
pub use scram::{ScramExchange, ScramSha256, ScramVerifier, SCRAM_SHA_256};
pub use store::{check_username, set_user, PasswordFileError, UserStore};

/// `n` fresh random bytes from the operating system (`getrandom(2)`: does not block once
/// the kernel's pool is initialised, which it is long before a broker starts).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}
