// TEMPORARY stub of the WebSocket API (replaced by the real layer from branch ws).
import NIOCore
import NIOHTTP1
import NIOWebSocket
@_exported import struct NIOWebSocket.WebSocketOpcode

public struct WebSocketConfiguration: Sendable {
    public var maxFrameSize: Int
    public var maxMessageSize: Int
    public var closeTimeout: Duration
    public init(maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 1 << 20, closeTimeout: Duration = .seconds(5)) {
        self.maxFrameSize = maxFrameSize; self.maxMessageSize = maxMessageSize; self.closeTimeout = closeTimeout
    }
}
public enum WebSocketMessage: Sendable, Equatable { case text(ByteBuffer), binary(ByteBuffer) }
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let normalClosure = WebSocketCloseCode(rawValue: 1000)
    public static let goingAway = WebSocketCloseCode(rawValue: 1001)
    public static let policyViolation = WebSocketCloseCode(rawValue: 1008)
    public static let messageTooBig = WebSocketCloseCode(rawValue: 1009)
}
public protocol WebSocketConnectionDelegate: AnyObject {
    func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage)
    func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String)
    func webSocket(_ connection: WebSocketConnection, writabilityChanged isWritable: Bool)
}
public final class WebSocketConnection: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = WebSocketFrame
    public init(configuration: WebSocketConfiguration) {}
    public var delegate: (any WebSocketConnectionDelegate)?
    public var eventLoop: any EventLoop { fatalError() }
    public var channel: (any Channel)? { nil }
    public var isWritable: Bool { true }
    public var remoteAddress: SocketAddress? { nil }
    public func send(_ message: WebSocketMessage) {}
    public func write(preframed: ByteBuffer) {}
    public func flush() {}
    public func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") {}
}
public enum WebSocketFrameBuilder {
    public static let maxServerHeaderSize = 10
    public static func reserveHeader(in buffer: inout ByteBuffer) -> Int { buffer.moveWriterIndex(forwardBy: 10); return buffer.writerIndex }
    public static func finishFrame(in buffer: inout ByteBuffer, opcode: WebSocketOpcode, payloadStart: Int) {}
    public static func makeFrame(opcode: WebSocketOpcode, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer { payload }
}
public enum WebSocketServerUpgrade {
    public static func makeUpgrader(configuration: WebSocketConfiguration,
        shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
        upgraded: @escaping @Sendable (WebSocketConnection, HTTPRequestHead) -> Void) -> NIOWebSocketServerUpgrader {
        NIOWebSocketServerUpgrader(shouldUpgrade: { ch, _ in ch.eventLoop.makeSucceededFuture(nil) }, upgradePipelineHandler: { ch, _ in ch.eventLoop.makeSucceededVoidFuture() })
    }
}
