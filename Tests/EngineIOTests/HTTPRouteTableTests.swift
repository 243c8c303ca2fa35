import EngineIO
import NIOCore
import NIOHTTP1
import Testing

/// The route table alone: which handler a method and path reach, HEAD through GET, 405 with `Allow`, nil for 404.
@Suite struct HTTPRouteTableTests {
    static func request(_ method: HTTPMethod, _ uri: String) -> HTTPRequestContext {
        HTTPRequestContext(head: HTTPRequestHead(version: .http1_1, method: method, uri: uri), body: nil, remoteAddress: nil)
    }

    static let table: HTTPRouteTable = {
        var routes = HTTPRouteTable()
        routes.add(.GET, "/health") { _ in .text(.ok, "get health") }
        routes.add(.POST, "/api/publish") { _ in .text(.accepted, "publish") }
        routes.add(.GET, "/api/rooms/{room}/messages") { request in .text(.ok, "history " + request.path) }
        routes.add(.DELETE, "/api/rooms/{room}/messages") { _ in .text(.ok, "delete") }
        routes.add(.GET, "/files/*") { request in .text(.ok, "file " + request.path) }
        return routes
    }()

    static func answer(_ method: HTTPMethod, _ uri: String) async -> (status: UInt, body: String, allow: String?)? {
        guard let response = await table.respond(to: request(method, uri)) else { return nil }
        return (response.status.code, String(buffer: response.body), response.headers.first(name: "Allow"))
    }

    @Test func routesByMethodAndPattern() async {
        #expect(await Self.answer(.GET, "/health?verbose=1")?.body == "get health")
        #expect(await Self.answer(.POST, "/api/publish")?.status == 202)
        #expect(await Self.answer(.GET, "/api/rooms/chat%3A1/messages?limit=2")?.body == "history /api/rooms/chat%3A1/messages")
        #expect(await Self.answer(.DELETE, "/api/rooms/x/messages")?.body == "delete")
        #expect(await Self.answer(.GET, "/files/a/b.css")?.body == "file /files/a/b.css")
    }

    @Test func headRunsTheGetRoute() async {
        #expect(await Self.answer(.HEAD, "/health")?.body == "get health")
    }

    @Test(arguments: ["/nowhere", "/health/", "/healthz", "/api/rooms//messages", "/api/rooms/a/b/messages", "/files", "/files/", "health"])
    func pathsNoRouteNamesAreNil(path: String) async {
        #expect(await Self.answer(.GET, path) == nil)
    }

    @Test func otherMethodsAre405WithAllow() async throws {
        let publish = try #require(await Self.answer(.GET, "/api/publish"))
        #expect(publish.status == 405 && publish.allow == "POST" && publish.body == #"{"error":"method not allowed"}"#)
        #expect(try #require(await Self.answer(.POST, "/health")).allow == "GET, HEAD")
        #expect(try #require(await Self.answer(.PUT, "/api/rooms/x/messages")).allow == "GET, DELETE, HEAD")
    }
}
