//! TLS for `wss://` targets, with rustls (ring): which certificates are trusted (Mozilla's roots
//! bundled via webpki-roots, plus the platform store with `tls.system_roots`, plus `tls.ca_file`),
//! the client identity for mutual TLS, the explicit `insecure_skip_verify`, and certificate errors
//! put in words a user can act on. One `ClientConfig` per run, so its session cache lets
//! reconnects resume (the report counts full and resumed handshakes).

use crate::config::Tls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use std::sync::Arc;

/// Build the run's client configuration.
pub fn client_config(tls: &Tls) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if tls.system_roots {
        let found = rustls_native_certs::load_native_certs();
        for certificate in found.certs {
            let _ = roots.add(certificate);
        }
    }
    if let Some(path) = &tls.ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|error| format!("tls.ca_file {}: {error}", path.display()))?;
        let mut added = 0;
        for certificate in certificates {
            let certificate =
                certificate.map_err(|error| format!("tls.ca_file {}: {error}", path.display()))?;
            roots
                .add(certificate)
                .map_err(|error| format!("tls.ca_file {}: {error}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "tls.ca_file {}: no PEM certificate in it",
                path.display()
            ));
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots);
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert_path), Some(key_path)) => {
            let chain = CertificateDer::pem_file_iter(cert_path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|error| format!("tls.client_cert {}: {error}", cert_path.display()))?;
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|error| format!("tls.client_key {}: {error}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| format!("tls.client_cert/client_key: {error}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    if tls.insecure_skip_verify {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(AcceptAnything(provider)));
    }
    Ok(Arc::new(config))
}

/// The certificate verifier behind `insecure_skip_verify`: signatures are still checked (so the
/// handshake is real), the certificate's issuer, names and dates are not.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS handshake failure in words (without the `tls: ` prefix). `host` is the name verified.
pub fn reason(error: &std::io::Error, host: &str) -> String {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>());
    match rustls_error {
        Some(Error::InvalidCertificate(problem)) => certificate_reason(problem, host),
        Some(Error::AlertReceived(alert)) => {
            let alert = format!("{alert:?}");
            if alert.contains("CertificateRequired") {
                "the server requires a client certificate; set tls.client_cert and tls.client_key"
                    .into()
            } else if alert.contains("UnknownCA") {
                "the server rejected our client certificate (unknown CA)".into()
            } else {
                format!("the server aborted the handshake ({alert})")
            }
        }
        Some(other) => other.to_string(),
        None => crate::connection::connect::io_reason(error),
    }
}

/// `DnsName("example.com")` (how rustls lists presented names) → `example.com`.
fn plain_name(presented: &str) -> String {
    match presented.split_once('(') {
        Some((_, rest)) => rest.trim_end_matches(')').trim_matches('"').to_owned(),
        None => presented.to_owned(),
    }
}

fn certificate_reason(problem: &CertificateError, host: &str) -> String {
    match problem {
        CertificateError::UnknownIssuer => format!(
            "certificate for {host} has an unknown issuer; set tls.ca_file to the CA that signed it (or tls.system_roots: true)"
        ),
        CertificateError::NotValidForName => format!("certificate not valid for {host}"),
        CertificateError::NotValidForNameContext { presented, .. } => {
            let names: Vec<String> = presented.iter().map(|name| plain_name(name)).collect();
            format!("certificate for {} not valid for {host}", names.join(", "))
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("certificate for {host} has expired")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("certificate for {host} is not valid yet (check the clocks)")
        }
        CertificateError::Revoked => format!("certificate for {host} is revoked"),
        other => format!("certificate for {host} rejected: {other:?}"),
    }
}
