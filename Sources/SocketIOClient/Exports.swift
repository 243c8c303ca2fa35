// The types this module's public API shows: `JSONValue` and `SocketIOEvent` (SocketIOProtocol), and the
// websocket options and extra headers of `SocketIOClientConfiguration`, so `import SocketIOClient` is enough.
@_exported import SocketIOProtocol
@_exported import struct HeraldWebSocket.WebSocketConfiguration
@_exported import struct NIOHTTP1.HTTPHeaders
