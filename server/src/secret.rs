//! The secret key that seals workspaces' provider API keys (AES-256-GCM). It comes from
//! `RUNWAY_SECRET_KEY` or a key file made on first start; the database only ever holds
//! sealed keys and a sealed check value that tells a wrong key apart at start.
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::path::Path;

const CHECK: &[u8] = b"runway secret key check v1";

/// 32 bytes. Its `Debug` shows nothing, so it cannot end up in a log by accident.
#[derive(Clone)]
pub struct SecretKey(Aes256Gcm);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> SecretKey {
        SecretKey(Aes256Gcm::new(bytes.into()))
    }

    pub fn generate() -> SecretKey {
        SecretKey(Aes256Gcm::new(&Aes256Gcm::generate_key(OsRng)))
    }

    /// 64 hex digits or standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            B64.decode(text).map_err(|_| "it is neither 64 hex digits nor base64".to_string())?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| format!("it holds {} bytes, not 32", b.len()))?;
        Ok(SecretKey::from_bytes(&bytes))
    }

    /// The key from `RUNWAY_SECRET_KEY` when given, else from `file`, which is created
    /// (readable by its owner only) when missing.
    pub fn load(from_env: Option<&str>, file: &Path) -> Result<SecretKey, String> {
        if let Some(text) = from_env.filter(|t| !t.trim().is_empty()) {
            return SecretKey::parse(text).map_err(|e| format!("RUNWAY_SECRET_KEY is not a usable key: {e}"));
        }
        match std::fs::read_to_string(file) {
            Ok(text) => SecretKey::parse(&text).map_err(|e| format!("the key file {} is not a usable key: {e}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(file),
            Err(e) => Err(format!("cannot read the key file {}: {e}", file.display())),
        }
    }

    /// `workspace` is bound into the seal: a sealed key copied to another workspace's row
    /// does not open there.
    pub fn seal(&self, plaintext: &str, workspace: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: workspace.as_bytes() })
            .expect("AES-GCM encryption of a short key cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    pub fn open(&self, sealed: &str, workspace: &str) -> Option<String> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: workspace.as_bytes() }).ok()?;
        String::from_utf8(plain).ok()
    }

    /// The check value stored beside the sealed keys.
    pub fn check_value(&self) -> String {
        self.seal(std::str::from_utf8(CHECK).unwrap_or_default(), "runway")
    }

    pub fn matches_check(&self, sealed: &str) -> bool {
        self.open(sealed, "runway").is_some_and(|v| v.as_bytes() == CHECK)
    }
}

fn create_key_file(file: &Path) -> Result<SecretKey, String> {
    use std::io::Write;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(file).map_err(|e| format!("cannot create the key file {}: {e}", file.display()))?;
    f.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
        .map_err(|e| format!("cannot write the key file {}: {e}", file.display()))?;
    tracing::info!(file = %file.display(), "created a new secret key file; keep it with the database's backups");
    Ok(SecretKey::from_bytes(&bytes))
}

/// Stores the check value on first start, or refuses a key that does not open it:
/// starting with the wrong key would make every stored API key unreadable.
pub async fn verify(db: &crate::db::Db, key: &SecretKey) -> Result<(), String> {
    let stored: Option<String> = sqlx::query_scalar("SELECT sealed FROM secret_check WHERE id = 1")
        .fetch_optional(&db.pool)
        .await
        .map_err(|e| format!("cannot read the secret key check: {e}"))?;
    match stored {
        Some(sealed) if key.matches_check(&sealed) => Ok(()),
        Some(_) => Err("the secret key (RUNWAY_SECRET_KEY or the key file) is not the one this database's API keys were \
             sealed with; refusing to start so they are not lost. Start with the original key."
            .into()),
        None => {
            // Two replicas starting together: the second insert changes nothing, then both re-check.
            sqlx::query("INSERT INTO secret_check (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(key.check_value())
                .bind(crate::db::now())
                .execute(&db.pool)
                .await
                .map_err(|e| format!("cannot store the secret key check: {e}"))?;
            Box::pin(verify(db, key)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_the_same_key_and_workspace_only() {
        let key = SecretKey::generate();
        let sealed = key.seal("sk-proj-0123456789abcdef", "ws-1");
        assert!(!sealed.contains("0123456789abcdef"));
        assert_eq!(key.open(&sealed, "ws-1").as_deref(), Some("sk-proj-0123456789abcdef"));
        assert_eq!(key.open(&sealed, "ws-2"), None, "bound to its workspace");
        assert_eq!(SecretKey::generate().open(&sealed, "ws-1"), None, "another key cannot open it");
        assert_ne!(key.seal("same", "ws-1"), key.seal("same", "ws-1"), "a fresh nonce each time");
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_of_32_bytes() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let a = SecretKey::parse(hex_key).unwrap();
        let b = SecretKey::parse(&B64.encode(hex::decode(hex_key).unwrap())).unwrap();
        assert_eq!(b.open(&a.seal("x", "w"), "w").as_deref(), Some("x"));
        assert!(SecretKey::parse("too short").is_err());
        assert!(SecretKey::parse(&B64.encode([0u8; 16])).unwrap_err().contains("16 bytes"));
    }

    #[test]
    fn the_key_file_is_created_once_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/secret.key");
        let first = SecretKey::load(None, &file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let again = SecretKey::load(None, &file).unwrap();
        assert_eq!(again.open(&first.seal("k", "w"), "w").as_deref(), Some("k"), "the same key on the next start");
        let from_env = SecretKey::load(Some(&"ab".repeat(32)), &file).unwrap();
        assert_eq!(from_env.open(&first.seal("k", "w"), "w"), None, "RUNWAY_SECRET_KEY wins over the file");
    }
}
