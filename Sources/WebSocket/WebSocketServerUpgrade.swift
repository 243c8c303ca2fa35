import NIOCore
import NIOHTTP1
import NIOWebSocket

public enum WebSocketServerUpgrade {
    /// An NIO upgrader for `configureHTTPServerPipeline(withServerUpgrade:)`. `shouldUpgrade` returning nil refuses the
    /// upgrade (the request then reaches the normal HTTP handlers). After the 101, the HTTP handlers are gone; the
    /// pipeline holds the frame decoder and a WebSocketConnection, and `upgraded` is called on the event loop so
    /// the caller can set the delegate before any message is delivered.
    ///
    /// Layout after the upgrade: `[connection, (inert NIO encoder)]`. The connection parses frames itself (so it
    /// can reject a frame by its header and validate text while a frame is still arriving), so NIO's decoder is
    /// removed. NIO's `WebSocketFrameEncoder` cannot be removed (it is not a `RemovableChannelHandler`) and would
    /// reject our pre-framed `ByteBuffer`s, so the connection sits *in front of* it: its writes go straight to the
    /// socket. Write only through the connection: a `ByteBuffer` written via `channel.write` would hit the encoder.
    public static func makeUpgrader(
        configuration: WebSocketConfiguration,
        shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
        upgraded: @escaping @Sendable (WebSocketConnection, HTTPRequestHead) -> Void
    ) -> NIOWebSocketServerUpgrader {
        NIOWebSocketServerUpgrader(
            // Only its decoder uses this, and we replace that; NIO traps above UInt32.max.
            maxFrameSize: min(max(configuration.maxFrameSize, 0), Int(UInt32.max)),
            automaticErrorHandling: false,
            shouldUpgrade: shouldUpgrade,
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let connection = try installConnection(on: channel.pipeline.syncOperations, configuration: configuration)
                    upgraded(connection, head)
                }
            }
        )
    }

    /// Rearranges a pipeline that NIO's upgrader just set up (see `makeUpgrader`). Exposed for tests.
    static func installConnection(
        on pipeline: ChannelPipeline.SynchronousOperations,
        configuration: WebSocketConfiguration
    ) throws -> WebSocketConnection {
        let encoder = try pipeline.handler(type: WebSocketFrameEncoder.self)
        let nioDecoder = try pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        let connection = WebSocketConnection(configuration: configuration)
        try pipeline.addHandler(connection, position: .before(encoder))
        pipeline.removeHandler(context: nioDecoder, promise: nil)
        return connection
    }
}
