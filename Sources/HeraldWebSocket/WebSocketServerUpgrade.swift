import NIOCore
import NIOHTTP1
import NIOWebSocket
internal import Crypto
internal import ExtrasBase64

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
        var sha = Insecure.SHA1()
        sha.update(data: Array(key.utf8))
        sha.update(data: acceptGUID)
        return sha.finalize().withUnsafeBytes { Base64.encodeToString(bytes: $0) }
    }

    private static let acceptGUID = Array("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)
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
