import Foundation
import Herald
import Logging
import NIOCore
import NIOPosix
import SocketIOProtocol
import Testing

/// The publish API end to end: a HeraldNode on real ports, a raw HTTP client for the API, and
/// Engine.IO long-polling clients (raw HTTP too) to see what reaches the rooms.
@Suite struct PublishingAPILiveTests {
    static let key = "test-key-0123456789abcdef"

    @Test func publishReachesTheRoomOnly() async throws {
        try await withPublishingNode { api, main in
            let member = try await PollingClient.connect(port: main, room: "order:123")
            let outsider = try await PollingClient.connect(port: main, room: "order:999")

            let answer = try await api.post(#"{"room":"order:123","event":"order:updated","data":{"status":"shipped"}}"#)
            #expect(answer.status == 202, "\(answer.raw)")
            #expect(answer.header("content-type") == "application/json", "\(answer.raw)")
            #expect(try JSONValue(parsing: answer.body) == ["delivered": true, "idempotent": false])

            // The marker goes to both rooms after the event: whatever came before it was delivered already.
            try await api.marker(rooms: ["order:123", "order:999"])
            #expect(try await member.eventsUntilMarker() == [#"["order:updated",{"status":"shipped"}]"#])
            #expect(try await outsider.eventsUntilMarker() == [])
        }
    }

    @Test func roomsExceptNamespaceAndArgs() async throws {
        try await withPublishingNode { api, main in
            let a = try await PollingClient.connect(port: main, room: "team:a")
            let b = try await PollingClient.connect(port: main, room: "team:b")
            let admin = try await PollingClient.connect(port: main, room: "team:a", namespace: "/admin")

            let answer = try await api.post(
                #"{"rooms":["team:a","team:b"],"except":["team:b"],"event":"note","args":[1,"two"]}"#,
                headers: ["X-API-Key: \(Self.key)"], authorize: false)
            #expect(answer.status == 202, "\(answer.raw)")
            let toAdmin = try await api.post(#"{"namespace":"/admin","room":"team:a","event":"admin-note","data":true}"#)
            #expect(toAdmin.status == 202, "\(toAdmin.raw)")

            try await api.marker(rooms: ["team:a", "team:b"])
            try await api.marker(rooms: ["team:a"], namespace: "/admin")
            #expect(try await a.eventsUntilMarker() == [#"["note",1,"two"]"#])
            #expect(try await b.eventsUntilMarker() == [])
            #expect(try await admin.eventsUntilMarker() == [#"["admin-note",true]"#])
        }
    }

    /// Both listeners share one route table and one response writer: HEAD gets GET's headers and no body, an
    /// unknown path a 404 and a wrong method a 405 with `Allow`, both in the `{"error": …}` shape.
    @Test func headNotFoundAndMethodNotAllowedOnBothListeners() async throws {
        try await withPublishingNode { api, main in
            for (client, path) in [(api, "/api/health"), (PublishAPIClient(port: main), "/health")] {
                let get = try await client.request("GET", path, body: nil)
                let head = try await client.request("HEAD", path, body: nil)
                #expect(get.status == 200 && head.status == 200, "\(head.raw)")
                #expect(!get.body.isEmpty && head.body.isEmpty, "\(head.raw)")
                #expect(head.header("content-length") == String(get.body.utf8.count))
                #expect(head.header("content-type") == "application/json")
                let notFound = try await client.request("GET", "/nowhere", body: nil)
                #expect(notFound.status == 404, "\(notFound.raw)")
                #expect(try JSONValue(parsing: notFound.body)["error"]?.stringValue?.isEmpty == false)
                let wrong = try await client.request("DELETE", path, body: nil)
                #expect(wrong.status == 405, "\(wrong.raw)")
                #expect(wrong.header("allow") == "GET, HEAD")
                #expect(try JSONValue(parsing: wrong.body) == ["error": "method not allowed"])
            }
            let getPublish = try await api.request("GET", "/api/publish", body: nil)
            #expect(getPublish.status == 405 && getPublish.header("allow") == "POST", "\(getPublish.raw)")
        }
    }

    /// A publish never creates a namespace: an unknown one is a 404 with a JSON body, and the server's
    /// namespaces stay what they were, however many names a backend invents.
    @Test func publishingToANamespaceTheServerDoesNotServeIsRefused() async throws {
        try await withPublishingNode { api, main in
            for index in 0..<20 {
                let answer = try await api.post(#"{"namespace":"/invented-\#(index)","room":"r","event":"e"}"#)
                #expect(answer.status == 404, "\(answer.raw)")
                #expect(answer.header("content-type") == "application/json")
                #expect(try JSONValue(parsing: answer.body) == ["error": .string("namespace /invented-\(index) is not served")])
            }
            let member = try await PollingClient.connect(port: main, room: "still")
            #expect(try await api.post(#"{"room":"still","event":"here"}"#).status == 202)
            try await api.marker(rooms: ["still"])
            #expect(try await member.eventsUntilMarker() == [#"["here"]"#])
        } inspect: { node in
            #expect(Set(node.io.allNamespaces.map(\.name)) == ["/", "/admin"])
        }
    }

    /// A batch is delivered in order with one result per message, a bad message failing alone; its count and its
    /// body are bounded.
    @Test func aBatchGetsOneResultPerMessage() async throws {
        try await withPublishingNode { api, main in
            let member = try await PollingClient.connect(port: main, room: "feed")
            let auth = ["Authorization: Bearer \(Self.key)"]
            let answer = try await api.request("POST", "/api/publish/batch", headers: auth, body: #"{"messages":["#
                + #"{"room":"feed","event":"one"},{"room":"","event":"bad"},{"namespace":"/none","room":"feed","event":"x"},"#
                + #"{"room":"feed","event":"two","data":2,"idempotencyKey":"k1"},{"room":"feed","event":"two","idempotencyKey":"k1"}]}"#)
            #expect(answer.status == 200, "\(answer.raw)")
            let statuses = try JSONValue(parsing: answer.body)["results"]?.arrayValue?.map { $0["status"]?.intValue }
            #expect(statuses == [202, 400, 404, 202, 200], "\(answer.raw)")
            try await api.marker(rooms: ["feed"])
            #expect(try await member.eventsUntilMarker() == [#"["one"]"#, #"["two",2]"#])

            let many = JSONValue.object(["messages": .array(Array(repeating: ["room": "feed", "event": "e"], count: 101))]).jsonString
            let tooMany = try await api.request("POST", "/api/publish/batch", headers: auth, body: many)
            #expect(tooMany.status == 400, "\(tooMany.raw)")
            let huge = #"{"messages":[{"room":"feed","event":"e","data":""# + String(repeating: "x", count: 5000) + #""}]}"#
            #expect(try await api.request("POST", "/api/publish/batch", headers: auth, body: huge).status == 413)
            #expect(try await api.request("POST", "/api/publish/batch", body: "{}").status == 401)
        }
    }

    /// The server API takes names and lists from a backend: each is bounded and checked, a bad one is a 400 with the
    /// error shape, and the node keeps answering.
    @Test func theServerAPIRefusesOversizedAndMalformedRequests() async throws {
        try await withPublishingNode { api, _ in
            let auth = ["Authorization: Bearer \(Self.key)"]
            let rooms = JSONValue.object(["rooms": .array((0..<101).map { .string("r\($0)") })]).jsonString
            let longSub = String(repeating: "s", count: 300)
            let cases: [(String, RawHTTP.Response)] = [
                ("101 rooms", try await api.request("POST", "/api/users/alice/subscribe", headers: auth, body: rooms)),
                ("no rooms", try await api.request("POST", "/api/users/alice/subscribe", headers: auth, body: #"{"rooms":[]}"#)),
                ("a room too long", try await api.request("POST", "/api/users/alice/unsubscribe", headers: auth,
                                                           body: #"{"rooms":[""# + String(repeating: "x", count: 300) + #""]}"#)),
                ("not JSON", try await api.request("POST", "/api/users/alice/subscribe", headers: auth, body: "[")),
                ("a sub too long", try await api.request("GET", "/api/users/" + longSub, headers: auth, body: nil)),
                ("a control character", try await api.request("GET", "/api/users/a%00b", headers: auth, body: nil)),
                ("a long reason", try await api.request("POST", "/api/users/alice/disconnect", headers: auth,
                                                         body: #"{"reason":""# + String(repeating: "r", count: 300) + #""}"#)),
                ("a bad room", try await api.request("GET", "/api/rooms/%00/presence", headers: auth, body: nil)),
            ]
            for (name, response) in cases {
                #expect(response.status == 400, "\(name): \(response.raw)")
                #expect(try JSONValue(parsing: response.body)["error"]?.stringValue != nil, "\(name): \(response.raw)")
            }
            #expect(try await api.request("GET", "/api/users/alice/nope", headers: auth, body: nil).status == 404)
            #expect(try await api.request("DELETE", "/api/users/alice", headers: auth, body: nil).status == 405)
            let stats = try await api.request("GET", "/api/stats", headers: auth, body: nil)
            #expect(stats.status == 200, "\(stats.raw)")
            #expect(try JSONValue(parsing: stats.body)["total"]?["nodes"] == 1)
            let user = try JSONValue(parsing: try await api.request("GET", "/api/users/nobody", headers: auth, body: nil).body)
            #expect(user["connected"] == false && user["connections"] == 0, "\(user)")
        }
    }

    @Test func aRetriedIdempotencyKeyIsDeliveredOnce() async throws {
        try await withPublishingNode { api, main in
            let member = try await PollingClient.connect(port: main, room: "order:1")
            let body = #"{"room":"order:1","event":"order:updated","data":{"n":1},"idempotencyKey":"publish-1"}"#

            let first = try await api.post(body)
            #expect(first.status == 202, "\(first.raw)")
            #expect(try JSONValue(parsing: first.body) == ["delivered": true, "idempotent": false])
            let retry = try await api.post(body)
            #expect(retry.status == 200, "\(retry.raw)")
            #expect(try JSONValue(parsing: retry.body) == ["delivered": true, "idempotent": true])
            // The same key given as a header is the same publish.
            let viaHeader = try await api.post(#"{"room":"order:1","event":"order:updated","data":{"n":1}}"#, headers: ["Idempotency-Key: publish-1"])
            #expect(viaHeader.status == 200, "\(viaHeader.raw)")
            let other = try await api.post(#"{"room":"order:1","event":"order:updated","data":{"n":2}}"#, headers: ["Idempotency-Key: publish-2"])
            #expect(other.status == 202, "\(other.raw)")

            try await api.marker(rooms: ["order:1"])
            #expect(try await member.eventsUntilMarker() == [#"["order:updated",{"n":1}]"#, #"["order:updated",{"n":2}]"#])
        }
    }

    @Test func everyErrorIsJSONAndDeliversNothing() async throws {
        try await withPublishingNode { api, main in
            let member = try await PollingClient.connect(port: main, room: "r")
            let good = #"{"room":"r","event":"e"}"#
            let cases: [(String, RawHTTP.Response, Int)] = [
                ("no key", try await api.post(good, authorize: false), 401),
                ("wrong bearer", try await api.post(good, headers: ["Authorization: Bearer wrong"], authorize: false), 401),
                ("longer bearer", try await api.post(good, headers: ["Authorization: Bearer \(Self.key)x"], authorize: false), 401),
                ("basic scheme", try await api.post(good, headers: ["Authorization: Basic \(Self.key)"], authorize: false), 401),
                ("wrong X-API-Key", try await api.post(good, headers: ["X-API-Key: nope"], authorize: false), 401),
                ("no key, bad body", try await api.post("{", authorize: false), 401),
                ("malformed JSON", try await api.post("{"), 400),
                ("empty body", try await api.post(""), 400),
                ("missing event", try await api.post(#"{"room":"r"}"#), 400),
                ("missing room", try await api.post(#"{"event":"e"}"#), 400),
                ("reserved event", try await api.post(#"{"room":"r","event":"connect"}"#), 400),
                ("bad namespace", try await api.post(#"{"room":"r","event":"e","namespace":"admin"}"#), 400),
                ("bad type", try await api.post(#"{"rooms":"r","event":"e"}"#), 400),
                ("key mismatch", try await api.post(#"{"room":"r","event":"e","idempotencyKey":"a"}"#, headers: ["Idempotency-Key: b"]), 400),
                ("too large", try await api.post(#"{"room":"r","event":"e","data":""# + String(repeating: "x", count: 5000) + #""}"#), 413),
                ("unknown route", try await api.request("POST", "/api/nope", body: good), 404),
                ("root", try await api.request("GET", "/", body: nil), 404),
                ("wrong method", try await api.request("GET", "/api/publish", body: nil), 405),
                ("wrong method on health", try await api.request("POST", "/api/health", body: ""), 405),
            ]
            for (name, response, status) in cases {
                #expect(response.status == status, "\(name): \(response.raw)")
                #expect(response.header("content-type") == "application/json", "\(name): \(response.raw)")
                let error = try? JSONValue(parsing: response.body)
                #expect(error?["error"]?.stringValue?.isEmpty == false, "\(name): \(response.body)")
            }
            #expect(cases[0].1.header("www-authenticate") == "Bearer")
            #expect(cases.first { $0.0 == "wrong method" }?.1.header("allow") == "POST")

            try await api.marker(rooms: ["r"])
            #expect(try await member.eventsUntilMarker() == [])
        }
    }

    /// Keep-alive with pipelined requests: answered in order on one connection.
    @Test func pipelinedRequestsOnOneConnection() async throws {
        try await withPublishingNode { api, main in
            let member = try await PollingClient.connect(port: main, room: "p")
            func request(_ data: Int, close: Bool) -> String {
                let body = #"{"room":"p","event":"seq","data":\#(data)}"#
                return "POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Self.key)\r\n"
                    + (close ? "Connection: close\r\n" : "") + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            }
            let first = try await RawHTTP.exchange(request(1, close: false) + request(2, close: false) + request(3, close: true), port: api.port)
            #expect(first.status == 202, "\(first.raw)")
            #expect(first.raw.components(separatedBy: "HTTP/1.1 202 Accepted").count == 4, "\(first.raw)")
            try await api.marker(rooms: ["p"])
            #expect(try await member.eventsUntilMarker() == [#"["seq",1]"#, #"["seq",2]"#, #"["seq",3]"#])
        }
    }

    @Test func healthAndTheCommandLineClient() async throws {
        try await withPublishingNode { api, main in
            let health = try await api.request("GET", "/api/health", body: nil)
            #expect(health.status == 200, "\(health.raw)")
            #expect(try JSONValue(parsing: health.body)["status"] == "ok")
            // The API is not served on the public port, nor Engine.IO on the API port.
            let publicPort = try await RawHTTP.get("/api/health", port: main)
            #expect(publicPort.status == 404, "\(publicPort.raw)")
            let engineOnAPI = try await api.request("GET", "/socket.io/?EIO=4&transport=polling", body: nil)
            #expect(engineOnAPI.status == 404, "\(engineOnAPI.raw)")

            let member = try await PollingClient.connect(port: main, room: "order:5")
            let url = "http://127.0.0.1:\(api.port)"
            let published = try await PublishClient.publish(
                url: url, key: Self.key, body: #"{"room":"order:5","event":"order:updated","data":{"status":"shipped"}}"#,
                idempotencyKey: "cli-1")
            #expect(published.status == 202, "\(published.body)")
            let again = try await PublishClient.publish(
                url: url + "/", key: Self.key, body: #"{"room":"order:5","event":"order:updated","data":{"status":"shipped"}}"#,
                idempotencyKey: "cli-1")
            #expect(again.status == 200, "\(again.body)")
            let refused = try await PublishClient.publish(url: url, key: "wrong", body: "{}")
            #expect(refused.status == 401, "\(refused.body)")

            try await api.marker(rooms: ["order:5"])
            #expect(try await member.eventsUntilMarker() == [#"["order:updated",{"status":"shipped"}]"#])
        }
    }
}

/// Starts a node with the API on port 0 (body limit 4096 bytes) and always stops it.
private func withPublishingNode(_ body: (PublishAPIClient, Int) async throws -> Void,
                                inspect: (HeraldNode) -> Void = { _ in }) async throws {
    var logger = Logger(label: "publishing-test")
    logger.logLevel = .warning
    var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .seconds(1))
    configuration.publishing = PublishingConfiguration(apiPort: 0, apiKey: PublishingAPILiveTests.key, maxBodySize: 4096)
    let node = HeraldNode(configuration: configuration, logger: logger)
    // Clients name their room in the CONNECT auth; joins made in middleware are in place before the CONNECT reply.
    for namespace in ["/", "/admin"] {
        node.io.of(namespace).use { socket in
            if let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
        }
    }
    try await withRunningNode(node) { node, main in
        let api = try #require(node.apiListeningAddress?.port)
        try await body(PublishAPIClient(port: api), main)
        inspect(node)
    }
}

struct PublishAPIClient {
    let port: Int

    func post(_ body: String, headers: [String] = [], authorize: Bool = true) async throws -> RawHTTP.Response {
        try await request("POST", "/api/publish", headers: (authorize ? ["Authorization: Bearer \(PublishingAPILiveTests.key)"] : []) + headers, body: body)
    }

    /// A marker event to `rooms`: clients read until they see it, so nothing is awaited by timeout.
    func marker(rooms: [String], namespace: String = "/") async throws {
        let body = JSONValue.object(["namespace": .string(namespace), "rooms": .array(rooms.map { .string($0) }), "event": "marker"]).jsonString
        let answer = try await post(body)
        #expect(answer.status == 202, "marker: \(answer.raw)")
    }

    func request(_ method: String, _ path: String, headers: [String] = [], body: String?) async throws -> RawHTTP.Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        } else {
            head += "\r\n"
        }
        return try await RawHTTP.exchange(head, port: port)
    }
}

extension RawHTTP {
    /// Sends `request` as is and reads until the server closes.
    static func exchange(_ request: String, port: Int, timeout: Duration = .seconds(10)) async throws -> Response {
        try parse(try await tcpExchange(request, port: port, timeout: timeout))
    }
}

/// A Socket.IO client over Engine.IO long-polling, by hand: enough to join a namespace and read events.
struct PollingClient {
    let port: Int
    let sid: String
    let namespace: String

    static func connect(port: Int, room: String, namespace: String = "/") async throws -> PollingClient {
        let open = try await RawHTTP.get("/socket.io/?EIO=4&transport=polling", port: port)
        #expect(open.status == 200, "\(open.raw)")
        guard open.body.hasPrefix("0"), let sid = try JSONValue(parsing: String(open.body.dropFirst()))["sid"]?.stringValue else {
            throw RawHTTP.ParseError(raw: open.raw)
        }
        let client = PollingClient(port: port, sid: sid, namespace: namespace)
        let auth = JSONValue.object(["room": .string(room)]).jsonString
        try await client.send("40" + (namespace == "/" ? "" : namespace + ",") + auth)
        let connected = try await client.poll()
        #expect(connected.first?.hasPrefix("40") == true, "\(connected)")
        return client
    }

    func send(_ packet: String) async throws {
        let request = "POST /socket.io/?EIO=4&transport=polling&sid=\(sid) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: \(packet.utf8.count)\r\n\r\n" + packet
        let answer = try await RawHTTP.exchange(request, port: port)
        #expect(answer.status == 200, "\(answer.raw)")
    }

    /// One long poll: the Engine.IO packets waiting (or the next to arrive).
    func poll() async throws -> [String] {
        let answer = try await RawHTTP.get("/socket.io/?EIO=4&transport=polling&sid=\(sid)", port: port)
        #expect(answer.status == 200, "\(answer.raw)")
        return answer.body.split(separator: "\u{1e}").map(String.init)
    }

    /// The events' JSON arrays (`["name",args…]`) up to the marker, which is not included.
    func eventsUntilMarker() async throws -> [String] {
        let prefix = "42" + (namespace == "/" ? "" : namespace + ",")
        var events: [String] = []
        while true {
            for packet in try await poll() {
                guard packet.hasPrefix(prefix) else { continue }  // pings and the like
                let event = String(packet.dropFirst(prefix.count))
                if try JSONValue(parsing: event)[0] == "marker" { return events }
                events.append(event)
            }
        }
    }
}
