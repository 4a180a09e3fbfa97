//! Test certificates made with the `openssl` command-line tool, and TLS servers using them.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::TlsConfig;

/// Which certificate a TLS test server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCertificate {
    /// Signed by the test CA for `127.0.0.1` and `localhost`, valid for two days.
    Valid,
    /// Signed by the test CA for `127.0.0.1` and `localhost`, but expired.
    Expired,
    /// Signed by the test CA, valid, but only for `other.example`.
    WrongName,
}

/// A test CA, the server certificates it signed (see [`ServerCertificate`]), a client
/// certificate it signed, and an unrelated CA, as PEM files in a temporary folder removed
/// on drop. Keys are P-256, so generating all of them takes a few tens of milliseconds.
#[derive(Debug)]
pub struct TestCertificates {
    dir: PathBuf,
}

impl TestCertificates {
    /// Generates the certificates with `openssl`.
    ///
    /// # Errors
    ///
    /// `NotFound` when `openssl` is not on `PATH`; any other error if a step fails.
    pub fn generate() -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "storage-redis-certs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let certificates = Self { dir };
        certificates.make()?;
        Ok(certificates)
    }

    /// Generates the certificates, or returns `None` (after [`skip`](super::skip)) when
    /// `openssl` is not installed.
    ///
    /// # Panics
    ///
    /// When `openssl` is installed but fails.
    #[must_use]
    pub fn generate_or_skip(test: &str) -> Option<Self> {
        match Self::generate() {
            Ok(certificates) => Some(certificates),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                super::skip(test, "openssl is not installed (apt-get install openssl)")
            }
            Err(error) => panic!("{test}: generating test certificates failed: {error}"),
        }
    }

    fn make(&self) -> io::Result<()> {
        const KEY: [&str; 5] = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for (name, subject) in [
            ("ca", "/CN=storage-redis test CA"),
            ("other-ca", "/CN=storage-redis unrelated CA"),
        ] {
            self.openssl(&[
                &["req", "-x509"][..],
                &KEY,
                &["-days", "2", "-subj", subject],
                &[
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                ],
            ])?;
        }
        std::fs::write(
            self.path("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )?;
        std::fs::write(
            self.path("wrong-name.ext"),
            "subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n",
        )?;
        std::fs::write(self.path("client.ext"), "extendedKeyUsage=clientAuth\n")?;
        for (name, subject) in [
            ("server", "/CN=localhost"),
            ("client", "/CN=storage-redis test client"),
        ] {
            self.openssl(&[
                &["req"][..],
                &KEY,
                &["-subj", subject],
                &[
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            ])?;
        }
        for (serial, (certificate, request, extensions, days)) in [
            ("server", "server", "server.ext", "2"),
            ("expired", "server", "server.ext", "-1"),
            ("wrong-name", "server", "wrong-name.ext", "2"),
            ("client", "client", "client.ext", "2"),
        ]
        .into_iter()
        .enumerate()
        {
            self.openssl(&[
                &["x509", "-req", "-CA", "ca.pem", "-CAkey", "ca.key"][..],
                &["-set_serial", &(serial + 1).to_string(), "-days", days],
                &["-in", &format!("{request}.csr"), "-extfile", extensions],
                &["-out", &format!("{certificate}.pem")],
            ])?;
        }
        Ok(())
    }

    fn openssl(&self, args: &[&[&str]]) -> io::Result<()> {
        let output = Command::new("openssl")
            .args(args.iter().flat_map(|part| part.iter()))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()?;
        if output.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "openssl {} failed: {}",
                args.first().and_then(|part| part.first()).unwrap_or(&""),
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The test CA's certificate.
    #[must_use]
    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// A CA that signed none of these certificates.
    #[must_use]
    pub fn other_ca(&self) -> PathBuf {
        self.path("other-ca.pem")
    }

    /// The client certificate, signed by the test CA.
    #[must_use]
    pub fn client_certificate(&self) -> PathBuf {
        self.path("client.pem")
    }

    /// The client certificate's private key.
    #[must_use]
    pub fn client_key(&self) -> PathBuf {
        self.path("client.key")
    }

    /// The server's private key (all server certificates share it).
    #[must_use]
    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }

    /// The file of one of the server certificates.
    #[must_use]
    pub fn server_certificate(&self, which: ServerCertificate) -> PathBuf {
        self.path(match which {
            ServerCertificate::Valid => "server.pem",
            ServerCertificate::Expired => "expired.pem",
            ServerCertificate::WrongName => "wrong-name.pem",
        })
    }

    /// A [`TlsConfig`] trusting the test CA, without a client certificate.
    #[must_use]
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig::with_ca_file(self.ca())
    }

    /// A [`TlsConfig`] trusting the test CA, with the client certificate.
    #[must_use]
    pub fn mutual_tls_config(&self) -> TlsConfig {
        self.tls_config()
            .with_client_certificate(self.client_certificate(), self.client_key())
    }

    /// The `redis-server` arguments that serve TLS on `port` (and nothing in clear) with
    /// `certificate`, requiring a client certificate when `client_certificates` is set.
    /// `redis-cli`-style tools reach such a server with [`redis_cli_args`](Self::redis_cli_args).
    #[must_use]
    pub fn server_args(
        &self,
        port: u16,
        certificate: ServerCertificate,
        client_certificates: bool,
    ) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string().into(),
        ];
        for (flag, path) in [
            ("--tls-cert-file", self.server_certificate(certificate)),
            ("--tls-key-file", self.server_key()),
            ("--tls-ca-cert-file", self.ca()),
        ] {
            args.push(flag.into());
            args.push(path.into_os_string());
        }
        args.push("--tls-auth-clients".into());
        args.push(if client_certificates { "yes" } else { "no" }.into());
        args
    }

    /// The `redis-cli` arguments for a TLS server of these certificates.
    #[must_use]
    pub fn redis_cli_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--tls".into(), "--cacert".into(), self.ca().into()];
        for (flag, path) in [
            ("--cert", self.client_certificate()),
            ("--key", self.client_key()),
        ] {
            args.push(flag.into());
            args.push(path.into_os_string());
        }
        args
    }

    /// The folder holding the files.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}
