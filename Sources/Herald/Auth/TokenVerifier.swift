import Foundation
import JWTKit
internal import ExtrasBase64
import SocketIOProtocol

/// Checks a JWT's signature with the configured keys, then `exp`, `nbf`, `iss` and `aud` with a leeway.
///
/// Keys are kept per source so a token can only be checked by a key of its own family: the header's `kid`
/// selects a JWKS key; otherwise `alg` picks the HMAC secret or the PEM key. This closes the classic
/// algorithm-confusion hole (an RS256 public key used as an HS256 secret).
public struct TokenVerifier: Sendable {
    let hmac: JWTKeyCollection?
    let pem: (collection: JWTKeyCollection, algorithm: String)?
    let jwks: JWTKeyCollection?
    let jwksIDs: Set<String>
    public let issuer: String?
    public let audience: String?
    public let leeway: Duration
    public let requireExpiration: Bool

    public struct KeyError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Builds the key collections; throws `KeyError` for unreadable PEM or JWKS text.
    public init(_ configuration: AuthConfiguration) async throws {
        if let secret = configuration.hmacSecret, !secret.isEmpty {
            // RFC 7518 §3.2: an HS256 key shorter than the hash is guessable (jwt-kit asserts on it too).
            guard secret.utf8.count >= TokenSigner.minimumSecretLength else {
                throw KeyError(description: "the HS256 secret must be at least \(TokenSigner.minimumSecretLength) bytes")
            }
            hmac = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        } else {
            hmac = nil
        }
        if let pemText = configuration.publicKeyPEM {
            if let key = try? ES256PublicKey(pem: pemText) {
                pem = (await JWTKeyCollection().add(ecdsa: key), "ES256")
            } else if let key = try? Insecure.RSA.PublicKey(pem: pemText) {
                pem = (await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256), "RS256")
            } else {
                throw KeyError(description: "the public key is neither a P-256 EC key nor an RSA key in PEM form")
            }
        } else {
            pem = nil
        }
        if let jwksText = configuration.jwksJSON {
            do {
                jwks = try await JWTKeyCollection().add(jwksJSON: jwksText)
            } catch {
                throw KeyError(description: "the JWKS is not usable: \(error)")
            }
            let parsed = try? JSONValue(parsing: jwksText)
            jwksIDs = Set((parsed?["keys"]?.arrayValue ?? []).compactMap { $0["kid"]?.stringValue })
        } else {
            jwks = nil
            jwksIDs = []
        }
        issuer = configuration.issuer
        audience = configuration.audience
        leeway = configuration.leeway
        requireExpiration = configuration.requireExpiration
    }

    /// Whether any key is configured (no keys: auth is off).
    public var hasKeys: Bool { hmac != nil || pem != nil || jwks != nil }

    /// The verified claims, or an `AuthError` whose code says what to do about it.
    public func verify(_ token: String, now: Date = Date()) async throws(AuthError) -> ClaimSet {
        let header = try Self.header(of: token)
        let alg = header["alg"]?.stringValue ?? ""
        let collection: JWTKeyCollection
        if let kid = header["kid"]?.stringValue, let jwks, jwksIDs.contains(kid) {
            collection = jwks
        } else if alg == "HS256", let hmac {
            collection = hmac
        } else if let pem, alg == pem.algorithm {
            collection = pem.collection
        } else if header["kid"]?.stringValue != nil, jwks != nil {
            throw AuthError(.tokenInvalid, "the token's key id is not in the key set")
        } else {
            throw AuthError(.tokenInvalid, "the token's algorithm \(alg.isEmpty ? "(none)" : alg) is not accepted")
        }
        let claims: ClaimSet
        do {
            claims = try await collection.verify(token, as: ClaimSet.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw AuthError(.tokenInvalid, "the token's signature does not verify")
        } catch {
            throw AuthError(.tokenInvalid, "the token cannot be verified")
        }
        try check(claims, now: now)
        return claims
    }

    /// The time-independent and time-dependent claim checks, separate from signatures so tests can drive them.
    public func check(_ claims: ClaimSet, now: Date) throws(AuthError) {
        let clock = now.timeIntervalSince1970
        let slack = Double(leeway.components.seconds) + Double(leeway.components.attoseconds) / 1e18
        for name in ["exp", "nbf", "iat"] {
            guard let value = claims[name] else { continue }
            guard let seconds = claims.seconds(name) else { throw AuthError(.tokenInvalid, "\(name) must be a number of seconds") }
            guard seconds <= ClaimSet.latestNumericDate else {
                throw AuthError(.tokenInvalid, "\(name) \(value.jsonString) is after the year 9999: NumericDates are seconds since 1970, not milliseconds")
            }
        }
        if let exp = claims.seconds("exp") {
            if clock >= exp + slack { throw AuthError(.tokenExpired, "the token expired; get a new one and reconnect or refresh") }
        } else if requireExpiration {
            throw AuthError(.tokenInvalid, "the token has no exp claim")
        }
        if let nbf = claims.seconds("nbf") {
            if clock + slack < nbf { throw AuthError(.tokenNotYetValid, "the token is not valid yet (nbf); check the clocks") }
        }
        if let issuer, claims["iss"]?.stringValue != issuer {
            throw AuthError(.issuerMismatch, "the token was not issued by \(issuer)")
        }
        if let audience {
            let granted: [String] = switch claims["aud"] {
            case .string(let one)?: [one]
            case .array(let many)?: many.compactMap(\.stringValue)
            default: []
            }
            if !granted.contains(audience) { throw AuthError(.audienceMismatch, "the token is not meant for audience \(audience)") }
        }
        guard claims.subject != nil else { throw AuthError(.tokenInvalid, "the token has no sub claim") }
    }

    /// The decoded JOSE header; malformed text is `token_invalid`.
    static func header(of token: String) throws(AuthError) -> JSONValue {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = base64URLDecode(parts[0]),
              let header = try? JSONValue(parsing: String(decoding: bytes, as: UTF8.self)),
              header.objectValue != nil
        else { throw AuthError(.tokenInvalid, "the token is not a JWT (header.payload.signature)") }
        return header
    }

    /// A JWT part (RFC 7515: base64url without padding), as jwt-kit itself reads it.
    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        try? Base64.decode(bytes: text.utf8, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }
}

extension ClaimSet: JWTPayload {
    /// Signature checks happen in jwt-kit; claim checks in `TokenVerifier`, where the clock is injectable.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
