import NIOCore
import NIOHTTP1
import NIOWebSocket

public enum WebSocketServerUpgrade {
    /// An upgrader for `configureHTTPServerPipeline(withServerUpgrade:)`. `shouldUpgrade` returning nil refuses the
    /// upgrade (the request then reaches the normal HTTP handlers). After the 101, the HTTP handlers are gone and
    /// the pipeline holds only the `WebSocketConnection`; `upgraded` is called on the event loop so the caller can
    /// set the delegate before any message is delivered.
    ///
    /// It answers exactly like NIO's `NIOWebSocketServerUpgrader` (same checks, same errors, same response headers),
    /// but installs nothing but the connection: NIO's upgrader adds its frame encoder and decoder, which the
    /// connection does not use (it parses and builds frames itself), and the encoder cannot be removed again, so
    /// every connection kept it (about 200 bytes) and every handshake paid for adding and removing them.
    public static func makeUpgrader(
        configuration: WebSocketConfiguration,
        shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
        upgraded: @escaping @Sendable (WebSocketConnection, HTTPRequestHead) -> Void
    ) -> WebSocketServerUpgrader {
        WebSocketServerUpgrader(configuration: configuration, shouldUpgrade: shouldUpgrade, upgraded: upgraded)
    }

    /// Adds the connection for an upgraded channel. Exposed for tests.
    static func installConnection(
        on pipeline: ChannelPipeline.SynchronousOperations,
        configuration: WebSocketConfiguration
    ) throws -> WebSocketConnection {
        let connection = WebSocketConnection(configuration: configuration)
        try pipeline.addHandler(connection)
        return connection
    }

    /// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        var sha = WebSocketSHA1()
        sha.update(key.utf8)
        sha.update("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)
        return base64(sha.finish())
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(table[Int(value >> 18 & 63)])
            out.append(table[Int(value >> 12 & 63)])
            out.append(table[Int(value >> 6 & 63)])
            out.append(table[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let value = UInt32(bytes[index]) << 16
            out.append(table[Int(value >> 18 & 63)])
            out.append(table[Int(value >> 12 & 63)])
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(table[Int(value >> 18 & 63)])
            out.append(table[Int(value >> 12 & 63)])
            out.append(table[Int(value >> 6 & 63)])
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The server side of the RFC 6455 opening handshake, as an NIO HTTP upgrader that installs a `WebSocketConnection`.
public final class WebSocketServerUpgrader: HTTPServerProtocolUpgrader, Sendable {
    public let supportedProtocol = "websocket"
    /// Like NIO's upgrader: the key and version are checked in `buildUpgradeResponse`, not required up front.
    public let requiredUpgradeHeaders: [String] = []

    private let configuration: WebSocketConfiguration
    private let shouldUpgrade: @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>
    private let upgraded: @Sendable (WebSocketConnection, HTTPRequestHead) -> Void

    init(configuration: WebSocketConfiguration,
         shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
         upgraded: @escaping @Sendable (WebSocketConnection, HTTPRequestHead) -> Void) {
        self.configuration = configuration
        self.shouldUpgrade = shouldUpgrade
        self.upgraded = upgraded
    }

    public func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let keys = upgradeRequest.headers[canonicalForm: "Sec-WebSocket-Key"]
        let versions = upgradeRequest.headers[canonicalForm: "Sec-WebSocket-Version"]
        guard keys.count == 1, versions.count == 1 else {
            return channel.eventLoop.makeFailedFuture(NIOWebSocketUpgradeError.invalidUpgradeHeader)
        }
        guard versions[0] == "13" else {
            return channel.eventLoop.makeFailedFuture(NIOWebSocketUpgradeError.invalidUpgradeHeader)
        }
        let key = String(keys[0])
        return shouldUpgrade(channel, upgradeRequest).flatMapThrowing { extraHeaders in
            guard var headers = extraHeaders else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
            headers.replaceOrAdd(name: "Upgrade", value: "websocket")
            headers.add(name: "Sec-WebSocket-Accept", value: WebSocketServerUpgrade.acceptValue(forKey: key))
            headers.replaceOrAdd(name: "Connection", value: "upgrade")
            return headers
        }
    }

    public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let configuration = self.configuration
        let upgraded = self.upgraded
        return context.eventLoop.makeCompletedFuture {
            let connection = try WebSocketServerUpgrade.installConnection(
                on: context.pipeline.syncOperations, configuration: configuration)
            upgraded(connection, upgradeRequest)
        }
    }
}

/// SHA-1 for the opening handshake's accept value only (RFC 3174); not for anything that needs a secure hash.
struct WebSocketSHA1 {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    private var block: [UInt8] = []
    private var length: UInt64 = 0

    init() { block.reserveCapacity(64) }

    mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            block.append(byte)
            length &+= 1
            if block.count == 64 { compress() }
        }
    }

    mutating func finish() -> [UInt8] {
        let bits = length &* 8
        block.append(0x80)
        if block.count > 56 {
            while block.count < 64 { block.append(0) }
            compress()
        }
        while block.count < 56 { block.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { block.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        compress()
        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for word in [state.0, state.1, state.2, state.3, state.4] {
            for shift in stride(from: 24, through: 0, by: -8) { digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return digest
    }

    private mutating func compress() {
        var w = [UInt32](repeating: 0, count: 80)
        for i in 0..<16 {
            w[i] = UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16 | UInt32(block[4 * i + 2]) << 8 | UInt32(block[4 * i + 3])
        }
        for i in 16..<80 {
            let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w[i] = x << 1 | x >> 31
        }
        var (a, b, c, d, e) = state
        for i in 0..<80 {
            let f: UInt32, k: UInt32
            switch i {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
            e = d
            d = c
            c = b << 30 | b >> 2
            b = a
            a = temp
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
        block.removeAll(keepingCapacity: true)
    }
}
