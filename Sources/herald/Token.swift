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

    @Option(help: "HS256 secret [HERALD_JWT_SECRET].") var secret: String?
    @Option(help: "Subject (sub), the user id.") var sub: String
    @Option(name: .customLong("claim"), help: "Extra claim name=value (repeatable).") var claims: [String] = []
    @Option(help: "Lifetime in seconds (exp = now + ttl).") var ttl: Int = 3600
    @Option(help: "Issuer (iss) [HERALD_JWT_ISSUER].") var issuer: String?
    @Option(help: "Audience (aud) [HERALD_JWT_AUDIENCE].") var audience: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let secret = secret ?? environment["HERALD_JWT_SECRET"], !secret.isEmpty else {
            throw ValidationError("--secret (or HERALD_JWT_SECRET) is required")
        }
        var object: JSONObject = ["sub": .string(sub)]
        if let issuer = issuer ?? environment["HERALD_JWT_ISSUER"] { object["iss"] = .string(issuer) }
        if let audience = audience ?? environment["HERALD_JWT_AUDIENCE"] { object["aud"] = .string(audience) }
        for claim in claims {
            guard let equals = claim.firstIndex(of: "="), equals != claim.startIndex else {
                throw ValidationError("--claim takes name=value, got \(claim)")
            }
            object[String(claim[..<equals])] = TokenSigner.claimValue(String(claim[claim.index(after: equals)...]))
        }
        print(try await TokenSigner.hs256(secret: secret, claims: object, ttl: .seconds(ttl)))
    }
}

/// `herald serve` flags for authentication; each maps to the HERALD_* variable in its help.
struct AuthOptions: ParsableArguments {
    @Option(help: "HS256 secret; turns authentication on [HERALD_JWT_SECRET].") var jwtSecret: String?
    @Option(help: "PEM file with an RS256 or ES256 public key [HERALD_JWT_PUBLIC_KEY_FILE].") var jwtPublicKeyFile: String?
    @Option(help: "JWKS file; tokens select a key by kid [HERALD_JWKS_FILE].") var jwksFile: String?
    @Option(help: "Required token issuer [HERALD_JWT_ISSUER].") var jwtIssuer: String?
    @Option(help: "Required token audience [HERALD_JWT_AUDIENCE].") var jwtAudience: String?
    @Option(help: "Clock skew allowed on exp/nbf in seconds [HERALD_JWT_LEEWAY, default 30].") var jwtLeeway: Int?
    @Option(help: "Accept subscription grants without token_use, 0 or 1 [HERALD_JWT_UNTYPED_GRANTS, default 1].") var jwtUntypedGrants: Int?
    @Option(help: "Rooms a socket may subscribe to [HERALD_MAX_ROOMS, default 100].") var maxRooms: Int?
    @Option(help: "Events per second per socket [HERALD_EVENTS_PER_SECOND, default 20].") var eventsPerSecond: Int?
    @Option(help: "Event burst per socket [HERALD_EVENT_BURST, default 40].") var eventBurst: Int?
    @Option(help: "Largest event in bytes [HERALD_MAX_EVENT_SIZE, default 65536].") var maxEventSize: Int?
    @Option(help: "Violations that disconnect [HERALD_MAX_VIOLATIONS, default 10].") var maxViolations: Int?
    @Option(help: "Violation window in ms [HERALD_VIOLATION_WINDOW, default 10000].") var violationWindow: Int?

    var settings: [String: String?] {
        [
            "HERALD_JWT_SECRET": jwtSecret, "HERALD_JWT_PUBLIC_KEY_FILE": jwtPublicKeyFile, "HERALD_JWKS_FILE": jwksFile,
            "HERALD_JWT_ISSUER": jwtIssuer, "HERALD_JWT_AUDIENCE": jwtAudience, "HERALD_JWT_LEEWAY": jwtLeeway.map(String.init),
            "HERALD_JWT_UNTYPED_GRANTS": jwtUntypedGrants.map(String.init),
            "HERALD_MAX_ROOMS": maxRooms.map(String.init), "HERALD_EVENTS_PER_SECOND": eventsPerSecond.map(String.init),
            "HERALD_EVENT_BURST": eventBurst.map(String.init), "HERALD_MAX_EVENT_SIZE": maxEventSize.map(String.init),
            "HERALD_MAX_VIOLATIONS": maxViolations.map(String.init), "HERALD_VIOLATION_WINDOW": violationWindow.map(String.init),
        ]
    }
}
