import NIOCore
import NIOHTTP1

/// The first handler of a new server connection: answers a plain websocket upgrade request itself and installs
/// only a `WebSocketConnection`; anything else gets the full HTTP pipeline, which then sees the same bytes.
///
/// NIO's HTTP server pipeline costs six handlers per connection that an upgrade then removes one by one (each
/// removal a promise and a future), an HTTP parser, and an upgrade handler; for a client that opens with the
/// upgrade (every websocket-only Socket.IO client) that is most of the handshake's CPU. This handler only takes
/// requests it can judge completely and strictly: the first request of the connection, complete in the bytes
/// received so far, `GET /<path> HTTP/1.1`, header lines of visible ASCII, no body, `Connection: upgrade`,
/// `Upgrade: websocket`, exactly one `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`, and `shouldUpgrade`
/// agreeing (or refusing it with a complete HTTP response of its own, e.g. a 503 when the server is busy). Its 101 response is byte for byte the one NIO's upgrader and encoder send. Everything else, errors
/// included, goes to the HTTP pipeline, which answers as before.
///
/// Not generic over what `shouldUpgrade` hands to `upgraded`: NIO calls the handler unspecialized, and each nested
/// type of a generic class would then be looked up at run time (`swift_getGenericMetadata`) on every request.
public final class WebSocketUpgradeFastPath: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Requests whose head is not complete within this many bytes go to the HTTP pipeline.
    static let maxHeadSize = 4096

    private let configuration: WebSocketConfiguration
    private let shouldUpgrade: (any Channel, HTTPRequestHead) -> Decision
    private let upgraded: (WebSocketConnection, HTTPRequestHead, AnyObject?) -> Void
    private let installHTTPPipeline: (ChannelPipeline.SynchronousOperations) throws -> Void
    private var buffered: ByteBuffer?

    /// What to do with a request the fast path could take.
    public enum Decision {
        /// Answer 101 and install the `WebSocketConnection`, then call `upgraded` with this: what the check found
        /// (say, the session a probe joins), so that `upgraded` need not look it up again.
        case upgrade(AnyObject?)
        /// Hand the request to the HTTP pipeline (which refuses it with the right error).
        case httpPipeline
        /// Write these bytes (a complete HTTP response) and close the connection.
        case refuse(ByteBuffer)
    }

    /// - Parameters:
    ///   - shouldUpgrade: what to do with a websocket upgrade request.
    ///   - upgraded: called on the event loop once the connection is in the pipeline, before any frame is read.
    ///   - installHTTPPipeline: appends the HTTP handlers; this handler then passes them the bytes and leaves.
    public init(configuration: WebSocketConfiguration,
                shouldUpgrade: @escaping (any Channel, HTTPRequestHead) -> Decision,
                upgraded: @escaping (WebSocketConnection, HTTPRequestHead, AnyObject?) -> Void,
                installHTTPPipeline: @escaping (ChannelPipeline.SynchronousOperations) throws -> Void) {
        self.configuration = configuration
        self.shouldUpgrade = shouldUpgrade
        self.upgraded = upgraded
        self.installHTTPPipeline = installHTTPPipeline
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var pending = buffered {
            buffered = nil
            pending.writeBuffer(&incoming)
            incoming = pending
        }
        switch Self.parse(incoming) {
        case .needMore where incoming.readableBytes < Self.maxHeadSize:
            buffered = incoming
        case .request(let head, let headLength):
            switch shouldUpgrade(context.channel, head) {
            case .upgrade(let accepted):
                upgrade(context: context, head: head, accepted: accepted, bytes: incoming, headLength: headLength)
            case .httpPipeline:
                fallBack(context: context, bytes: incoming)
            case .refuse(let response):
                context.writeAndFlush(NIOAny(response), promise: nil)
                context.close(promise: nil)
            }
        default:
            fallBack(context: context, bytes: incoming)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if let bytes = buffered {
            buffered = nil
            fallBack(context: context, bytes: bytes)
        }
        context.fireChannelInactive()
    }

    private func fallBack(context: ChannelHandlerContext, bytes: ByteBuffer) {
        let pipeline = context.pipeline.syncOperations
        do {
            try installHTTPPipeline(pipeline)
        } catch {
            context.fireErrorCaught(error)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        pipeline.removeHandler(context: context, promise: nil)
    }

    private func upgrade(context: ChannelHandlerContext, head: HTTPRequestHead, accepted: AnyObject?, bytes: ByteBuffer, headLength: Int) {
        guard let key = head.headers.first(name: "sec-websocket-key") else { return fallBack(context: context, bytes: bytes) }
        let accept = WebSocketServerUpgrade.acceptValue(forKey: key)
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: \(accept)\r\nConnection: upgrade\r\n\r\n"
        var buffer = context.channel.allocator.buffer(capacity: response.utf8.count)
        buffer.writeString(response)
        context.write(NIOAny(buffer), promise: nil)
        let pipeline = context.pipeline.syncOperations
        let connection = WebSocketConnection(configuration: configuration)
        do {
            try pipeline.addHandler(connection)
        } catch {
            context.fireErrorCaught(error)
            return
        }
        pipeline.removeHandler(context: context, promise: nil)
        upgraded(connection, head, accepted)
        // One flush for the 101 and whatever `upgraded` sent (an Engine.IO open packet): one write.
        context.channel.flush()
        var rest = bytes
        rest.moveReaderIndex(forwardBy: headLength)
        if rest.readableBytes > 0 { pipeline.fireChannelRead(NIOAny(rest)) }
    }

    enum ParseResult {
        case needMore
        case request(HTTPRequestHead, headLength: Int)
        /// Anything the fast path does not take: the HTTP pipeline decides.
        case other
    }

    /// Parses a complete, strictly formed websocket upgrade request head; see the type's documentation.
    static func parse(_ buffer: ByteBuffer) -> ParseResult {
        buffer.withUnsafeReadableBytes { bytes -> ParseResult in
            let count = bytes.count
            let prefix: StaticString = "GET "
            guard count >= 4 else {
                return bytes.elementsEqual(UnsafeRawBufferPointer(start: prefix.utf8Start, count: count)) ? .needMore : .other
            }
            guard bytes[0] == 0x47, bytes[1] == 0x45, bytes[2] == 0x54, bytes[3] == 0x20 else { return .other }
            // Find the end of the head.
            var end = -1
            var index = 3
            while index < count {
                if bytes[index] == 0x0A {
                    // A bare LF is not for us (the HTTP parser decides what it means).
                    guard bytes[index - 1] == 0x0D else { return .other }
                    if bytes[index - 2] == 0x0A && bytes[index - 3] == 0x0D {
                        end = index + 1
                        break
                    }
                }
                index += 1
            }
            guard end > 0 else { return .needMore }

            // Request line: GET <target> HTTP/1.1
            var position = 4
            let targetStart = position
            while position < end, bytes[position] > 0x20, bytes[position] < 0x7F { position += 1 }
            // Origin-form only (`/…`, what browsers send); other forms are NIO's parser's to judge or refuse.
            guard position > targetStart, bytes[targetStart] == UInt8(ascii: "/"), position + 11 <= end, bytes[position] == 0x20
            else { return .other }
            let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<position]), as: UTF8.self)
            let version: StaticString = " HTTP/1.1\r\n"
            guard UnsafeRawBufferPointer(rebasing: bytes[position..<(position + 11)])
                .elementsEqual(UnsafeRawBufferPointer(start: version.utf8Start, count: 11)) else { return .other }
            position += 11

            var headers: [(String, String)] = []
            headers.reserveCapacity(8)
            var upgradeWebSocket = false, connectionUpgrade = false, keys = 0, versions = 0, version13 = false
            while position < end - 2 {
                // name
                let nameStart = position
                while position < end, isTokenByte(bytes[position]) { position += 1 }
                guard position > nameStart, position < end, bytes[position] == 0x3A else { return .other }
                let nameEnd = position
                position += 1
                while position < end, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
                let valueStart = position
                while position < end, bytes[position] != 0x0D {
                    let byte = bytes[position]
                    guard (byte >= 0x20 && byte < 0x7F) || byte == 0x09 else { return .other }
                    position += 1
                }
                guard position + 1 < end, bytes[position + 1] == 0x0A else { return .other }
                var valueEnd = position
                while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                position += 2
                let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd])
                let valueBytes = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
                // Classified on the bytes: no lowercased copy of each name, no token arrays.
                switch HeaderName(nameBytes) {
                case .upgrade:
                    if anyToken(valueBytes, where: { equalsLowercased($0, "websocket") }) { upgradeWebSocket = true }
                case .connection:
                    if anyToken(valueBytes, where: { equalsLowercased($0, "upgrade") }) { connectionUpgrade = true }
                case .key:
                    _ = anyToken(valueBytes, where: { _ in keys += 1; return false })
                case .version:
                    var first = true
                    _ = anyToken(valueBytes, where: { token in
                        if first { version13 = token.count == 2 && token[0] == 0x31 && token[1] == 0x33 }
                        first = false
                        versions += 1
                        return false
                    })
                case .body:
                    return .other
                case .other:
                    break
                }
                let name = String(decoding: nameBytes, as: UTF8.self)
                let value = String(decoding: valueBytes, as: UTF8.self)
                headers.append((name, value))
            }
            guard position == end - 2, upgradeWebSocket, connectionUpgrade, keys == 1, versions == 1, version13 else {
                return .other
            }
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: HTTPHeaders(headers))
            return .request(head, headLength: end)
        }
    }

    /// The header names the fast path looks at, matched ASCII case-insensitively.
    enum HeaderName {
        case upgrade, connection, key, version, body, other

        init(_ name: UnsafeRawBufferPointer) {
            switch name.count {
            case 7 where equalsLowercased(name, "upgrade"): self = .upgrade
            case 10 where equalsLowercased(name, "connection"): self = .connection
            case 17 where equalsLowercased(name, "sec-websocket-key"): self = .key
            case 21 where equalsLowercased(name, "sec-websocket-version"): self = .version
            case 14 where equalsLowercased(name, "content-length"), 17 where equalsLowercased(name, "transfer-encoding"): self = .body
            default: self = .other
            }
        }
    }

    /// Whether `bytes`, ASCII-lowercased, equal `lowercase` (which holds only lowercase letters, digits and `-`).
    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// Calls `body` with each comma-separated element, trimmed of spaces and tabs, empty ones skipped (like
    /// NIO's `headers[canonicalForm:]`), until it returns true; returns whether it did.
    static func anyToken(_ value: UnsafeRawBufferPointer, where body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != 0x2C { end += 1 }
            var low = start, high = end
            while low < high, value[low] == 0x20 || value[low] == 0x09 { low += 1 }
            while high > low, value[high - 1] == 0x20 || value[high - 1] == 0x09 { high -= 1 }
            if high > low, body(UnsafeRawBufferPointer(rebasing: value[low..<high])) { return true }
            start = end + 1
        }
        return false
    }

    @inline(__always)
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        // RFC 9110 tchar.
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
