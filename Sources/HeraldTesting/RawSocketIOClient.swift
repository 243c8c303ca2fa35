import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import Testing

/// One websocket message as the client received it.
public enum Frame: Sendable, Equatable, CustomStringConvertible {
    case text(String)
    case binary([UInt8])

    public var description: String {
        switch self {
        case .text(let text): "text(\(text))"
        case .binary(let bytes): "binary(\(bytes))"
        }
    }
}

public struct UnexpectedFrame: Error, CustomStringConvertible {
    public let description: String
}

/// A deliberately dumb Socket.IO client over a real websocket: it speaks raw Engine.IO/Socket.IO text so tests
/// can assert the exact wire strings the server writes (helpers in `SocketIOWireClient`).
public final class RawSocketIOClient: SocketIOWireClient {
    public let channel: any Channel
    /// Every message the server sent, Engine.IO pings included.
    public let frames: Mailbox<Frame>
    /// The Engine.IO open packet's `sid`.
    public let engineID: String
    private let autoPong: PingSwitch

    private init(channel: any Channel, frames: Mailbox<Frame>, engineID: String, autoPong: PingSwitch) {
        self.channel = channel
        self.frames = frames
        self.engineID = engineID
        self.autoPong = autoPong
    }

    /// Whether Engine.IO pings `2` are answered with `3` (on by default).
    public var answersPings: Bool {
        get { autoPong.on.withLock { $0 } }
        set { autoPong.on.withLock { $0 = newValue } }
    }

    /// Opens `GET <path>?EIO=4&transport=websocket` and reads the Engine.IO open packet.
    public static func open(
        port: Int, group: any EventLoopGroup, path: String = "/socket.io/", answersPings: Bool = true
    ) async throws -> RawSocketIOClient {
        let frames = Mailbox<Frame>("frame")
        let autoPong = PingSwitch(answersPings)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                ClientFrameHandler(frames: frames, autoPong: { autoPong.on.withLock { $0 } }))
                        }
                    }
                    // `.forwardBytes`: the open packet may arrive in the same read as the 101 response.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(
                        UpgradeRequestSender(uri: "\(path)?EIO=4&transport=websocket", port: port))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        // A refused upgrade never delivers the open packet: the bounded wait below fails then.
        channel.closeFuture.whenComplete { _ in frames.finish() }
        guard case .text(let open)? = try await frames.next(), open.hasPrefix("0"),
              let sid = open.jsonStringField("sid")
        else { throw UnexpectedFrame(description: "expected the Engine.IO open packet") }
        return RawSocketIOClient(channel: channel, frames: frames, engineID: sid, autoPong: autoPong)
    }

    // MARK: Sending

    public func send(_ text: String) {
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        write(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer))
    }

    public func send(binary bytes: [UInt8]) {
        write(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: channel.allocator.buffer(bytes: bytes)))
    }

    private func write(_ frame: WebSocketFrame) {
        channel.writeAndFlush(frame, promise: nil)
    }

    /// Closes the TCP connection abruptly (no websocket close), as a vanished client does.
    public func disconnectTransport() async {
        try? await channel.close()
    }
}

extension String {
    /// The string value of `"key":"…"` in a flat JSON text, enough for sids.
    public func jsonStringField(_ key: String) -> String? {
        guard let range = range(of: "\"\(key)\":\"") else { return nil }
        let rest = self[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}

/// Whether the client answers Engine.IO pings; shared with its channel handler.
public final class PingSwitch: Sendable {
    public let on: Mutex<Bool>
    public init(_ on: Bool) { self.on = Mutex(on) }
}

/// Writes the upgrade request when the connection is up; the upgrade handler adds the websocket headers.
private final class UpgradeRequestSender: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    public let uri: String
    public let port: Int

    public init(uri: String, port: Int) {
        self.uri = uri
        self.port = port
    }

    public func channelActive(context: ChannelHandlerContext) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }
}

/// Turns websocket frames into `Frame`s, answers Engine.IO and websocket pings, and handles the close handshake.
private final class ClientFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    public let frames: Mailbox<Frame>
    public let autoPong: @Sendable () -> Bool
    private var fragments: ByteBuffer?
    private var fragmentOpcode: WebSocketOpcode = .text

    public init(frames: Mailbox<Frame>, autoPong: @escaping @Sendable () -> Bool) {
        self.frames = frames
        self.autoPong = autoPong
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            if frame.fin {
                deliver(frame.unmaskedData, opcode: frame.opcode, context: context)
            } else {
                fragments = frame.unmaskedData
                fragmentOpcode = frame.opcode
            }
        case .continuation:
            var data = frame.unmaskedData
            fragments?.writeBuffer(&data)
            if frame.fin, let whole = fragments {
                fragments = nil
                deliver(whole, opcode: fragmentOpcode, context: context)
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            // Echo the close and drop the connection; the mailbox finishes on channel close.
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            context.close(promise: nil)
        default:
            break
        }
    }

    private func deliver(_ data: ByteBuffer, opcode: WebSocketOpcode, context: ChannelHandlerContext) {
        if opcode == .text {
            let text = String(buffer: data)
            if text == "2", autoPong() {
                var pong = context.channel.allocator.buffer(capacity: 1)
                pong.writeString("3")
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: pong)),
                                      promise: nil)
            }
            frames.send(.text(text))
        } else {
            frames.send(.binary(Array(data.readableBytesView)))
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        frames.finish()
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
