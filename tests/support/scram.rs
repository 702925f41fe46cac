//! The client side of SCRAM-SHA-256 (RFC 5802 §3 and §5 with RFC 7677's hash), written
//! from the RFC for the tests, apart from the broker's own code: the tests trust the
//! broker's SCRAM only because this independent client agrees with it.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// One SCRAM-SHA-256 authentication, client side.
pub struct ScramClient {
    password: String,
    client_first_bare: String,
    client_nonce: String,
    /// AuthMessage and SaltedPassword, once client-final is made.
    auth_message: Option<String>,
    salted_password: Option<Vec<u8>>,
}

impl ScramClient {
    /// A client for `username` (plain ASCII without `,` or `=` in these tests).
    pub fn new(username: &str, password: &str, client_nonce: &str) -> ScramClient {
        assert!(!username.contains([',', '=']), "escape the user name");
        ScramClient {
            password: password.to_string(),
            client_first_bare: format!("n={username},r={client_nonce}"),
            client_nonce: client_nonce.to_string(),
            auth_message: None,
            salted_password: None,
        }
    }

    /// client-first-message: gs2 header "n,," (no channel binding, no authzid).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// client-final-message for `server_first` (`r=...,s=...,i=...`).
    pub fn client_final(&mut self, server_first: &str) -> String {
        let attribute = |name: &str| {
            server_first
                .split(',')
                .find_map(|a| a.strip_prefix(name))
                .unwrap_or_else(|| panic!("server-first without {name}: {server_first}"))
        };
        let nonce = attribute("r=");
        assert!(
            nonce.starts_with(&self.client_nonce) && nonce.len() > self.client_nonce.len(),
            "the server nonce must extend ours: {server_first}"
        );
        let salt = BASE64.decode(attribute("s=")).expect("base64 salt");
        let iterations: u32 = attribute("i=").parse().expect("iteration count");
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(self.password.as_bytes(), &salt, iterations, &mut salted);
        let without_proof = format!("c={},r={nonce}", BASE64.encode("n,,"));
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        self.auth_message = Some(auth_message);
        self.salted_password = Some(salted.to_vec());
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    /// Checks server-final-message (`v=ServerSignature`): the server knew our verifier.
    pub fn verify_server_final(&self, server_final: &str) -> Result<(), String> {
        let (Some(auth_message), Some(salted)) = (&self.auth_message, &self.salted_password) else {
            return Err("no client-final made yet".into());
        };
        let server_key = hmac(salted, b"Server Key");
        let expected = format!(
            "v={}",
            BASE64.encode(hmac(&server_key, auth_message.as_bytes()))
        );
        if server_final == expected {
            Ok(())
        } else {
            Err(format!(
                "server-final {server_final:?}, expected {expected:?}"
            ))
        }
    }
}
