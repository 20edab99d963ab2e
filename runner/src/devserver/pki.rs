//! A throwaway certificate authority for trials and tests: `volley serve --tls` and the TLS tests
//! make a CA, a server certificate for the names they serve, and (for mutual TLS) client
//! certificates, all in memory with rcgen. Never for production.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// A CA and what it signed.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key.
pub struct Identity {
    /// The certificate (DER).
    pub certificate: CertificateDer<'static>,
    /// PEM of the certificate.
    pub certificate_pem: String,
    /// PEM of the private key (PKCS#8).
    pub key_pem: String,
    key_der: Vec<u8>,
}

impl Identity {
    /// The private key for rustls.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

fn error(error: rcgen::Error) -> String {
    format!("cannot make a certificate: {error}")
}

impl Authority {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Result<Authority, String> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(error)?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(error)?;
        Ok(Authority { issuer })
    }

    /// The CA certificate (DER), to trust.
    pub fn certificate(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The CA certificate as PEM (a `tls.ca_file`).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by this CA.
    pub fn issue(&self, names: &[&str]) -> Result<Identity, String> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).map_err(error)?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let key = KeyPair::generate().map_err(error)?;
        let certificate = params.signed_by(&key, &self.issuer).map_err(error)?;
        Ok(Identity {
            certificate: certificate.der().clone(),
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }
}

/// A rustls server configuration presenting `identity`; with `client_ca`, clients must present a
/// certificate signed by it (mutual TLS).
pub fn server_config(
    identity: &Identity,
    client_ca: Option<CertificateDer<'static>>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).map_err(|error| error.to_string())?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|error| error.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(vec![identity.certificate.clone()], identity.key())
        .map_err(|error| error.to_string())?;
    Ok(Arc::new(config))
}
