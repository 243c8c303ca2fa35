import CryptoExtras
import Foundation
import Herald
import JWTKit
import SocketIOProtocol
import Testing

/// JWT verification with keys generated here: HS256, RS256, ES256, JWKS by kid, and each claim failure.
@Suite struct AuthTokenTests {
    static let secret = "0123456789abcdef0123456789abcdef"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func claims(_ extra: JSONObject = [:], exp: Int? = 1_800_000_600) -> ClaimSet {
        var object: JSONObject = ["sub": "alice"]
        if let exp { object["exp"] = .int(exp) }
        for (key, value) in extra { object[key] = value }
        return ClaimSet(object)
    }

    static func verifier(_ configuration: AuthConfiguration) async throws -> TokenVerifier {
        try await TokenVerifier(configuration)
    }

    func expectRefusal(_ verifier: TokenVerifier, _ token: String, _ code: AuthError.Code,
                       sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            let claims = try await verifier.verify(token, now: Self.now)
            Issue.record("accepted \(claims.object), expected \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func hs256AndClaimChecks() async throws {
        let verifier = try await Self.verifier(AuthConfiguration(
            hmacSecret: Self.secret, issuer: "https://backend", audience: "herald", leeway: .seconds(10)))
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        func sign(_ claims: ClaimSet) async throws -> String { try await keys.sign(claims) }
        let good: JSONObject = ["iss": "https://backend", "aud": ["other", "herald"], "role": "admin"]

        let accepted = try await verifier.verify(try await sign(Self.claims(good)), now: Self.now)
        #expect(accepted.subject == "alice")
        #expect(accepted["role"] == "admin")

        await expectRefusal(verifier, try await sign(Self.claims(good, exp: 1_800_000_000 - 11)), .tokenExpired)
        // Within the leeway an expired-by-a-little token still passes.
        _ = try await verifier.verify(try await sign(Self.claims(good, exp: 1_800_000_000 - 5)), now: Self.now)
        var early = good; early["nbf"] = .int(1_800_000_000 + 60)
        await expectRefusal(verifier, try await sign(Self.claims(early)), .tokenNotYetValid)
        var wrongIssuer = good; wrongIssuer["iss"] = "https://evil"
        await expectRefusal(verifier, try await sign(Self.claims(wrongIssuer)), .issuerMismatch)
        var wrongAudience = good; wrongAudience["aud"] = "other"
        await expectRefusal(verifier, try await sign(Self.claims(wrongAudience)), .audienceMismatch)
        var noAudience = good; noAudience["aud"] = nil
        await expectRefusal(verifier, try await sign(Self.claims(noAudience)), .audienceMismatch)
        await expectRefusal(verifier, try await sign(Self.claims(good, exp: nil)), .tokenInvalid)
        var noSubject = Self.claims(good); noSubject.object["sub"] = nil
        await expectRefusal(verifier, try await sign(noSubject), .tokenInvalid)

        let otherKeys = await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret + "-other"), digestAlgorithm: .sha256)
        await expectRefusal(verifier, try await otherKeys.sign(Self.claims(good)), .tokenInvalid)
        await expectRefusal(verifier, "not-a-jwt", .tokenInvalid)
        await expectRefusal(verifier, "a.b.c", .tokenInvalid)
        // A token whose payload was edited after signing fails its signature.
        let parts = try await sign(Self.claims(good)).split(separator: ".")
        let forged = try await sign(Self.claims(good.merging(["role": "root"])))
        await expectRefusal(verifier, "\(parts[0]).\(forged.split(separator: ".")[1]).\(parts[2])", .tokenInvalid)
    }

    @Test func rs256PublicKeyFromPEM() async throws {
        let backing = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let privateKey = try Insecure.RSA.PrivateKey(backing: backing)
        let verifier = try await Self.verifier(AuthConfiguration(publicKeyPEM: backing.publicKey.pemRepresentation))
        let keys = await JWTKeyCollection().add(rsa: privateKey, digestAlgorithm: .sha256)
        let claims = try await verifier.verify(try await keys.sign(Self.claims()), now: Self.now)
        #expect(claims.subject == "alice")
        let otherKeys = await JWTKeyCollection().add(rsa: try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048)), digestAlgorithm: .sha256)
        await expectRefusal(verifier, try await otherKeys.sign(Self.claims()), .tokenInvalid)
        // An HS256 token is not checked against the RSA key (no HMAC secret configured).
        let hmac = await JWTKeyCollection().add(hmac: HMACKey(from: backing.publicKey.pemRepresentation), digestAlgorithm: .sha256)
        await expectRefusal(verifier, try await hmac.sign(Self.claims()), .tokenInvalid)
    }

    @Test func es256PublicKeyFromPEM() async throws {
        let privateKey = ES256PrivateKey()
        let verifier = try await Self.verifier(AuthConfiguration(publicKeyPEM: privateKey.publicKey.pemRepresentation))
        let keys = await JWTKeyCollection().add(ecdsa: privateKey)
        #expect(try await verifier.verify(try await keys.sign(Self.claims()), now: Self.now).subject == "alice")
        let otherKeys = await JWTKeyCollection().add(ecdsa: ES256PrivateKey())
        await expectRefusal(verifier, try await otherKeys.sign(Self.claims()), .tokenInvalid)
        await expectRefusal(verifier, try await keys.sign(Self.claims(exp: 1_700_000_000)), .tokenExpired)
    }

    @Test func jwksSelectsKeyByKid() async throws {
        let first = ES256PrivateKey()
        let second = ES256PrivateKey()
        func jwk(_ key: ES256PrivateKey, kid: String) throws -> String {
            let parameters = try #require(key.publicKey.parameters)
            return #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        }
        let jwks = #"{"keys":[\#(try jwk(first, kid: "k1")),\#(try jwk(second, kid: "k2"))]}"#
        let verifier = try await Self.verifier(AuthConfiguration(jwksJSON: jwks))
        let firstKeys = await JWTKeyCollection().add(ecdsa: first, kid: "k1")
        let secondKeys = await JWTKeyCollection().add(ecdsa: second, kid: "k2")
        #expect(try await verifier.verify(try await firstKeys.sign(Self.claims(), kid: "k1"), now: Self.now).subject == "alice")
        #expect(try await verifier.verify(try await secondKeys.sign(Self.claims(), kid: "k2"), now: Self.now).subject == "alice")
        // Signed by the first key but claiming the second key's id.
        let mislabelled = await JWTKeyCollection().add(ecdsa: first, kid: "k2")
        await expectRefusal(verifier, try await mislabelled.sign(Self.claims(), kid: "k2"), .tokenInvalid)
        let unknown = await JWTKeyCollection().add(ecdsa: first, kid: "k9")
        await expectRefusal(verifier, try await unknown.sign(Self.claims(), kid: "k9"), .tokenInvalid)
    }

    @Test func unusableKeysAreReportedAtStart() async throws {
        await #expect(throws: TokenVerifier.KeyError.self) {
            _ = try await TokenVerifier(AuthConfiguration(publicKeyPEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
        }
        await #expect(throws: TokenVerifier.KeyError.self) {
            _ = try await TokenVerifier(AuthConfiguration(jwksJSON: "{\"keys\": 3}"))
        }
        await #expect(throws: TokenVerifier.KeyError.self) {
            _ = try await TokenVerifier(AuthConfiguration(hmacSecret: "short"))
        }
        await #expect(throws: TokenSigner.SecretTooShort.self) {
            _ = try await TokenSigner.hs256(secret: "short", claims: ["sub": "a"], ttl: nil)
        }
    }

    @Test func cliSignerMakesVerifiableTokens() async throws {
        let token = try await TokenSigner.hs256(
            secret: Self.secret, claims: ["sub": "alice", "role": "admin", "orders": [123, 456]], ttl: .seconds(3600), now: Self.now)
        let verifier = try await Self.verifier(AuthConfiguration(hmacSecret: Self.secret))
        let claims = try await verifier.verify(token, now: Self.now)
        #expect(claims["orders"] == [123, 456])
        #expect(claims["exp"] == .int(1_800_003_600))
        #expect(claims["iat"] == .int(1_800_000_000))
    }
}

extension JSONObject {
    func merging(_ other: JSONObject) -> JSONObject {
        var copy = self
        for (key, value) in other { copy[key] = value }
        return copy
    }
}
