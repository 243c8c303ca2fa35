// Re-export the few foreign types that appear in this module's public API, so users need
// only `import HeraldWebSocket` (plus NIOCore for ByteBuffer/EventLoop).
@_exported import struct NIOWebSocket.WebSocketOpcode
@_exported import class NIOWebSocket.NIOWebSocketServerUpgrader
@_exported import struct NIOHTTP1.HTTPRequestHead
@_exported import struct NIOHTTP1.HTTPHeaders
