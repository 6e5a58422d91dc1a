// TLS contexts and certificate names for the server (see tls_context.h).
#include "server/conn/tls_context.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/strings.h"

namespace gannet {

namespace {

// The cipher suites the reference knows (ciphersuites.go), with OpenSSL's names (TLS 1.2 and
// earlier) and IANA ids. TLS 1.3 suites are not configurable there (Go ignores them), nor here.
struct CipherName {
  const char* go;
  const char* openssl;  // empty for TLS 1.3 suites
  uint16_t id;
};
constexpr CipherName kCiphers[] = {
    {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA", 0x0005},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", 0x000a},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", 0x002f},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", 0x0035},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", 0x003c},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", 0x009d},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA", 0xc007},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", 0xc009},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", 0xc00a},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA", 0xc011},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA", 0xc012},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", 0xc013},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", 0xc014},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", 0xc023},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", 0xc027},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", 0xc02f},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", 0xc02b},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", 0xc030},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", 0xc02c},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", 0xcca8},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305", 0xcca9},
    {"TLS_AES_128_GCM_SHA256", "", 0x1301},
    {"TLS_AES_256_GCM_SHA384", "", 0x1302},
    {"TLS_CHACHA20_POLY1305_SHA256", "", 0x1303},
};

// The reference's defaults (ciphersuites.go): ECDHE with AES-GCM or ChaCha20 for TLS 1.2, and
// Go's TLS 1.3 preference (AES-128-GCM first on machines with AES instructions).
constexpr const char* kDefaultCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
constexpr const char* kCiphers13 =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";

struct CurveName {
  const char* go;
  const char* openssl;
};
constexpr CurveName kCurves[] = {
    {"X25519", "X25519"}, {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}};
constexpr const char* kDefaultCurves = "X25519:P-256:P-384:P-521";

// The verification error OpenSSL found, kept for the log line (the error the handshake reports
// is replaced, so that the peer gets the reference's bad_certificate alert). Per thread: the
// callback runs inside the SSL call that then fails, on the thread that reads it.
thread_local int t_verify_error = 0;

int VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  if (t_verify_error == 0) t_verify_error = X509_STORE_CTX_get_error(store);
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);  // alert: bad_certificate
  return 0;
}

std::string LastSslError() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "unknown error";
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Go's words: "open a.pem: no such file or directory".
std::string OpenError(const std::string& path) {
  std::string text = std::strerror(errno == 0 ? ENOENT : errno);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return "open " + path + ": " + text;
}

std::string GoX509Text(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "x509: certificate signed by unknown authority";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "x509: certificate has expired or is not yet valid";
    case X509_V_ERR_INVALID_PURPOSE:
      return "x509: certificate specifies an incompatible key usage";
    default:
      return std::string("x509: ") + X509_verify_cert_error_string(err);
  }
}

std::string Asn1Text(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s))};
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::Create(const TlsConfig& config, std::string& error) {
  if (!config.cert_file.empty() && config.key_file.empty()) {
    error = "missing 'key_file' in TLS configuration";
    return nullptr;
  }
  if (config.cert_file.empty() && !config.key_file.empty()) {
    error = "missing 'cert_file' in TLS configuration";
    return nullptr;
  }
  std::shared_ptr<TlsContext> tc(new TlsContext());
  // TLS_method: the same context serves both ends of a route (we accept and we dial).
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (!ctx) {
    error = "cannot create a TLS context: " + LastSslError();
    return nullptr;
  }
  tc->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A peer closing without close_notify is a plain EOF ("Client Closed"), as in Go.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes: a write that blocks keeps its place in our own queue. Released buffers:
  // an idle connection holds no TLS record buffers. Read-ahead: one read() fetches many records.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, size_t{64} * 1024);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  std::string ciphers;
  for (const std::string& name : config.cipher_suites) {
    for (const CipherName& c : kCiphers) {
      if (name == c.go && *c.openssl) {
        if (!ciphers.empty()) ciphers += ':';
        ciphers += c.openssl;
      }
    }
  }
  if (ciphers.empty()) ciphers = kDefaultCiphers12;
  // Suites this OpenSSL no longer offers (RC4, 3DES) are skipped, as long as one remains.
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    error = "error parsing tls config, no usable cipher suite: " + LastSslError();
    return nullptr;
  }
  SSL_CTX_set_ciphersuites(ctx, kCiphers13);
  std::string curves;
  for (const std::string& name : config.curve_preferences) {
    for (const CurveName& c : kCurves) {
      if (name == c.go) {
        if (!curves.empty()) curves += ':';
        curves += c.openssl;
      }
    }
  }
  if (curves.empty()) curves = kDefaultCurves;
  if (SSL_CTX_set1_groups_list(ctx, curves.c_str()) != 1) {
    error = "error parsing tls config, curve preferences: " + LastSslError();
    return nullptr;
  }

  if (!config.cert_file.empty()) {
    const char* what = "error parsing X509 certificate/key pair: ";
    if (!FileExists(config.cert_file)) {
      error = what + OpenError(config.cert_file);
      return nullptr;
    }
    if (!FileExists(config.key_file)) {
      error = what + OpenError(config.key_file);
      return nullptr;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      error = what + LastSslError();
      return nullptr;
    }
  }
  if (!config.ca_file.empty()) {
    if (!FileExists(config.ca_file)) {
      error = OpenError(config.ca_file);
      return nullptr;
    }
    if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
      ERR_clear_error();
      error = "failed to parse root ca certificate";
      return nullptr;
    }
    // The CertificateRequest names the acceptable issuers, as Go's ClientCAs do.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  } else {
    SSL_CTX_set_default_verify_paths(ctx);  // as Go: the system's roots
  }
  tc->verify_ = config.verify || config.verify_and_map;
  tc->insecure_ = config.insecure;
  tc->map_ = config.verify_and_map;
  if (tc->verify_) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyCallback);
  }
  tc->timeout_ = config.timeout;
  for (const std::string& pin : config.pinned_certs) {
    std::string lower = pin;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    tc->pinned_.insert(lower);
  }
  ERR_clear_error();
  return tc;
}

TlsContext::~TlsContext() {
  if (ctx_) SSL_CTX_free(ctx_);
}

SSL* TlsContext::NewServerSsl(int fd, bool verify_clients, bool memory_input) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  if (!verify_clients) SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
  SSL_set_fd(ssl, fd);
  if (memory_input) {
    BIO* input = BIO_new(BIO_s_mem());
    if (!input) {
      SSL_free(ssl);
      return nullptr;
    }
    BIO_set_mem_eof_return(input, -1);  // empty: "try again", not end of stream
    SSL_set0_rbio(ssl, input);
    SSL_set_read_ahead(ssl, 0);  // the bytes are in memory already: no copy ahead
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

SSL* TlsContext::NewClientSsl(int fd, const std::string& host) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  SSL_set_fd(ssl, fd);
  BIO* input = BIO_new(BIO_s_mem());
  if (!input) {
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_mem_eof_return(input, -1);
  SSL_set0_rbio(ssl, input);
  SSL_set_read_ahead(ssl, 0);
  // As Go's dialer: the server's certificate is checked against the CA (or the system's roots)
  // and must name the host dialed, unless the block says insecure.
  if (!insecure_) {
    SSL_set_verify(ssl, SSL_VERIFY_PEER, VerifyCallback);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
  } else {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

bool TlsContext::PeerKeyPinned(SSL* ssl) const {
  if (pinned_.empty()) return true;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return false;
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  bool ok =
      EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return false;
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < digest_len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return pinned_.count(hex) > 0;
}

PeerCertNames PeerNames(SSL* ssl) {
  PeerCertNames names;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return names;
  names.has_cert = true;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_EMAIL) names.emails.push_back(Asn1Text(gn->d.rfc822Name));
      if (gn->type == GEN_DNS) names.dns_names.push_back(Asn1Text(gn->d.dNSName));
      if (gn->type == GEN_URI) names.uris.push_back(Asn1Text(gn->d.uniformResourceIdentifier));
    }
    GENERAL_NAMES_free(sans);
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, subject, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0) names.subject.assign(data, static_cast<size_t>(len));
    BIO_free(bio);
  }
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
    if (!sn) continue;
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) continue;
    std::string type = sn;
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    names.subject_rdns.push_back(
        type + "=" + std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)));
    OPENSSL_free(utf8);
  }
  return names;
}

std::string TlsVersionName(const SSL* ssl) {
  switch (SSL_version(ssl)) {
    case TLS1_VERSION:
      return "1.0";
    case TLS1_1_VERSION:
      return "1.1";
    case TLS1_2_VERSION:
      return "1.2";
    case TLS1_3_VERSION:
      return "1.3";
    default:
      return "Unknown [" + std::to_string(SSL_version(ssl)) + "]";
  }
}

std::string TlsCipherName(const SSL* ssl) {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (!cipher) return "";
  auto id = static_cast<uint16_t>(SSL_CIPHER_get_protocol_id(cipher));
  for (const CipherName& c : kCiphers) {
    if (c.id == id) return c.go;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "Unknown [%x]", id);
  return buf;
}

bool IsKnownCipherSuite(std::string_view name) {
  return std::any_of(std::begin(kCiphers), std::end(kCiphers),
                     [&](const CipherName& c) { return name == c.go; });
}

bool IsKnownCurve(std::string_view name) {
  return std::any_of(std::begin(kCurves), std::end(kCurves),
                     [&](const CurveName& c) { return name == c.go; });
}

std::string HandshakeErrorText(SSL* ssl, int ssl_error, int saved_errno) {
  std::string text;
  if (t_verify_error != 0) {
    text = "tls: failed to verify client certificate: " + GoX509Text(t_verify_error);
    t_verify_error = 0;
  }
  unsigned long e = ERR_peek_last_error();
  if (text.empty() && e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
      ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    text = "tls: client didn't provide a certificate";
  }
  if (text.empty()) {
    if ((ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) && e == 0) {
      if (saved_errno == 0 || ssl_error == SSL_ERROR_ZERO_RETURN) {
        text = "EOF";
      } else {
        text = std::string("read: ") + std::strerror(saved_errno);
      }
    } else if (e != 0) {
      const char* reason = ERR_reason_error_string(e);
      text = std::string("tls: ") + (reason ? reason : "handshake failure");
    } else {
      text = "tls: handshake failure";
    }
  }
  ERR_clear_error();
  return text;
}

}  // namespace gannet
