import ArgumentParser
import Foundation
import Herald
import SocketIOProtocol

/// Prints an HS256 token for demos and tests; real deployments sign tokens in their backend.
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an HS256 JWT signed with a shared secret (for demos and tests).",
        discussion: """
            Example: herald token --secret S --sub alice --claim role=admin --claim orders=123,456 --ttl 3600
            A claim value with commas becomes an array; integers and true/false keep their type.
            """)

    @Option(help: "HS256 secret [default: the node's jwt-secret setting, HERALD_JWT_SECRET or jwtSecret in HERALD_CONFIG].") var secret: String?
    @Option(help: "Subject (sub), the user id.") var sub: String
    @Option(name: .customLong("claim"), help: "Extra claim name=value (repeatable).") var claims: [String] = []
    @Option(help: "Lifetime in seconds (exp = now + ttl).") var ttl: Int = 3600
    @Option(help: "Issuer (iss) [default: the node's jwt-issuer setting].") var issuer: String?
    @Option(help: "Audience (aud) [default: the node's jwt-audience setting].") var audience: String?

    func validate() throws {
        // exp = now + ttl must stay a sane number of seconds (no overflow, no year 9999).
        guard (1...315_360_000).contains(ttl) else { throw ValidationError("--ttl must be 1…315360000 seconds, got \(ttl)") }
    }

    func run() async throws {
        // The node's own settings (environment and HERALD_CONFIG) give the secret, issuer and audience it checks.
        let node = try loadConfiguration([]).configuration.auth
        guard let secret = secret ?? node.hmacSecret, !secret.isEmpty else {
            throw ValidationError("--secret (or HERALD_JWT_SECRET) is required")
        }
        var object: JSONObject = ["sub": .string(sub)]
        if let issuer = issuer ?? node.issuer { object["iss"] = .string(issuer) }
        if let audience = audience ?? node.audience { object["aud"] = .string(audience) }
        for claim in claims {
            guard let equals = claim.firstIndex(of: "="), equals != claim.startIndex else {
                throw ValidationError("--claim takes name=value, got \(claim)")
            }
            object[String(claim[..<equals])] = TokenSigner.claimValue(String(claim[claim.index(after: equals)...]))
        }
        print(try await TokenSigner.hs256(secret: secret, claims: object, ttl: .seconds(ttl)))
    }
}
