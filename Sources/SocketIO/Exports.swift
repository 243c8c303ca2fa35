// The modules this one's public API shows (`JSONValue`, `SocketIOEvent` and the packets; `EngineIOConfiguration`,
// `EngineIOServer` and the HTTP route types), so `import SocketIO` is enough for a user of the `SocketIO` product.
@_exported import EngineIO
@_exported import SocketIOProtocol
