import NIOCore
import NIOHTTP1

/// The HTTP routes beside Engine.IO's, on either listener: features register a method and a path pattern with a
/// handler, and the table answers what no route names in one way. A path with no route is nil (the listener's
/// 404); a path whose routes take other methods is a 405 with `Allow`; `HEAD` runs the `GET` route (the one
/// response writer, `HTTPResponseWriter`, sends its headers and no body). Built once, then immutable (Sendable).
public struct HTTPRouteTable: Sendable {
    public typealias Handler = @Sendable (HTTPRequestContext) async -> HTTPResponse

    /// `/a/b` matches that path only; a `{name}` segment matches any one non-empty segment, whose text stays
    /// percent-encoded (handlers decode it with `PercentCoding`); a last `*` segment matches one or more segments.
    public struct Pattern: Sendable, Hashable, ExpressibleByStringLiteral {
        enum Segment: Hashable { case literal(Substring), parameter, rest }
        let segments: [Segment]

        public init(_ pattern: String) {
            segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { segment in
                if segment == "*" { return .rest }
                return segment.hasPrefix("{") && segment.hasSuffix("}") ? .parameter : .literal(segment)
            }
        }

        public init(stringLiteral pattern: String) { self.init(pattern) }

        func matches(_ path: Substring) -> Bool {
            guard path.first == "/" else { return false }
            var parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)[...]
            for segment in segments {
                switch segment {
                case .rest: return !parts.isEmpty && !parts.contains(where: \.isEmpty)
                case .parameter: guard let part = parts.popFirst(), !part.isEmpty else { return false }
                case .literal(let literal): guard parts.popFirst() == literal else { return false }
                }
            }
            return parts.isEmpty
        }
    }

    private struct Route {
        let method: HTTPMethod
        let pattern: Pattern
        let handler: Handler
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route; the first route registered for a method and a path wins.
    public mutating func add(_ method: HTTPMethod, _ pattern: Pattern, _ handler: @escaping Handler) {
        routes.append(Route(method: method, pattern: pattern, handler: handler))
    }

    /// The route's answer; a 405 when the path has routes for other methods only; nil when no route has the path.
    public func respond(to request: HTTPRequestContext) async -> HTTPResponse? {
        let path = request.pathSubstring
        let method = request.method == .HEAD ? .GET : request.method
        var allowed: [HTTPMethod] = []
        for route in routes where route.pattern.matches(path) {
            if route.method == method { return await route.handler(request) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        guard !allowed.isEmpty else { return nil }
        if allowed.contains(.GET) { allowed.append(.HEAD) }
        return .methodNotAllowed(allow: allowed)
    }
}

extension HTTPResponse {
    /// 404 in the error shape every HTTP route answers with (`{"error": message}`).
    public static let notFound = HTTPResponse.json(.notFound, #"{"error":"not found"}"#)

    /// 405 in the error shape, with the methods the path takes in `Allow`.
    public static func methodNotAllowed(allow: [HTTPMethod]) -> HTTPResponse {
        var response = HTTPResponse.json(.methodNotAllowed, #"{"error":"method not allowed"}"#)
        response.headers.add(name: "Allow", value: allow.map(\.rawValue).joined(separator: ", "))
        return response
    }
}
