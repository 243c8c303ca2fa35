import Foundation
import JWTKit
import SocketIOProtocol

/// Signs HS256 tokens for demos and tests (`herald token`). Production tokens come from the backend.
public enum TokenSigner {
    /// HS256 secrets shorter than the SHA-256 output are refused.
    public static let minimumSecretLength = 32

    public struct SecretTooShort: Error, CustomStringConvertible {
        public var description: String { "the HS256 secret must be at least \(TokenSigner.minimumSecretLength) bytes" }
    }

    public struct LifetimeOutOfRange: Error, CustomStringConvertible {
        public var description: String { "the lifetime puts exp after the year 9999" }
    }

    /// Signs `claims` with `secret`; `iat` and `exp` (now + ttl) are added unless present.
    public static func hs256(secret: String, claims: JSONObject, ttl: Duration?, now: Date = Date()) async throws -> String {
        guard secret.utf8.count >= minimumSecretLength else { throw SecretTooShort() }
        var claims = claims
        let issuedAt = Int(now.timeIntervalSince1970)
        if claims["iat"] == nil { claims["iat"] = .int(issuedAt) }
        if let ttl, claims["exp"] == nil {
            // A verifier refuses an exp past the year 9999, so a lifetime reaching beyond it is refused here.
            let (exp, overflow) = issuedAt.addingReportingOverflow(Int(ttl.components.seconds))
            guard !overflow, Double(exp) <= ClaimSet.latestNumericDate else { throw LifetimeOutOfRange() }
            claims["exp"] = .int(exp)
        }
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(ClaimSet(claims))
    }

    /// A `--claim name=value` value: comma-separated lists become arrays; integers, true/false stay typed.
    public static func claimValue(_ text: String) -> JSONValue {
        func scalar(_ item: Substring) -> JSONValue {
            if let number = Int(item) { return .int(number) }
            if item == "true" { return true }
            if item == "false" { return false }
            return .string(String(item))
        }
        if text.contains(",") { return .array(text.split(separator: ",").map(scalar)) }
        return scalar(Substring(text))
    }
}
