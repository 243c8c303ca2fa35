import NIOCore
import Testing
@testable import WebSocket

@Suite struct WebSocketFrameBuilderTests {
}
