import NIOCore
import NIOEmbedded

/// A scripted websocket client over an `EmbeddedHTTPClient` connection: it performs the HTTP upgrade, then
/// sends masked frames and reads the server's frames.
public final class EmbeddedWebSocketClient {
    /// The connection underneath (its `channel` is the server side).
    public let connection: EmbeddedHTTPClient
    /// The server's 101 response.
    public let upgradeResponse: HTTPTestResponse
    private let maskKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    /// RFC 6455's sample key, so the expected accept value is the RFC's too.
    public static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    public static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    init(connection: EmbeddedHTTPClient, upgradeResponse: HTTPTestResponse) {
        self.connection = connection
        self.upgradeResponse = upgradeResponse
    }

    /// Sends the upgrade request on `connection`; throws `HTTPTestError.upgradeRefused` unless the answer is a
    /// 101 with the right `Sec-WebSocket-Accept`.
    public static func upgrade(_ connection: EmbeddedHTTPClient, uri: String, headers: [(String, String)] = []) throws -> EmbeddedWebSocketClient {
        let upgradeHeaders = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", sampleKey), ("Sec-WebSocket-Version", "13"),
        ] + headers
        let response = try connection.request(method: "GET", uri: uri, headers: upgradeHeaders)
        guard let response, response.status == 101, response.header("sec-websocket-accept") == sampleAccept
        else { throw HTTPTestError.upgradeRefused(response) }
        return EmbeddedWebSocketClient(connection: connection, upgradeResponse: response)
    }

    /// Sends one frame, masked, and runs the loop.
    public func send(_ frame: WebSocketTestFrame) throws {
        try connection.send(frame.encodeMasked(maskKey: maskKey))
    }

    public func send(text: String) throws { try send(.text(text)) }
    public func send(binary: [UInt8]) throws { try send(.binary(binary)) }

    /// Sends a close frame (with a code, or empty).
    public func sendClose(code: UInt16? = 1000) throws {
        var payload = ByteBuffer()
        if let code { payload.writeInteger(code) }
        try send(WebSocketTestFrame(opcode: .close, payload: payload))
    }

    /// The next frame the server has written, or nil if there is none yet.
    public func readFrame() throws -> WebSocketTestFrame? {
        connection.loop.run()
        try connection.drainOutbound()
        return try WebSocketTestFrame.parseServerFrame(&connection.received)
    }

    /// Every frame the server has written so far.
    public func readFrames() throws -> [WebSocketTestFrame] {
        var frames: [WebSocketTestFrame] = []
        while let frame = try readFrame() { frames.append(frame) }
        return frames
    }

    /// The payloads of every text frame written so far (other frames are skipped).
    public func readTexts() throws -> [String] {
        try readFrames().filter { $0.opcode == .text }.map(\.text)
    }

    /// Whether the server still has the connection open.
    public var isActive: Bool { connection.isActive }

    /// See `EmbeddedHTTPClient.setServerWritable(_:)`.
    public func setServerWritable(_ writable: Bool) { connection.setServerWritable(writable) }

    /// The client goes away without a close handshake.
    public func disconnect() { connection.disconnect() }
}
