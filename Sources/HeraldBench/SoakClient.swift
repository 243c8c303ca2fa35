import NIOCore
import NIOPosix
import HeraldWebSocket

/// How one soak cycle reaches the server and how it leaves.
public enum SoakMode: String, Codable, Sendable, CaseIterable {
    /// Websocket from the start; leaves with a Socket.IO DISCONNECT and a websocket close.
    case websocket
    /// Long-polling only; leaves with DISCONNECT and an Engine.IO close packet.
    case polling
    /// Polling handshake and CONNECT, then the websocket probe and upgrade, the echo over the websocket.
    case upgrade
    /// Websocket, then an abrupt TCP reset (SO_LINGER 0) instead of any goodbye.
    case reset
    /// Websocket, then stops answering pings and waits for the server to time it out and close.
    case pingTimeout = "ping-timeout"
}

struct SoakError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One TCP connection of a soak cycle, read sequentially: HTTP responses (Content-Length bodies) and server
/// websocket frames off one receive buffer. Owned by the one task running its cycle (never shared).
final class SoakConnection {
    private var inbound: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    let channel: any Channel
    private var buffer = ByteBuffer()
    private var random: UInt32

    /// Hands each read to the stream; its end is the connection's.
    private final class Reader: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
        init(_ continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { continuation.finish() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            continuation.finish(throwing: error)
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, stream: AsyncThrowingStream<ByteBuffer, any Error>, seed: UInt32) {
        self.channel = channel
        inbound = stream.makeAsyncIterator()
        random = seed | 1
    }

    static func open(host: String, port: Int, group: any EventLoopGroup, seed: UInt32) async throws -> SoakConnection {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Reader(continuation)) }
            }
            .connect(host: host, port: port).get()
        return SoakConnection(channel: channel, stream: stream, seed: seed)
    }

    private func fill() async throws {
        guard var more = try await inbound.next() else { throw SoakError("connection closed by the server") }
        buffer.writeBuffer(&more)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    // MARK: HTTP

    /// `GET`/`POST` on a keep-alive connection; returns the status and body.
    func request(_ method: String, _ uri: String, host: String, body: String? = nil, headers: String = "") async throws -> (status: Int, body: String) {
        var head = "\(method) \(uri) HTTP/1.1\r\nHost: \(host)\r\n" + headers
        if let body { head += "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: \(body.utf8.count)\r\n" }
        try await send(head + "\r\n" + (body ?? ""))
        return try await response()
    }

    func response() async throws -> (status: Int, body: String) {
        while true {
            if let headLength = BenchWire.endOfHead(buffer) {
                let end = buffer.readerIndex + headLength   // endOfHead counts from the reader index
                let head = buffer.getString(at: buffer.readerIndex, length: end - buffer.readerIndex) ?? ""
                let status = Int(head.dropFirst(9).prefix(3)) ?? 0
                var length = 0
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                while buffer.readableBytes < end - buffer.readerIndex + length { try await fill() }
                buffer.moveReaderIndex(to: end)
                let body = buffer.readString(length: length) ?? ""
                return (status, body)
            }
            try await fill()
        }
    }

    // MARK: Websocket

    /// The upgrade request and the 101; `sid` upgrades an existing polling session.
    func upgrade(path: String, host: String, sid: String? = nil) async throws {
        try await send(
            "GET \(path)?EIO=4&transport=websocket\(sid.map { "&sid=\($0)" } ?? "") HTTP/1.1\r\nHost: \(host)\r\n" +
            "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        while BenchWire.endOfHead(buffer) == nil { try await fill() }
        guard BenchWire.isSwitchingProtocols(buffer) else {
            throw SoakError("upgrade refused: \(buffer.getString(at: buffer.readerIndex + 9, length: 3) ?? "?")")
        }
        buffer.moveReaderIndex(forwardBy: BenchWire.endOfHead(buffer)!)
    }

    /// The next server frame: text payloads as a string; a close frame as nil.
    func frame() async throws -> String? {
        while true {
            if let frame = BenchWire.readFrame(&buffer) {
                guard frame.valid else { throw SoakError("masked or fragmented server frame") }
                switch frame.opcode {
                case 0x1: return frame.payload.getString(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? ""
                case 0x8: return nil
                default: continue
                }
            }
            try await fill()
        }
    }

    /// Text frames until one starts with `prefix`, answering Engine.IO pings on the way (unless `answerPings` is off).
    func frame(startingWith prefix: String, answerPings: Bool = true) async throws -> String {
        while true {
            guard let text = try await frame() else { throw SoakError("server closed the websocket waiting for \(prefix)") }
            if text.hasPrefix(prefix) { return text }
            if text == "2" && answerPings { try await sendFrame("3") }
        }
    }

    func sendFrame(_ text: String, opcode: UInt8 = 0x1) async throws {
        random ^= random << 13; random ^= random >> 17; random ^= random << 5
        var frame = ByteBuffer()
        var text = text
        text.withUTF8 { WebSocketFrameBuilder.writeMaskedFrame(opcode: opcode, payload: UnsafeRawBufferPointer($0), maskKey: random, into: &frame) }
        try await channel.writeAndFlush(frame)
    }

    /// A websocket close frame with status 1000.
    func sendClose() async throws {
        random ^= random << 13; random ^= random >> 17; random ^= random << 5
        var frame = ByteBuffer()
        let code: [UInt8] = [0x03, 0xE8]
        code.withUnsafeBytes { WebSocketFrameBuilder.writeMaskedFrame(opcode: 0x8, payload: $0, maskKey: random, into: &frame) }
        try await channel.writeAndFlush(frame)
    }

    /// Waits until the server closes the connection (a websocket close frame counts as closing).
    func awaitClose() async throws {
        while true {
            guard let more = try await inbound.next() else { return }
            var bytes = more
            buffer.writeBuffer(&bytes)
            while let frame = BenchWire.readFrame(&buffer) { if frame.opcode == 0x8 { return } }
        }
    }

    /// Closes with an RST: SO_LINGER {on, 0}.
    func reset() async {
        let channel = self.channel
        try? await channel.eventLoop.flatSubmit {
            guard let socket = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededVoidFuture() }
            return socket.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }.get()
        try? await channel.close()
    }

    func close() async {
        try? await channel.close()
    }
}

/// The Engine.IO open packet's `sid`.
func soakSessionID(in open: String) -> String? {
    guard let start = open.range(of: "\"sid\":\"") else { return nil }
    let rest = open[start.upperBound...]
    guard let end = rest.firstIndex(of: "\"") else { return nil }
    return String(rest[..<end])
}

/// One-shot HTTP for scripts around the scenarios (readiness probes).
public enum BenchHTTP {
    /// The status of `GET path`, or nil when nothing answers.
    public static func status(_ endpoint: BenchEndpoint, path: String, group: any EventLoopGroup) async -> Int? {
        guard let http = try? await SoakConnection.open(host: endpoint.host, port: endpoint.port, group: group, seed: 1) else { return nil }
        let answer = try? await http.request("GET", path, host: endpoint.description)
        await http.close()
        return answer?.status
    }

    /// Whether something accepts TCP connections on `endpoint` (a server the bench started, before it is used).
    public static func accepts(_ endpoint: BenchEndpoint, group: any EventLoopGroup) async -> Bool {
        guard let channel = try? await ClientBootstrap(group: group).connect(host: endpoint.host, port: endpoint.port).get() else { return false }
        try? await channel.close()
        return true
    }
}
