//! Task tokens at rest: sealed with a KMS key before they are stored, so
//! that whoever can read the approvals table learns nothing that decides.
//! The key's policy lets request-approval encrypt and only the deciding
//! functions decrypt; each token is bound to its record by the encryption
//! context (a sealed token copied into another item does not open).

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::Client;
use aws_smithy_types::base64;

use crate::error::Failure;
use crate::AwsError;

/// What marks a stored token as sealed (followed by the base64 ciphertext).
const SEALED: &str = "kms:";
/// The encryption context's key: the record a token belongs to.
const CONTEXT: &str = "ecs-canary:approval";

/// Seals and opens task tokens with one KMS key.
#[derive(Debug, Clone)]
pub struct TokenSeal {
    client: Client,
    key: String,
}

impl TokenSeal {
    pub fn new(client: Client, key: impl Into<String>) -> TokenSeal {
        TokenSeal {
            client,
            key: key.into(),
        }
    }

    /// `token`, encrypted for the record `record` (its table key).
    pub async fn seal(&self, token: &str, record: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key)
            .plaintext(Blob::new(token.as_bytes()))
            .encryption_context(CONTEXT, record)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("kms:Encrypt"))?;
        let cipher = output.ciphertext_blob().ok_or(AwsError::Service {
            operation: "kms:Encrypt",
            code: "NoCiphertext".into(),
            message: "KMS returned no ciphertext".into(),
        })?;
        Ok(format!("{SEALED}{}", base64::encode(cipher.as_ref())))
    }

    /// The token a stored value holds (a value stored unsealed, before the
    /// key was configured, as it is).
    pub async fn open(&self, stored: &str, record: &str) -> Result<String, AwsError> {
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_string());
        };
        let malformed = |message: String| AwsError::Service {
            operation: "kms:Decrypt",
            code: "MalformedToken".into(),
            message,
        };
        let cipher = base64::decode(encoded).map_err(|e| malformed(e.to_string()))?;
        let output = self
            .client
            .decrypt()
            .key_id(&self.key)
            .ciphertext_blob(Blob::new(cipher))
            .encryption_context(CONTEXT, record)
            .send()
            .await
            .map_err(|e| Failure::of(e).into_error("kms:Decrypt"))?;
        let plain = output
            .plaintext()
            .ok_or_else(|| malformed("KMS returned no plaintext".into()))?;
        String::from_utf8(plain.as_ref().to_vec()).map_err(|e| malformed(e.to_string()))
    }
}

/// Whether a stored token is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}
