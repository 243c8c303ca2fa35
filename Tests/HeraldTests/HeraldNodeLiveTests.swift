import Foundation
import Herald
import Logging
import NIOCore
import NIOPosix
import Testing

/// A real HeraldNode on a real port: the HTTP routes outside Socket.IO.
@Suite struct HeraldNodeLiveTests {
    @Test func healthAndNotFoundAnswerJSON() async throws {
        var logger = Logger(label: "herald-node-test")
        logger.logLevel = .warning
        let node = HeraldNode(
            configuration: HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .seconds(1)),
            logger: logger)
        // No ServiceGroup: cancelling the task is what ends run()'s wait for graceful shutdown.
        let running = Task { try await node.run() }
        defer { running.cancel() }
        let address = try await withTimeout(.seconds(10)) { try await node.listeningAddress() }
        let port = try #require(address.port)

        let health = try await RawHTTP.get("/health", port: port)
        #expect(health.status == 200, "\(health.raw)")
        #expect(health.header("content-type")?.hasPrefix("application/json") == true, "\(health.raw)")
        let body = try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any]
        #expect(body?["status"] as? String == "ok", "\(health.body)")
        #expect(body?["sessions"] as? Int == 0, "\(health.body)")

        let missing = try await RawHTTP.get("/nope", port: port)
        #expect(missing.status == 404, "\(missing.raw)")
        #expect(missing.header("content-type")?.hasPrefix("application/json") == true, "\(missing.raw)")
        let error = try JSONSerialization.jsonObject(with: Data(missing.body.utf8)) as? [String: Any]
        #expect(error?["error"] != nil, "\(missing.body)")

        running.cancel()
        try await withTimeout(.seconds(10)) { try await running.value }
    }
}

/// Runs `node` (no ServiceGroup: cancelling its task ends run()'s wait for graceful shutdown), hands `body` the
/// node and its Socket.IO port, and always stops the node; a stop that hangs fails the test.
func withRunningNode(_ node: HeraldNode, _ body: (HeraldNode, Int) async throws -> Void) async throws {
    let running = Task { try await node.run() }
    do {
        let port = try #require(try await withTimeout(.seconds(10)) { try await node.listeningAddress() }.port)
        try await body(node, port)
    } catch {
        running.cancel()
        _ = try? await running.value
        throw error
    }
    running.cancel()
    try await withTimeout(.seconds(10)) { try await running.value }
}

/// Throws if `body` takes longer than `timeout`, so a broken server fails the test instead of hanging it.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimeoutError(timeout: timeout)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    var timeout: Duration
    var description: String { "timed out after \(timeout)" }
}

/// A deliberately dumb HTTP/1.1 client: one request with `Connection: close`, read until the server closes.
enum RawHTTP {
    struct Response {
        var raw: String
        var status: Int
        var headers: [(String, String)]
        var body: String

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    static func get(_ path: String, port: Int, timeout: Duration = .seconds(10)) async throws -> Response {
        let raw = try await withTimeout(timeout) {
            let group = MultiThreadedEventLoopGroup.singleton
            let channel = try await ClientBootstrap(group: group)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"))
                var received = ByteBuffer()
                for try await var chunk in inbound { received.writeBuffer(&chunk) }
                return String(buffer: received)
            }
        }
        return try parse(raw)
    }

    static func parse(_ raw: String) throws -> Response {
        guard let split = raw.range(of: "\r\n\r\n") else { throw ParseError(raw: raw) }
        let lines = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ParseError(raw: raw) }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(raw: raw, status: status, headers: headers, body: String(raw[split.upperBound...]))
    }

    struct ParseError: Error, CustomStringConvertible {
        var raw: String
        var description: String { "not an HTTP response: \(raw.debugDescription)" }
    }
}
