import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import HeraldWebSocket

@Suite struct WebSocketUpgradeFastPathTests {
    static let request = WebSocketServerTests.handshake

    /// A fast path that records which way each connection went; the fallback pipeline is a byte recorder.
    final class Fixture {
        let channel = EmbeddedChannel()
        var upgraded: [HTTPRequestHead] = []
        var fellBack = 0
        let fallbackBytes = ByteRecorder()

        init(accept: Bool = true) throws {
            let handler = WebSocketUpgradeFastPath(
                configuration: WebSocketConfiguration(),
                shouldUpgrade: { _, _ in accept ? .upgrade(nil) : .httpPipeline },
                upgraded: { [unowned self] connection, head, _ in
                    upgraded.append(head)
                    connection.delegate = RecordingDelegate(echo: true)
                },
                installHTTPPipeline: { [unowned self] pipeline in
                    fellBack += 1
                    try pipeline.addHandler(fallbackBytes)
                })
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func output() throws -> [UInt8] {
            var output: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += buffer.readableBytesView }
            return output
        }
    }

    final class ByteRecorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var bytes: [UInt8] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { bytes += unwrapInboundIn(data).readableBytesView }
    }

    @Test func answersLikeNIOsUpgraderAndKeepsOnlyTheConnection() throws {
        let fixture = try Fixture()
        var bytes = ByteBuffer(string: Self.request)
        bytes.writeImmutableBuffer(clientFrame(0x1, Array("Hi".utf8)))
        try fixture.channel.writeInbound(bytes)
        fixture.channel.embeddedEventLoop.run()
        let expected = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: upgrade\r\n\r\n"
        #expect(try fixture.output() == Array(expected.utf8) + [0x81, 0x02] + Array("Hi".utf8))
        #expect(fixture.upgraded.map(\.uri) == ["/chat"])
        #expect(fixture.upgraded.first?.headers.first(name: "sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(fixture.fellBack == 0)
        #expect(throws: (any Error).self) { try fixture.channel.pipeline.syncOperations.handler(type: WebSocketUpgradeFastPath.self) }
        _ = try fixture.channel.pipeline.syncOperations.handler(type: WebSocketConnection.self)
    }

    @Test func waitsForAHeadSplitAcrossReads() throws {
        let fixture = try Fixture()
        for byte in Self.request.utf8 { try fixture.channel.writeInbound(ByteBuffer(bytes: [byte])) }
        fixture.channel.embeddedEventLoop.run()
        #expect(fixture.upgraded.count == 1)
        #expect(fixture.fellBack == 0)
    }

    @Test(arguments: [
        "POST /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\n folded\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\nHost: x\n\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        // Found by the upgrade fuzz target: a target that is not origin-form, which NIO's parser refuses.
        "GET k/s.etcoio/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ])
    func leavesEverythingElseToTheHTTPPipeline(request: String) throws {
        let fixture = try Fixture()
        try fixture.channel.writeInbound(ByteBuffer(string: request))
        #expect(fixture.upgraded.isEmpty)
        #expect(fixture.fellBack == 1)
        #expect(fixture.fallbackBytes.bytes == Array(request.utf8))
        #expect(try fixture.output().isEmpty)
    }

    /// Header names in any case, lists with spaces, tabs and empty elements: taken like NIO's upgrader takes them.
    @Test(arguments: [
        "GET /chat HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: h2c,\t websocket \r\nConnection: ,upgrade,\r\nSec-WebSocket-Key:  dGhlIHNhbXBsZSBub25jZQ== \r\nSec-WebSocket-Version: 13 ,\r\n\r\n",
    ])
    func acceptsCaseAndListVariants(request: String) throws {
        let fixture = try Fixture()
        try fixture.channel.writeInbound(ByteBuffer(string: request))
        #expect(fixture.upgraded.count == 1)
        #expect(fixture.fellBack == 0)
    }

    @Test(arguments: [
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13, 8\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: a, b\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websockets\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
    ])
    func leavesListAndBodyVariantsToTheHTTPPipeline(request: String) throws {
        let fixture = try Fixture()
        try fixture.channel.writeInbound(ByteBuffer(string: request))
        #expect(fixture.upgraded.isEmpty)
        #expect(fixture.fellBack == 1)
    }

    @Test func refusedUpgradesGoToTheHTTPPipeline() throws {
        let fixture = try Fixture(accept: false)
        try fixture.channel.writeInbound(ByteBuffer(string: Self.request))
        #expect(fixture.upgraded.isEmpty)
        #expect(fixture.fallbackBytes.bytes == Array(Self.request.utf8))
    }

    @Test func anOversizedHeadGoesToTheHTTPPipeline() throws {
        let fixture = try Fixture()
        let request = "GET /chat HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 5000)
        try fixture.channel.writeInbound(ByteBuffer(string: request))
        #expect(fixture.fellBack == 1)
        #expect(fixture.fallbackBytes.bytes == Array(request.utf8))
    }

    @Test func acceptValueMatchesRFC6455() {
        #expect(WebSocketServerUpgrade.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        // A key longer than one SHA-1 block (64 bytes), checked against `printf %s KEY+GUID | sha1sum | xxd -r -p | base64`.
        #expect(WebSocketServerUpgrade.acceptValue(forKey: String(repeating: "a", count: 100)) == "+taVhj8zzaJPYE6HHo1ugamK/Ug=")
    }
}
