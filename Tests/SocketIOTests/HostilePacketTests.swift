import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

/// Binary packets from a hostile client: one packet's attachments are bounded together by `maxPayload`, and a
/// packet whose attachments never come is dropped with the connection ("parse error"). The attacks run over
/// real sockets against a running server; the timeout's exact deadline is checked on an embedded loop.
@Suite struct HostilePacketTests {
    static let placeholders = (0..<3).map { #"{"_placeholder":true,"num":\#($0)}"# }.joined(separator: ",")

    static var configuration: SocketIOConfiguration {
        var configuration = SocketIOConfiguration(attachmentTimeout: .milliseconds(200))
        configuration.engine.maxPayload = 1000
        return configuration
    }

    static func setUp(_ reasons: Mailbox<DisconnectReason>) -> (SocketIOServer) -> Void {
        { io in
            io.onConnection { socket in
                socket.onDisconnect { reasons.send($0) }
                socket.on("up") { event in event.ack(.int(event.args.count)) }
            }
        }
    }

    static func withHostileServer(_ body: (TestServer, Mailbox<DisconnectReason>) async throws -> Void) async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reasons")
        try await withServer(configuration: configuration, setUp: setUp(reasons)) { server in try await body(server, reasons) }
    }

    /// Each attachment fits in `maxPayload`; together they do not: the packet is refused at the one that overflows.
    @Test func attachmentsBeyondMaxPayloadTogetherCloseTheConnection() async throws {
        try await Self.withHostileServer { server, reasons in
            let attacker = try await server.client()
            _ = try await attacker.connect()
            attacker.send("453-1[\"up\",\(Self.placeholders)]")
            attacker.send(binary: [UInt8](repeating: 1, count: 600))
            attacker.send(binary: [UInt8](repeating: 2, count: 600))
            try await attacker.expectClosed()
            #expect(try await reasons.next() == .parseError)
            try await Self.expectServes(try await server.client())
        }
    }

    @Test func attachmentsThatNeverCompleteCloseTheConnectionAfterTheTimeout() async throws {
        try await Self.withHostileServer { server, reasons in
            let attacker = try await server.client()
            _ = try await attacker.connect()
            attacker.send("453-1[\"up\",\(Self.placeholders)]")
            attacker.send(binary: [1])
            attacker.send(binary: [2])
            // The third never comes: the 200 ms attachment timeout ends the connection.
            try await attacker.expectClosed(timeout: .seconds(5))
            #expect(try await reasons.next() == .parseError)
            try await Self.expectServes(try await server.client())
        }
    }

    /// The attachment timeout runs from the packet's first line, not from its last attachment, and ends the
    /// connection with nothing sent.
    @Test func theAttachmentTimeoutEndsAnIncompletePacketAtItsDeadline() async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reasons")
        try await withEmbeddedServer(configuration: Self.configuration, setUp: Self.setUp(reasons)) { server in
            let attacker = try await server.client()
            _ = try await attacker.connect()
            attacker.send("453-1[\"up\",\(Self.placeholders)]")
            await server.advanceTime(by: .milliseconds(150))
            attacker.send(binary: [1])
            attacker.send(binary: [2])
            await server.advanceTime(by: .milliseconds(49))
            await attacker.expectNothingSent()
            #expect(reasons.isEmpty)
            await server.advanceTime(by: .milliseconds(1))
            #expect(try await attacker.expectClosed() == [])
            #expect(try await reasons.next() == .parseError)
            try await Self.expectServes(try await server.client())
        }
    }

    @Test func aCompletePacketWithinTheBoundsIsDelivered() async throws {
        try await withEmbeddedServer(configuration: Self.configuration, setUp: Self.setUp(Mailbox("reasons"))) { server in
            try await Self.expectServes(try await server.client())
        }
    }

    /// The client connects and a three-attachment packet within the bounds, arriving in time, is delivered.
    static func expectServes(_ fresh: some SocketIOWireClient) async throws {
        _ = try await fresh.connect()
        fresh.send("453-7[\"up\",\(placeholders)]")
        for byte: UInt8 in 1...3 { fresh.send(binary: [UInt8](repeating: byte, count: 300)) }
        #expect(try await fresh.nextText() == "437[3]")
    }
}
