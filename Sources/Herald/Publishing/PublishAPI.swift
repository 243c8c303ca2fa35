import EngineIO
import NIOCore
import NIOHTTP1
import SocketIOProtocol

/// The publish API's routes: `POST /api/publish` and `GET /api/health`, every answer JSON; and `GET /metrics`
/// when the node serves its metrics on this private listener.
public struct PublishAPI: Sendable {
    let apiKey: String
    let publisher: Publisher
    let health: @Sendable () -> JSONValue
    let metrics: (@Sendable () -> HTTPResponse)?
    /// Users, stats and presence (docs/openapi.yaml); nil serves the publish routes only.
    let server: ServerAPI?
    /// Messages one `POST /api/publish/batch` may carry.
    let maxBatchMessages: Int
    /// This listener's own routes (`makeRoutes`), built once.
    private var routes: HTTPRouteTable

    public init(apiKey: String, publisher: Publisher, health: @escaping @Sendable () -> JSONValue = { ["status": "ok"] },
                metrics: (@Sendable () -> HTTPResponse)? = nil, server: ServerAPI? = nil, maxBatchMessages: Int = 100) {
        self.apiKey = apiKey
        self.publisher = publisher
        self.health = health
        self.metrics = metrics
        self.server = server
        self.maxBatchMessages = maxBatchMessages
        self.routes = HTTPRouteTable()
        // The handlers need the other fields only: a copy without the routes serves them.
        self.routes = self.makeRoutes()
    }

    public func respond(to request: HTTPRequestContext) async -> HTTPResponse {
        if let response = await routes.respond(to: request) { return response }
        if let server, ServerAPI.serves(request.path) {
            if let refusal = refusal(request) { return refusal }
            if let response = await server.respond(to: request) { return response }
        }
        return Self.error(.notFound, "no route \(request.path)")
    }

    /// This listener's own routes; the server API's follow them (`respond`).
    private func makeRoutes() -> HTTPRouteTable {
        var routes = HTTPRouteTable()
        routes.add(.POST, "/api/publish") { request in
            if let refusal = refusal(request) { return refusal }
            return await publish(request)
        }
        routes.add(.POST, "/api/publish/batch") { request in
            if let refusal = refusal(request) { return refusal }
            return await publishBatch(request)
        }
        // Unauthenticated so load balancers can probe it; it tells nothing about the traffic.
        routes.add(.GET, "/api/health") { _ in .json(.ok, health().jsonString) }
        if let metrics { routes.add(.GET, "/metrics") { _ in metrics() } }
        return routes
    }

    /// 401 without the right key, 413 for a body over the limit; nil lets the request through.
    private func refusal(_ request: HTTPRequestContext) -> HTTPResponse? {
        guard isAuthorized(request.head.headers) else {
            var response = Self.error(.unauthorized, "missing or wrong API key")
            response.headers.add(name: "WWW-Authenticate", value: "Bearer")
            return response
        }
        guard !request.bodyTooLarge else { return Self.error(.payloadTooLarge, "request body too large") }
        return nil
    }

    /// `{"messages": [publish requests]}`, delivered in order; each gets its own result, as `POST /api/publish` would
    /// answer it alone: `{"status": 202|200|400|404|503, …}`.
    private func publishBatch(_ request: HTTPRequestContext) async -> HTTPResponse {
        guard let body = request.body, let json = try? JSONValue(parsing: body), case .array(let messages)? = json["messages"] else {
            return Self.error(.badRequest, "send {\"messages\": [publish requests]}")
        }
        guard !messages.isEmpty, messages.count <= maxBatchMessages else {
            return Self.error(.badRequest, "messages must hold 1 to \(maxBatchMessages) publish requests")
        }
        var results: [JSONValue] = []
        results.reserveCapacity(messages.count)
        for message in messages {
            do throws(PublishRequestError) {
                let publish = try PublishRequest(json: message)
                let (status, answer) = await deliver(publish)
                guard case .object(var result) = answer else { continue }
                result["status"] = .int(Int(status.code))
                results.append(.object(result))
            } catch {
                results.append(["status": 400, "error": .string(error.description)])
            }
        }
        return .json(.ok, JSONValue.object(["results": .array(results)]).jsonString)
    }

    private func publish(_ request: HTTPRequestContext) async -> HTTPResponse {
        var publish: PublishRequest
        do throws(PublishRequestError) {
            publish = try PublishRequest(json: request.body ?? ByteBuffer())
            if let header = request.head.headers.first(name: "Idempotency-Key") {
                if let key = publish.idempotencyKey, key != header {
                    throw PublishRequestError("the Idempotency-Key header and idempotencyKey differ")
                }
                publish.idempotencyKey = header
                try PublishValidation.check(publish)
            }
        } catch {
            return Self.error(.badRequest, error.description)
        }
        let (status, answer) = await deliver(publish)
        return .json(status, answer.jsonString)
    }

    /// One publish request's delivery, as a status and its JSON answer.
    private func deliver(_ publish: PublishRequest) async -> (HTTPResponseStatus, JSONValue) {
        do {
            switch try await publisher.publishConfirmed(publish) {
            case .delivered: return (.accepted, ["delivered": true, "idempotent": false])
            case .duplicate: return (.ok, ["delivered": true, "idempotent": true])
            case .unknownNamespace: return (.notFound, ["error": .string("namespace \(publish.namespace) is not served")])
            }
        } catch {
            // Not pretending: this node's clients got it, the other nodes' did not.
            return (.serviceUnavailable, [
                "error": .string("the cluster could not be reached: delivered to this node's clients only (\(error))"),
                "delivered": "local",
            ])
        }
    }

    func isAuthorized(_ headers: HTTPHeaders) -> Bool {
        let presented: String
        if let authorization = headers.first(name: "Authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
            presented = parts[1].trimmingCharacters(in: .whitespaces)
        } else if let key = headers.first(name: "X-API-Key") {
            presented = key
        } else {
            return false
        }
        return constantTimeEquals(presented, apiKey)
    }

    static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPResponse {
        .json(status, JSONValue.object(["error": .string(message)]).jsonString)
    }

    static func methodNotAllowed(allow: String) -> HTTPResponse { .methodNotAllowed(allow: [HTTPMethod(rawValue: allow)]) }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension Set<Character> {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}
